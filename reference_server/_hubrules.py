"""Rules only a hub can check, because they need its database: references, uniqueness of a
person, ownership and transfer states. Same :class:`Rule` shape as the standard's catalogue;
listed in ``spec/api.md``."""

from __future__ import annotations

from tongxin.schemas import Rule, Severity

__all__ = ["HUB_RULES", "TRANSFER_MOVES"]


def _rule(
    rule_id: str, title_zh: str, title_en: str, zh: str, en: str, guidance_zh: str, guidance_en: str
) -> Rule:
    return Rule(
        id=rule_id,
        severity=Severity.ERROR,
        title_zh=title_zh,
        title_en=title_en,
        message_zh=zh,
        message_en=en,
        guidance_zh=guidance_zh,
        guidance_en=guidance_en,
    )


_CATALOGUE = (
    _rule(
        "REF-001",
        "引用的记录不存在",
        "Reference to an unknown record",
        "{field_zh}引用的记录 {target} 在本枢纽不存在（或已删除）：请先建立被引用的记录",
        "{field} refers to {target}, which does not exist on this hub (or was deleted)",
        "请先建立被引用的记录（批量提交时，放在更靠前的行中）。",
        "Create the referenced record first (in a bulk request: on an earlier line).",
    ),
    _rule(
        "REF-002",
        "引用超出令牌的组织范围",
        "Reference outside the token's subtree",
        "{field_zh}引用的党组织 {target} 不在本令牌可管理的组织范围内："
        "请引用本令牌范围内的党组织，或请枢纽管理员办理",
        "{field} refers to {target}, outside the organisation subtree of this token",
        "党支部的令牌只能写入本组织及其下级组织的记录。",
        "A branch's token may only write records of its own organisation subtree.",
    ),
    _rule(
        "REF-003",
        "党组织仍被引用",
        "Organisation still referenced",
        "党组织仍有 {count} 个下级组织或在册记录，不能删除：请先转出或删除这些记录",
        "the organisation still has {count} child organisations or live records",
        "请先转出或删除该组织的党员、活动记录和下级组织。",
        "Move or delete the members, activities and child organisations first.",
    ),
    _rule(
        "UNQ-001",
        "公民身份号码已被另一名党员使用",
        "Citizen ID already used",
        "本枢纽的党员 {other} 已使用该公民身份号码：请修改该党员的记录，不要重复建档",
        "member {other} on this hub has this citizen ID",
        "在同一枢纽中一人只建一份党员记录：请修改已有的记录。",
        "One person is one member record per hub: update that record instead.",
    ),
    _rule(
        "UNQ-003",
        "公民身份号码已被使用",
        "Citizen ID already in use",
        "本枢纽已有党员使用该公民身份号码：一人只建一份档案，请联系枢纽管理员查找该记录",
        "a member on this hub already has this citizen ID",
        "在同一枢纽中一人只建一份党员记录。该党员不在本令牌可查看的范围内：请联系管理该记录的人员"
        "（本枢纽的管理员）查找。",
        "One person is one member record per hub. The member lies outside what this token may "
        "read: ask whoever manages it (an administrator of this hub) to find that record.",
    ),
    _rule(
        "UNQ-002",
        "记录已存在",
        "Record already exists",
        "标识 {id} 已存在且内容不同（当前版本 {version}）：修改已有记录请用带版本号的修改请求",
        "id {id} already exists with other content (version {version})",
        "修改已有记录，请使用带版本号的修改请求。",
        "Use PUT with If-Match to change an existing record.",
    ),
    _rule(
        "ORG-101",
        "上级组织形成循环",
        "Parent forms a cycle",
        "以 {parent} 为上级会使组织成为自身的下级：请选择不在本组织之下的上级组织",
        "making {parent} the parent would form a cycle",
        "党组织不能移到自身或自身的下级组织之下。",
        "An organisation cannot be moved below itself.",
    ),
    _rule(
        "TRF-101",
        "转接状态变更不允许",
        "Transfer state change not allowed",
        "转接状态不能从“{old_zh}”改为“{new_zh}”：只有已开具的转接可以改为已接收、已退回、已过期或已撤回，其余状态已办结",
        "a transfer cannot move from {old} to {new}",
        "已开具的转接可以改为已接收、已退回、已过期或已撤回；其余状态均已办结，不能再改。",
        "issued → accepted | rejected | expired | withdrawn; the other states are final.",
    ),
    _rule(
        "TRF-102",
        "介绍信送出时无效",
        "Letter not valid when sent",
        "开具日期 {issued}、有效期 {days} 天的介绍信在今天（北京时间 {today}）无效："
        "请按今天的日期重新开具介绍信",
        "a letter issued {issued} for {days} days is not valid today ({today}, UTC+8)",
        "电子介绍信开具后立即送出：开具日期最迟为明天，且开具日期加有效天数须晚于今天（北京时间）。",
        "An electronic letter is sent at once: issuedDate must be at most tomorrow and "
        "issuedDate + validDays after today (China Standard Time).",
    ),
    _rule(
        "TRF-103",
        "随信记录与介绍信不符",
        "Record differs from its signed letter",
        "随签名文书送达的记录中{label}与签名介绍信不一致：请按介绍信的内容重新发送",
        "{field} of the record sent with the signed document differs from the signed letter",
        "随介绍信、回执或撤回文书一并送出的记录，内容须与签名的介绍信完全一致（见联邦协议第 3."
        "6 节“随信记录”）。",
        "The records sent beside a letter, receipt or withdrawal must say exactly what the "
        "signed letter states (spec/federation.md §3.6 Cargo).",
    ),
    _rule(
        "API-001",
        "请求参数无效",
        "Invalid request parameter",
        "参数 {name} 的值不符合接口要求：请按接口文档（/docs）修改",
        "parameter {name} is invalid: {why}",
        "查询参数、请求头和路径各段须符合接口规范。",
        "Query parameters, headers and path segments follow spec/api.md.",
    ),
    _rule(
        "OWN-001",
        "副本只读",
        "Replica is read-only",
        "该记录归 {owner} 枢纽所有，请向其写入",
        "this record is owned by hub {owner}; write there",
        "每条记录只归一个枢纽所有，其他枢纽保存的是只读副本：请向所有者枢纽写入。",
        "Every record has one owner hub; other hubs hold read-only replicas.",
    ),
    _rule(
        "OWN-002",
        "标识前缀不属于本枢纽",
        "Id prefix of another hub",
        "标识前缀 {prefix} 不是本枢纽的标识，在本枢纽创建的记录须以 {hub}: 开头",
        "the id prefix {prefix} is not this hub's id; records created here start with {hub}:",
        "枢纽只在本枢纽标识下创建记录（数据标准第二章）。其他枢纽标识下的记录，只能作为副本或经已"
        "接收的转接进入本枢纽。不填标识由枢纽自动生成，或使用“本枢纽标识:本地标识”的形式。",
        "A hub creates records only under its own hub id (spec/standard.md §2). Records "
        "under another hub's id arrive only as replicas or through an accepted transfer. "
        "Leave the id out to let the hub mint one, or use <this hub's id>:<local id>.",
    ),
)

HUB_RULES: dict[str, Rule] = {r.id: r for r in _CATALOGUE}

#: The transfer state machine: allowed next states of each state.
TRANSFER_MOVES: dict[str, frozenset[str]] = {
    "issued": frozenset({"issued", "accepted", "rejected", "expired", "withdrawn"}),
    "accepted": frozenset({"accepted"}),
    "rejected": frozenset({"rejected"}),
    "expired": frozenset({"expired"}),
    "withdrawn": frozenset({"withdrawn"}),
}
