"""The rule catalogue: every check of the standard with a stable ID, a severity, bilingual
message templates and bilingual guidance. ``spec/rules.md`` is generated from this table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._issues import Issue, Severity

__all__ = ["RULES", "Rule", "rule"]

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO  # N: notice (info)


@dataclass(frozen=True, slots=True)
class Rule:
    """A check of the standard. Messages are ``str.format`` templates; the guidance (what the
    rule asks and where it comes from) is given in Chinese first, then in English."""

    id: str
    severity: Severity
    title_zh: str
    title_en: str
    message_zh: str
    message_en: str
    guidance_zh: str
    guidance_en: str
    #: The version of the standard that added the rule; it applies to documents of that
    #: version and later only (``spec/standard.md`` §6).
    since: str = "1.0"

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
        "记录不符合已发布的数据结构：缺少必填项、含有未定义的项目，或某一项的类型、"
        "代码、格式不对。请对照数据项说明和代码表逐项核对。",
        "The record does not follow the published JSON Schema: a required field is missing, a "
        "field is unknown, or a value has the wrong type, code or format.",
    ),
    Rule(
        "SCH-002",
        W,
        "使用了已弃用的字段或代码",
        "Deprecated field or code",
        "{what_zh} 已在 {version} 版弃用：{hint_zh}",
        "{what} is deprecated since {version}: {hint_en}",
        "已弃用的数据项和代码在下一个主版本之前仍予接受，请尽早改用替代的数据项或代码。",
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
        "公民身份号码为十八位：前十七位为数字，第十八位为校验码（0至9或大写X），"
        "按 GB 11643-1999 规定的方法计算。请对照居民身份证逐位核对。",
        "Eighteen characters: 17 digits and an ISO 7064 MOD 11-2 check character (0–9 or X).",
    ),
    Rule(
        "MBR-002",
        E,
        "出生日期与身份号码不符",
        "Birth date differs from citizen ID",
        "出生日期 {birth} 与身份号码中的 {id_birth} 不一致：请按身份证改正出生日期，或核对身份号码",
        "birth date {birth} differs from {id_birth} in the citizen ID",
        "公民身份号码第七至十四位为出生年月日，出生日期应与之一致。",
        "Digits 7–14 of the citizen ID are the birth date.",
    ),
    Rule(
        "MBR-003",
        E,
        "性别与身份号码不符",
        "Gender contradicts citizen ID",
        "性别代码 {gender} 与身份号码第十七位的奇偶性不符（奇数为男、偶数为女）："
        "请核对性别或身份号码",
        "gender code {gender} contradicts the parity of the citizen ID's 17th digit (odd is male)",
        "按 GB 11643-1999，公民身份号码第十七位（顺序码末位）奇数分配给男性，偶数分配给女性。",
        "GB 11643: the 17th digit is odd for men and even for women.",
    ),
    Rule(
        "MBR-004",
        E,
        "入党时未满十八岁",
        "Under 18 on joining",
        "入党日期 {joined} 时未满十八周岁（出生于 {birth}）：请核对入党日期和出生日期",
        "joined on {joined} before turning 18 (born {birth})",
        "《中国共产党章程》第一条：年满十八岁方可申请加入中国共产党，入党之日应已年满十八周岁。",
        "党章 第一条: members are at least 18 years old.",
    ),
    Rule(
        "MBR-005",
        E,
        "转正早于预备期满",
        "Full membership before probation ended",
        "转正日期 {full} 早于预备期满（{due}）：转正日期应不早于 {due}",
        "full membership on {full} is before probation ended ({due})",
        "预备期自入党之日起计算，为期一年；次年没有对应日的（如二月二十九日入党），"
        "预备期至该月最后一日届满（《中华人民共和国民法典》第二百零二条）。转正日期不得早于预备期"
        "届满之日。",
        "Probation lasts one year from the joining date; when the next year has no corresponding "
        "day (joined on 29 February), it ends on the last day of that month (Civil Code art. 202).",
    ),
    Rule(
        "MBR-006",
        E,
        "正式党员缺少转正日期",
        "Full member without full-membership date",
        "正式党员必须填写转正日期：请填写转正日期，或把党员类别改为预备党员",
        "a full member needs a fullMembershipDate",
        "党员类别为正式党员的，必须填写转正日期。",
        "category = full requires fullMembershipDate.",
    ),
    Rule(
        "MBR-007",
        E,
        "预备党员不应有转正日期",
        "Probationary member with full-membership date",
        "预备党员不应填写转正日期：请删除转正日期，或把党员类别改为正式党员",
        "a probationary member must not have a fullMembershipDate",
        "党员类别为预备党员的，不应填写转正日期。",
        "category = probationary requires fullMembershipDate to be absent.",
    ),
    Rule(
        "MBR-008",
        W,
        "预备期超过延长上限",
        "Probation longer than allowed",
        "预备期自 {joined} 起已超过两年（{how_zh}）：预备期延长不超过一年，请核对转正情况",
        "probation since {joined} exceeds two years ({how_en})",
        "预备期可以延长一次，延长时间不超过一年（《中国共产党发展党员工作细则》），"
        "预备期合计不超过两年。",
        "Probation may be extended once, by at most one year (发展党员工作细则).",
    ),
    Rule(
        "MBR-009",
        N,
        "身份号码校验位为小写 x",
        "Lower-case x in citizen ID",
        "校验位应为大写 X，已按 X 处理：请改为大写",
        "the check character should be upper-case X; read as X",
        "校验码为 X 的，一律以大写字母保存。",
        "Store the check character in upper case.",
    ),
    Rule(
        "ORG-001",
        E,
        "统一社会信用代码无效",
        "Invalid unified social credit code",
        "统一社会信用代码 {value} 不符合 GB 32100-2015：{why_zh}",
        "credit code {value} does not follow GB 32100-2015: {why_en}",
        "统一社会信用代码为十八位，由数字0至9和大写字母组成（不用I、O、S、V、"
        "Z），最后一位为校验码，按 GB 32100-2015 规定的方法计算。",
        "Eighteen characters from 0–9 and A–Y without I, O, S, V, Z; the last is a MOD 31 check.",
    ),
    Rule(
        "ORG-002",
        E,
        "组织成为自身的上级",
        "Organisation is its own ancestor",
        "上级组织形成循环：{cycle}。请改正其中一个组织的上级组织",
        "parent chain forms a cycle: {cycle}",
        "沿上级组织逐级向上查找，不得回到本组织。",
        "Following parentId must never return to the same organisation.",
    ),
    Rule(
        "ORG-003",
        W,
        "支部正式党员不足三人",
        "Branch with fewer than 3 full members",
        "支部仅有 {count} 名正式党员，应不少于三名：请核对党员，或改设联合党支部",
        "branch has {count} full members (at least 3 unless joint or temporary)",
        "《中国共产党支部工作条例（试行）》第四条：党支部应有三名以上正式党员；联合党支部和临时党"
        "支部除外。",
        "支部工作条例 第四条: a branch needs at least three full members.",
    ),
    Rule(
        "ORG-004",
        W,
        "委员会任期已满",
        "Committee term expired",
        "{elected} 选举的委员会任期 {years} 年已于 {ended} 届满：换届后请更新选举日期",
        "committee elected {elected} for {years} years; the term ended {ended}",
        "委员会任期届满应按期进行换届选举（《中国共产党章程》第三十一条）。",
        "Hold the election when the term ends (党章 第三十一条).",
    ),
    Rule(
        "PKG-001",
        E,
        "记录标识重复",
        "Duplicate record id",
        "{collection_zh}中的标识 {id} 重复：请为其中一条记录另取标识",
        "id {id} occurs more than once in {collection}",
        "同一类记录中，记录标识不得重复。",
        "Ids are unique within their record type.",
    ),
    Rule(
        "PKG-002",
        E,
        "公民身份号码重复",
        "Duplicate citizen ID",
        "另一名党员已使用该公民身份号码：同一人只能有一条党员记录，请合并记录或核对号码",
        "another member has the same citizen ID",
        "一人只建一份党员记录，公民身份号码不得重复。",
        "One person is one member record.",
    ),
    Rule(
        "PKG-003",
        W,
        "引用在包内无法解析",
        "Unresolved reference",
        "{field_zh}引用的 {target} 不在本数据包中：请一并导出被引用的记录，或核对标识",
        "{field} refers to {target}, which is not in this package",
        "数据包可以只含部分记录，但其中的引用一般应能在包内找到被引用的记录。",
        "A package may be partial, but references usually resolve inside it.",
    ),
    Rule(
        "ACT-001",
        E,
        "结束时间早于开始时间",
        "End before start",
        "结束时间 {end} 早于开始时间 {start}：请改正开始或结束时间",
        "end time {end} is before start time {start}",
        "活动的结束时间不得早于开始时间。",
        "endTime must not be before startTime.",
    ),
    Rule(
        "ACT-002",
        W,
        "党员大会未达到法定人数",
        "General meeting without quorum",
        "应到正式党员 {due} 名，实到 {present} 名，未超过半数："
        "表决须有过半数正式党员到会，请核对出席情况",
        "{present} of {due} full members due to attend were present; more than half are needed",
        "党员大会进行表决，到会的正式党员须超过应到会正式党员的半数。",
        "A general meeting's vote needs more than half of the full members due to attend.",
    ),
    Rule(
        "DUE-001",
        W,
        "党费金额与标准不符",
        "Dues amount off the national brackets",
        "{class_zh}党员按基数 {base} 应缴 {expected} 元，实缴 {amount} 元："
        "请按标准改正金额或计算基数",
        "{member_class} on base {base} should pay {expected} yuan, paid {amount}",
        "按中组发〔2008〕3号文件规定的标准：在岗职工每月工资收入在三千元以下（含）的交纳百分"
        "之零点五，三千元以上至五千元（含）的交纳百分之一，五千元以上至一万元（含）的交纳百分之一"
        "点五，一万元以上的交纳百分之二；离退休干部职工每月收入在五千元以下（含）的交纳百分之零点"
        "五，五千元以上的交纳百分之一；学生党员、下岗失业党员和依靠最低生活保障金生活的党员每月交"
        "纳零点二元；农民党员每月交纳零点二元至一元。",
        "中组发〔2008〕3号 brackets: salaried 0.5% up to 3,000 yuan, 1% to 5,000, 1.5% to 10,000, "
        "2% above; retired 0.5% up to 5,000, 1% above; students, unemployed and relief 0.20 yuan; "
        "farmers 0.20 to 1.00 yuan.",
    ),
    Rule(
        "DUE-002",
        W,
        "党费补缴超过六个月",
        "Dues paid more than 6 months late",
        "{period} 的党费于 {paid} 缴纳，晚于补缴期限 {limit}：补缴不超过六个月，请核对缴纳日期",
        "dues for {period} paid on {paid}, after the back-payment limit {limit}",
        "党员补交党费，时间最长不超过六个月。",
        "Back-payment is allowed for at most six months.",
    ),
    Rule(
        "TRF-001",
        W,
        "介绍信已过有效期",
        "Letter past its validity",
        "介绍信开具于 {issued}，有效期 {days} 天，已于 {expired} 过期："
        "请把状态改为已过期，或重新开具",
        "letter issued {issued} for {days} days expired on {expired}",
        "已开具的介绍信在有效期内未被接收的，应将状态改为已过期。",
        "An issued letter not accepted within validDays should be marked expired.",
    ),
    Rule(
        "PII-001",
        W,
        "自由文本中含个人信息",
        "Personal data in free text",
        "{field_zh}中疑似含有{kind_zh}：请删去，身份号码和电话只填在各自的字段中",
        "{field} seems to contain {kind_en}",
        "公民身份号码和电话号码只填在各自的数据项中，不要写入备注、摘要等自由填写的文字。",
        "Put ID numbers and phone numbers only in their own fields, never in free text.",
    ),
    Rule(
        "ORG-005",
        E,
        "上级组织类别不当",
        "Parent of the wrong kind",
        "{parent_zh}不能作为{child_zh}的上级组织：请把上级组织改为更高一级的党组织，或改正组织类别",
        "a {parent_en} cannot be the parent of a {child_en}: choose a higher organisation as "
        "parent, or correct the type",
        "组织层级由高到低为：省委、市委、县委（各级工作委员会列于同级党委之后），"
        "基层党委和乡镇党委（二者可以相互隶属），党总支，党支部，党小组。上级组织应高于下级组织，"
        "但基层一级的党委之间可以隶属；党支部只能作为党小组的上级，党小组不能作为任何组织的上级。",
        "Levels, from the top: provincial committee, city committee, county committee (each "
        "followed by its working committees), primary and township committees (which may nest), "
        "general branches, branches, Party groups. A parent is on a higher level, except that "
        "committees of the primary level may nest; a branch can parent only Party groups, and a "
        "group nothing.",
        "1.1",
    ),
    Rule(
        "ORG-006",
        E,
        "现任书记不是恰好一名",
        "Not exactly one current secretary",
        "领导成员中现任书记有 {count} 名，应恰好一名：请为离任者填写离任日期，或补充现任书记",
        "the leaders include {count} current secretaries, exactly one is needed: give past "
        "secretaries an until date, or add the current one",
        "填写领导成员的，其中应恰好有一名现任书记，即职务为书记、截至核对之日没有离任的人员。",
        "When leaders are given, exactly one of them holds the post secretary without an until "
        "date on or before the reference date.",
        "1.1",
    ),
    Rule(
        "ORG-007",
        W,
        "支部委员会人数不在三至七人之间",
        "Branch committee outside 3 to 7",
        "支部委员会现有委员 {count} 名，一般应为三至五名、不超过七名：请核对领导成员",
        "the branch committee has {count} members; it has 3 to 5, at most 7: check the leaders",
        "《中国共产党支部工作条例（试行）》：支部委员会一般由三至五人组成，最多不超过七人。"
        "党支部现任领导成员多于书记和副书记两人时，全体现任领导成员即为支部委员会。",
        "支部工作条例(试行): a branch committee has 3 to 5 members, generally at most 7. The "
        "committee is every current leader of a branch when there are more than a secretary and "
        "a deputy.",
        "1.1",
    ),
    Rule(
        "ORG-008",
        W,
        "正式党员七人以上的支部未设委员会",
        "Branch of 7 or more full members without a committee",
        "支部有 {count} 名正式党员，应设立支部委员会：请在领导成员中补充组织、宣传、纪检等委员",
        "the branch has {count} full members and should elect a committee: add its members "
        "(organisation, propaganda, discipline) to the leaders",
        "《中国共产党支部工作条例（试行）》：正式党员七人以上的党支部，应当设立支部委员会。"
        "填写了领导成员的才作此项检查。",
        "支部工作条例(试行): a branch with seven or more full members sets up a committee. "
        "Checked when leaders are given.",
        "1.1",
    ),
    Rule(
        "ORG-009",
        W,
        "领导成员不是本组织的正式党员",
        "Leader not a full member of the organisation",
        "领导成员 {member} 不是本组织或其下级组织的正式党员：请核对党员标识，或先办理组织关系转接",
        "leader {member} is not a full member of this organisation or one below it: check the "
        "member id, or transfer the member first",
        "领导成员应从本组织的正式党员中选举产生。该党员的记录在本数据包中的才作此项检查。",
        "Leaders are elected from the organisation's full members. Checked when the member "
        "record is in the package.",
        "1.1",
    ),
    Rule(
        "APL-001",
        E,
        "申请入党时未满十八岁",
        "Applied before turning 18",
        "申请日期 {applied} 时未满十八周岁（出生于 {birth}）：请核对申请日期和出生日期",
        "applied on {applied} before turning 18 (born {birth}): check both dates",
        "《中国共产党章程》第一条：年满十八岁方可申请加入中国共产党。",
        "党章 第一条: an applicant is at least 18 years old.",
        "1.1",
    ),
    Rule(
        "APL-002",
        W,
        "谈话晚于申请后一个月",
        "Talk more than a month after the application",
        "谈话日期 {talk} 晚于申请后一个月（{limit}）：请核对日期，应在收到申请后一个月内谈话",
        "talk on {talk} is after one month from the application ({limit}): the organisation "
        "talks with the applicant within a month",
        "《中国共产党发展党员工作细则》：党组织收到入党申请书后，应在一个月内派人同入党申请人谈话。",
        "发展党员工作细则: the organisation talks with the applicant within one month.",
        "1.1",
    ),
    Rule(
        "APL-003",
        E,
        "确定为积极分子早于申请",
        "Activist before the application",
        "确定为积极分子的日期 {activist} 早于申请日期 {applied}：请改正其中一个日期",
        "activist on {activist}, before the application on {applied}: correct one of the dates",
        "入党积极分子从已递交入党申请书的人员中确定，确定日期不得早于申请日期。",
        "An activist is chosen from those who have applied.",
        "1.1",
    ),
    Rule(
        "APL-004",
        E,
        "积极分子培养不满一年",
        "Candidate less than a year after activist",
        "确定为发展对象的日期 {candidate} 早于培养满一年（{due}）：请核对日期",
        "candidate on {candidate}, before a year as activist ended ({due}): check the dates",
        "《中国共产党发展党员工作细则》第十三条：对入党积极分子经过一年以上培养教育和考察，"
        "方可列为发展对象。",
        "发展党员工作细则 第十三条: an activist is trained for at least one year.",
        "1.1",
    ),
    Rule(
        "APL-005",
        E,
        "支部大会讨论早于确定为发展对象",
        "Branch vote before becoming a candidate",
        "支部大会讨论日期 {vote} 早于确定为发展对象的日期 {candidate}：请改正其中一个日期",
        "branch vote on {vote}, before becoming a candidate on {candidate}: correct one of the "
        "dates",
        "只有发展对象才能提交支部大会讨论，讨论日期不得早于确定为发展对象的日期。",
        "Only a candidate is put to the branch general meeting.",
        "1.1",
    ),
    Rule(
        "APL-006",
        W,
        "集中培训不足二十四学时",
        "Fewer than 24 training hours",
        "集中培训仅 {hours} 学时，支部大会讨论前应不少于二十四学时（或三天）：请补足培训或更正学时",
        "only {hours} training hours; a candidate needs at least 24 (or three days) before the "
        "vote: complete the training or correct the hours",
        "《中国共产党发展党员工作细则》：发展对象在支部大会讨论前须经过集中培训，"
        "时间一般不少于三天或二十四个学时。",
        "发展党员工作细则: short intensive training of at least three days or 24 class hours.",
        "1.1",
    ),
    Rule(
        "APL-007",
        E,
        "入党介绍人不是两名",
        "Not exactly two introducers",
        "入党介绍人有 {count} 名，应为两名正式党员：请补充或删除介绍人",
        "{count} introducers; exactly two full members are needed: add or remove one",
        "《中国共产党发展党员工作细则》第十四条：发展党员须有两名正式党员作入党介绍人。"
        "申请人已被接收为预备党员的，必须填写。",
        "发展党员工作细则 第十四条: two full members introduce a candidate. Required once the "
        "applicant is admitted.",
        "1.1",
    ),
    Rule(
        "APL-008",
        E,
        "入党介绍人不是正式党员",
        "Introducer not a full member",
        "入党介绍人 {member} 不是党籍正常的正式党员：请另选一名正式党员",
        "introducer {member} is not a full member in normal standing: choose another",
        "入党介绍人须是正式党员；预备党员和正在受党纪处分的党员不能作入党介绍人。"
        "介绍人的党员记录在本数据包中的才作此项检查。",
        "Introducers are full members; a probationary member or one under discipline may not "
        "introduce. Checked when the member record is in the package.",
        "1.1",
    ),
    Rule(
        "APL-009",
        W,
        "审批超过三个月",
        "Approval more than 3 months after the vote",
        "上级党委于 {approved} 审批，超过支部大会讨论（{vote}）后三个月：请核对审批日期",
        "approved on {approved}, more than three months after the branch vote on {vote}: check "
        "the date",
        "《中国共产党发展党员工作细则》：上级党委应在支部大会讨论后三个月内审批。",
        "发展党员工作细则: the higher committee approves within three months.",
        "1.1",
    ),
    Rule(
        "APL-010",
        E,
        "审批超过六个月",
        "Approval more than 6 months after the vote",
        "上级党委于 {approved} 审批，超过支部大会讨论（{vote}）后六个月：应重新讨论，请核对日期",
        "approved on {approved}, more than six months after the branch vote on {vote}: the "
        "branch votes again; check the dates",
        "《中国共产党发展党员工作细则》：遇特殊情况可适当延长审批时间，但最长不超过六个月。",
        "发展党员工作细则: at most six months in special cases.",
        "1.1",
    ),
    Rule(
        "APL-011",
        E,
        "已接收的申请人缺少党员记录",
        "Admitted applicant without member record",
        "已接收为预备党员，但未填写党员记录标识：请填写其党员记录的标识",
        "admitted, but memberId is missing: give the id of the member record",
        "已接收为预备党员的，必须填写党员记录标识，即该预备党员的党员记录。",
        "stage admitted requires memberId, the record of the probationary member.",
        "1.1",
    ),
    Rule(
        "APL-012",
        E,
        "入党日期与支部大会讨论日期不符",
        "Joining date differs from the branch vote",
        "党员记录 {member} 的入党日期与支部大会讨论日期 {vote} 不一致："
        "入党日期即支部大会通过之日，请改正其中一个",
        "member {member} has a joinedDate other than the branch vote on {vote}: the joining date "
        "is the day of the accepting vote",
        "《中国共产党发展党员工作细则》：预备党员的入党日期为支部大会通过其为预备党员之日。",
        "发展党员工作细则: the joining date is the date of the branch general meeting.",
        "1.1",
    ),
)

RULES: dict[str, Rule] = {r.id: r for r in _CATALOGUE}


def rule(rule_id: str) -> Rule:
    """The rule with ``rule_id``; raises ``KeyError`` for an unknown id."""
    return RULES[rule_id]
