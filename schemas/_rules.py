"""The rule catalogue: every check of the standard with a stable ID, a severity and a
bilingual message template. ``spec/rules.md`` is generated from this table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._issues import Issue, Severity

__all__ = ["RULES", "Rule", "rule"]

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO  # N: notice (info)


@dataclass(frozen=True, slots=True)
class Rule:
    """A check of the standard. Messages are ``str.format`` templates."""

    id: str
    severity: Severity
    title_zh: str
    title_en: str
    message_zh: str
    message_en: str
    guidance: str

    def issue(self, path: str, **params: Any) -> Issue:
        """An issue of this rule at ``path``, its messages filled with ``params``."""
        return Issue(
            self.id,
            self.severity,
            path,
            self.message_zh.format(**params),
            self.message_en.format(**params),
        )


_CATALOGUE = (
    Rule(
        "SCH-001",
        E,
        "不符合数据结构",
        "Schema violation",
        "{detail_zh}",
        "{detail_en}",
        "The record does not follow the published JSON Schema: a required field is missing, a "
        "field is unknown, or a value has the wrong type, code or format.",
    ),
    Rule(
        "SCH-002",
        W,
        "使用了已弃用的字段或代码",
        "Deprecated field or code",
        "{what} 已在 {version} 版弃用：{hint_zh}",
        "{what} is deprecated since {version}: {hint_en}",
        "Deprecated fields and codes are still accepted until the next major version; move to "
        "their replacement.",
    ),
    Rule(
        "MBR-001",
        E,
        "公民身份号码无效",
        "Invalid citizen ID",
        "公民身份号码 {value} 不符合 GB 11643-1999：{why_zh}",
        "citizen ID {value} does not follow GB 11643-1999: {why_en}",
        "Eighteen characters: 17 digits and an ISO 7064 MOD 11-2 check character (0–9 or X).",
    ),
    Rule(
        "MBR-002",
        E,
        "出生日期与身份号码不符",
        "Birth date differs from citizen ID",
        "出生日期 {birth} 与身份号码中的 {id_birth} 不一致",
        "birth date {birth} differs from {id_birth} in the citizen ID",
        "Digits 7–14 of the citizen ID are the birth date.",
    ),
    Rule(
        "MBR-003",
        E,
        "性别与身份号码不符",
        "Gender contradicts citizen ID",
        "性别代码 {gender} 与身份号码第17位的奇偶性不符（奇数为男）",
        "gender code {gender} contradicts the parity of the citizen ID's 17th digit (odd is male)",
        "GB 11643: the 17th digit is odd for men and even for women.",
    ),
    Rule(
        "MBR-004",
        E,
        "入党时未满十八岁",
        "Under 18 on joining",
        "入党日期 {joined} 时未满十八周岁（出生于 {birth}）",
        "joined on {joined} before turning 18 (born {birth})",
        "党章 第一条: members are at least 18 years old.",
    ),
    Rule(
        "MBR-005",
        E,
        "转正早于预备期满",
        "Full membership before probation ended",
        "转正日期 {full} 早于预备期满（{due}）",
        "full membership on {full} is before probation ended ({due})",
        "Probation lasts one year from the joining date; when the next year has no corresponding "
        "day (joined on 29 February), it ends on the last day of that month (Civil Code art. 202).",
    ),
    Rule(
        "MBR-006",
        E,
        "正式党员缺少转正日期",
        "Full member without full-membership date",
        "正式党员必须填写转正日期",
        "a full member needs a fullMembershipDate",
        "category = full requires fullMembershipDate.",
    ),
    Rule(
        "MBR-007",
        E,
        "预备党员不应有转正日期",
        "Probationary member with full-membership date",
        "预备党员不应填写转正日期",
        "a probationary member must not have a fullMembershipDate",
        "category = probationary requires fullMembershipDate to be absent.",
    ),
    Rule(
        "MBR-008",
        W,
        "预备期超过延长上限",
        "Probation longer than allowed",
        "预备期自 {joined} 起已超过两年（{how_zh}）",
        "probation since {joined} exceeds two years ({how_en})",
        "Probation may be extended once, by at most one year (发展党员工作细则).",
    ),
    Rule(
        "MBR-009",
        N,
        "身份号码校验位为小写 x",
        "Lower-case x in citizen ID",
        "校验位应为大写 X，已按 X 处理",
        "the check character should be upper-case X; read as X",
        "Store the check character in upper case.",
    ),
    Rule(
        "ORG-001",
        E,
        "统一社会信用代码无效",
        "Invalid unified social credit code",
        "统一社会信用代码 {value} 不符合 GB 32100-2015：{why_zh}",
        "credit code {value} does not follow GB 32100-2015: {why_en}",
        "Eighteen characters from 0–9 and A–Y without I, O, S, V, Z; the last is a MOD 31 check.",
    ),
    Rule(
        "ORG-002",
        E,
        "组织成为自身的上级",
        "Organisation is its own ancestor",
        "上级组织形成循环：{cycle}",
        "parent chain forms a cycle: {cycle}",
        "Following parentId must never return to the same organisation.",
    ),
    Rule(
        "ORG-003",
        W,
        "支部正式党员不足三人",
        "Branch with fewer than 3 full members",
        "支部仅有 {count} 名正式党员（应不少于 3 名，联合或临时支部除外）",
        "branch has {count} full members (at least 3 unless joint or temporary)",
        "支部工作条例 第四条: a branch needs at least three full members.",
    ),
    Rule(
        "ORG-004",
        W,
        "委员会任期已满",
        "Committee term expired",
        "{elected} 选举的委员会任期 {years} 年已于 {ended} 届满",
        "committee elected {elected} for {years} years; the term ended {ended}",
        "Hold the election when the term ends (党章 第三十一条).",
    ),
    Rule(
        "PKG-001",
        E,
        "记录标识重复",
        "Duplicate record id",
        "{collection} 中的标识 {id} 重复",
        "id {id} occurs more than once in {collection}",
        "Ids are unique within their record type.",
    ),
    Rule(
        "PKG-002",
        E,
        "公民身份号码重复",
        "Duplicate citizen ID",
        "另一名党员已使用该公民身份号码",
        "another member has the same citizen ID",
        "One person is one member record.",
    ),
    Rule(
        "PKG-003",
        W,
        "引用在包内无法解析",
        "Unresolved reference",
        "{field} 引用的 {target} 不在本数据包中",
        "{field} refers to {target}, which is not in this package",
        "A package may be partial, but references usually resolve inside it.",
    ),
    Rule(
        "ACT-001",
        E,
        "结束时间早于开始时间",
        "End before start",
        "结束时间 {end} 早于开始时间 {start}",
        "end time {end} is before start time {start}",
        "endTime must not be before startTime.",
    ),
    Rule(
        "ACT-002",
        W,
        "党员大会未达到法定人数",
        "General meeting without quorum",
        "应到正式党员 {due} 名，实到 {present} 名，未超过半数",
        "{present} of {due} full members due to attend were present; more than half are needed",
        "A general meeting's vote needs more than half of the full members due to attend.",
    ),
    Rule(
        "DUE-001",
        W,
        "党费金额与标准不符",
        "Dues amount off the national brackets",
        "{member_class} 按基数 {base} 应缴 {expected} 元，实缴 {amount} 元",
        "{member_class} on base {base} should pay {expected} yuan, paid {amount}",
        "中组发〔2008〕3号 brackets: salaried 0.5% up to 3,000 yuan, 1% to 5,000, 1.5% to 10,000, "
        "2% above; retired 0.5% up to 5,000, 1% above; students, unemployed and relief 0.20 yuan; "
        "farmers 0.20 to 1.00 yuan.",
    ),
    Rule(
        "DUE-002",
        W,
        "党费补缴超过六个月",
        "Dues paid more than 6 months late",
        "{period} 的党费于 {paid} 缴纳，晚于补缴期限 {limit}",
        "dues for {period} paid on {paid}, after the back-payment limit {limit}",
        "Back-payment is allowed for at most six months.",
    ),
    Rule(
        "TRF-001",
        W,
        "介绍信已过有效期",
        "Letter past its validity",
        "介绍信开具于 {issued}，有效期 {days} 天，已于 {expired} 过期",
        "letter issued {issued} for {days} days expired on {expired}",
        "An issued letter not accepted within validDays should be marked expired.",
    ),
    Rule(
        "PII-001",
        W,
        "自由文本中含个人信息",
        "Personal data in free text",
        "{field} 中疑似含有{kind_zh}",
        "{field} seems to contain {kind_en}",
        "Put ID numbers and phone numbers only in their own fields, never in free text.",
    ),
)

RULES: dict[str, Rule] = {r.id: r for r in _CATALOGUE}


def rule(rule_id: str) -> Rule:
    """The rule with ``rule_id``; raises ``KeyError`` for an unknown id."""
    return RULES[rule_id]
