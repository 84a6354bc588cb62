"""The console's words, zh-CN first and English beside (chosen by the ``tongxin_lang`` cookie)."""

from __future__ import annotations

__all__ = ["LANGS", "TEXT", "words"]

LANGS = ("zh-CN", "en")

#: key -> (zh-CN, en)
TEXT: dict[str, tuple[str, str]] = {
    "title": ("同心党建数据枢纽 · 管理台", "Tongxin hub · console"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "switch": ("English", "中文"),
    "bad-login": ("用户名或密码错误", "Wrong username or password"),
    "locked": (
        "连续登录失败次数过多，账号已锁定，请联系管理员重置密码",
        "Too many failed logins: the account is locked; ask an administrator to reset the password",
    ),
    "disabled": ("账号已停用", "This account is disabled"),
    "csrf": (
        "表单已过期，请重新提交",
        "The form expired; please submit it again",
    ),
    "dashboard": ("统计概览", "Dashboard"),
    "members": ("党员", "Members"),
    "change-password": ("修改密码", "Change password"),
    "old-password": ("当前密码", "Current password"),
    "new-password": ("新密码（至少 10 个字符）", "New password (10 characters or more)"),
    "must-change": (
        "首次登录或密码已重置，请先设置新密码",
        "First login or a reset password: please set a new password",
    ),
    "bad-old": ("当前密码不正确", "The current password is wrong"),
    "too-short": ("新密码至少 10 个字符", "The new password needs 10 characters or more"),
    "same": ("新密码不能与当前密码相同", "The new password must differ from the current one"),
    "saved": ("已保存", "Saved"),
    "save": ("保存", "Save"),
    "members-total": ("党员总数", "Members"),
    "branches-total": ("支部数", "Branches"),
    "under-three": ("正式党员不足 3 人的支部", "Branches under 3 full members"),
    "due": ("30 天内应转正的预备党员", "Probationers due within 30 days"),
    "overdue": ("已超期未转正的预备党员", "Probationers overdue"),
    "by-category": ("党员类别", "Members by category"),
    "by-gender": ("性别", "Members by gender"),
    "by-age": ("年龄段", "Members by age band"),
    "by-education": ("学历", "Members by education"),
    "by-ethnicity": ("民族", "Members by ethnicity"),
    "by-status": ("党籍状态", "Members by status"),
    "by-size": ("支部规模（党员人数）", "Branches by size (members)"),
    "meetings-complete": ("三会一课全部完成的支部", "Branches with every required meeting"),
    "term-ending": ("任期 90 天内届满的组织", "Terms ending within 90 days"),
    "term-ended": ("任期已届满的组织", "Terms ended"),
    "feedback-received": ("收到意见建议", "Feedback received"),
    "feedback-in-time": ("7 日内答复", "Answered within 7 days"),
    "feedback-open": ("待答复意见建议", "Feedback awaiting an answer"),
    "meetings-by-type": ("三会一课（次数）", "Required meetings held"),
    "dues-by-month": ("按月交纳党费的党员数", "Members who paid dues, by month"),
    "item": ("项目", "Item"),
    "count": ("人数/个数", "Count"),
    "table": ("数据表", "Table"),
    "as-of": ("统计日期", "As of"),
    "scope": ("范围", "Scope"),
    "whole-subtree": ("全部下级组织", "The whole subtree"),
    "search": ("查询", "Search"),
    "name": ("姓名", "Name"),
    "citizen-id": ("公民身份号码", "Citizen ID"),
    "phone": ("联系电话", "Phone"),
    "organisation": ("所在党组织", "Organisation"),
    "category": ("党员类别", "Category"),
    "status": ("党籍状态", "Status"),
    "found": ("共找到 {n} 名党员", "{n} members found"),
    "page": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "none": ("没有符合条件的党员", "No member matches"),
    "not-found": ("没有找到该党组织", "No such organisation"),
    "sensitive-search": (
        "按身份证号或电话查找党员需要查看敏感信息的权限，您的角色只能按姓名查找",
        "Finding members by citizen ID or phone needs the right to read sensitive fields;"
        " your role can find them by name",
    ),
    "signed-in-as": ("当前用户", "Signed in as"),
    "orgs": ("组织", "Organisations"),
    "transfers": ("组织关系转接", "Transfers"),
    "feedback": ("意见建议", "Feedback"),
    "meetings": ("会议签到", "Meetings"),
    "nav-stats": ("统计", "Statistics"),
    "nav-tokens": ("令牌管理", "Tokens"),
}


def words(lang: str) -> dict[str, str]:
    """Every text in ``lang`` (zh-CN unless ``en``)."""
    index = 1 if lang == "en" else 0
    return {key: pair[index] for key, pair in TEXT.items()}
