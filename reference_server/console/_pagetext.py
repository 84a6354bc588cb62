"""The words of the record pages (organisations, members, dues, transfers), zh-CN first and
English beside; merged over :data:`._text.TEXT` when a page of :mod:`._kit` is rendered."""

from __future__ import annotations

__all__ = ["PAGE_TEXT", "page_words"]

#: key -> (zh-CN, en)
PAGE_TEXT: dict[str, tuple[str, str]] = {
    "org-tree": ("党组织树", "Organisation tree"),
    "direct": ("本级党员", "Own members"),
    "subtree-total": ("含下级", "With subtree"),
    "new-org": ("新建党组织", "New organisation"),
    "edit-org": ("编辑党组织", "Edit organisation"),
    "new-member": ("新增党员", "New member"),
    "edit-member": ("编辑党员信息", "Edit member"),
    "member-detail": ("党员详情", "Member"),
    "edit": ("编辑", "Edit"),
    "history": ("变更记录（审计日志）", "History (audit log)"),
    "at": ("时间（UTC）", "When (UTC)"),
    "period": ("所属月份", "Month"),
    "amount": ("金额（元）", "Amount (yuan)"),
    "who": ("操作者", "By"),
    "action": ("操作", "Action"),
    "version": ("版本", "Version"),
    "no-history": ("暂无变更记录", "No history yet"),
    "member-transfers": ("组织关系转接记录", "Transfers of this member"),
    "no-transfers": ("暂无转接记录", "No transfers"),
    "dues": ("党费交纳记录", "Dues payments"),
    "no-dues": ("暂无党费记录", "No dues payments"),
    "new-dues": ("登记党费", "Record a dues payment"),
    "edit-dues": ("编辑党费记录", "Edit dues payment"),
    "issue-letter": ("开具介绍信", "Issue a transfer letter"),
    "print-letter": ("打印介绍信", "Print the letter"),
    "in-flight": ("在途的介绍信", "Letters in flight"),
    "decided": ("近期已办结", "Recently concluded"),
    "outgoing": ("转出", "Outgoing"),
    "incoming": ("转入", "Incoming"),
    "direction": ("方向", "Direction"),
    "peer-hub": ("对方枢纽", "Other hub"),
    "letter-number": ("介绍信编号", "Letter number"),
    "member-id": ("党员标识", "Member id"),
    "expires-on": ("有效期至", "Valid until"),
    "state": ("状态", "State"),
    "delivery": ("送达", "Delivery"),
    "accept": ("接收", "Accept"),
    "reject": ("退回", "Reject"),
    "withdraw": ("撤回", "Withdraw"),
    "reason-text": ("说明（可选）", "Reason (optional)"),
    "no-letters": ("没有在途的介绍信", "No letter in flight"),
    "keep-blank": ("已保存，留空则保持不变", "Stored; leave blank to keep it"),
    "clear-field": ("清除", "Clear"),
    "not-set": ("未填写", "Not set"),
    "sealed": ("已加密保存", "Stored sealed"),
    "fix-below": ("保存未成功，请按下方提示修改", "Not saved: please correct the fields below"),
    "stale": (
        "保存未成功：该记录已被他人修改（当前为第 {current} 版，您编辑的是第 {mine} 版）。"
        "请重新打开编辑页面，在最新内容上修改。",
        "Not saved: someone else changed this record (it is now at version {current}; you "
        "edited version {mine}). Open the form again and edit the latest version.",
    ),
    "reload": ("重新打开编辑页面", "Open the form again"),
    "read-only": ("当前账号只能查看，不能修改", "This account may only read"),
    "record-missing": ("没有找到该记录", "No such record"),
    "saved-ok": ("已保存", "Saved"),
    "decided-ok": ("已办理", "Done"),
    "cancel": ("返回", "Back"),
    "delivered": ("已送达", "Delivered"),
    "pending": ("等待重试", "Retrying"),
    "refused": ("被对方拒收", "Refused"),
    "top-level": ("（无上级）", "(no parent)"),
    "hub-org-note": (
        "转入其他枢纽的党组织时，填写对方党组织的标识（如 cd-jinjiang:o001），介绍信将签名后"
        "送达对方枢纽",
        "For an organisation of another hub, give its id (e.g. cd-jinjiang:o001): the signed "
        "letter is delivered to that hub",
    ),
    "members-of": ("查看党员", "Members"),
    "act-create": ("新建", "Created"),
    "act-update": ("修改", "Changed"),
    "act-delete": ("删除", "Deleted"),
    "act-replicate": ("同步副本", "Replicated"),
    "act-transfer": ("转接", "Transferred"),
    "member": ("党员", "Member"),
    "route": ("转出 → 转入", "From → to"),
}


def page_words(lang: str) -> dict[str, str]:
    """Every text of these pages in ``lang`` (zh-CN unless ``en``)."""
    index = 1 if lang == "en" else 0
    return {key: pair[index] for key, pair in PAGE_TEXT.items()}
