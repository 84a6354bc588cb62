"""The roster rules (``ROS-xxx``): findings that only a spreadsheet can cause.

They complement the rules of the standard (``tongxin.schemas.RULES``), which every row is also
checked with; ``spec/roster.md`` is generated from this table (and drift-tested).
"""

from __future__ import annotations

from tongxin.schemas import Rule, Severity

__all__ = ["ROSTER_RULES", "roster_rule"]

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO

_CATALOGUE = (
    Rule(
        "ROS-001",
        W,
        "未找到表头",
        "No header row",
        "工作表中没有找到花名册表头（至少需要“姓名”等三列），已跳过该工作表",
        "no roster header row (at least three known columns such as 姓名) was found; "
        "the sheet was skipped",
        "表头可以在标题行之下，也可以占两行，但至少要有三个能识别的列名。文件有多张工作表时，"
        "可在导入时指定工作表，或用映射文件指明各列。",
        "The header row may sit below title rows or span two rows; it needs at least three "
        "recognised columns. Pass --sheet or a --mapping file to choose.",
    ),
    Rule(
        "ROS-002",
        W,
        "未识别的列",
        "Unrecognised column",
        "未识别列“{header}”，其内容未导入；如需导入请在映射文件中指定字段",
        "column “{header}” was not recognised and was not imported; name its field in a "
        "mapping file to import it",
        "生成映射文件，在其中为该列指定对应的数据项，导入时一并提供该映射文件。",
        "Run `tongxin roster mapping FILE`, edit the TOML and pass it back with --mapping.",
    ),
    Rule(
        "ROS-003",
        E,
        "缺少必需的列",
        "Required column missing",
        "缺少“{title}”列，所有行均无法导入；请在表头中添加该列后重新导入",
        "the column “{title}” is missing, so no row can be imported",
        "姓名、性别、出生日期、入党日期四列为标准所必需（出生日期可从公民身份号码中取得）；"
        "入党申请人工作表以“申请入党日期”代替“入党日期”。",
        "姓名, 性别, 出生日期 and 入党日期 are required by the standard (出生日期 may come from "
        "the citizen ID); on an applicants sheet 申请入党日期 instead of 入党日期.",
    ),
    Rule(
        "ROS-004",
        W,
        "列重复",
        "Duplicate column",
        "“{header}”与前面的“{first}”对应同一字段，已忽略",
        "“{header}” maps to the same field as “{first}” before it and was ignored",
        "每个数据项只从一列读取；如需改用另一列，请在映射文件中指定。",
        "Each field is read from one column; choose another in the mapping file.",
    ),
    Rule(
        "ROS-005",
        W,
        "列不属于该类记录",
        "Column not part of the record",
        "“{header}”不是{record_zh}记录的项目，其内容未导入；党员和入党申请人请分别填在两张工作表中",
        "column “{header}” is not a field of {record_en} record and was not imported; keep "
        "members and applicants on separate sheets",
        "入党申请人工作表（入党申请人、积极分子、发展对象）只含入党申请人记录的项目，"
        "其中的民族、学历等列不导入；党员工作表不含入党申请人专有的列（申请入党日期、"
        "入党介绍人等）。",
        "An applicants sheet (入党申请人、积极分子、发展对象) carries the fields of an Applicant "
        "record, so 民族, 学历 and the like are not imported from it; a members sheet does not "
        "carry the applicant-only columns (申请入党日期, 入党介绍人 …).",
    ),
    Rule(
        "ROS-010",
        E,
        "日期无法识别",
        "Unreadable date",
        "“{value}”不是可识别的日期（例如 1985-06-15、1985年6月15日）",
        "“{value}” is not a recognisable date (e.g. 1985-06-15, 1985年6月15日)",
        "可以识别的日期写法有：电子表格的日期格式和日期序号，1985-06-15、"
        "1985/6/15、1985.06.15、19850615、1985年6月15日，"
        "以及只有年月的 1985.06 或 1985年6月。",
        "Accepted: Excel dates and serials, 1985-06-15, 1985/6/15, 1985.06.15, 19850615, "
        "1985年6月15日, and month-only 1985.06 or 1985年6月.",
    ),
    Rule(
        "ROS-011",
        W,
        "日期只有年月",
        "Month-only date",
        "“{value}”只有年月，已按 {date} 导入（{how_zh}）",
        "“{value}” has no day; imported as {date} ({how_en})",
        "出生日期只有年月且与公民身份号码中的年月一致的，日取自公民身份号码；其他日期按当月一日导"
        "入。填写完整日期即不再提示。",
        "A birth date takes its day from the citizen ID when the month agrees; other dates take "
        "the first of the month. Type the full date to silence this warning.",
    ),
    Rule(
        "ROS-012",
        E,
        "代码无法识别",
        "Unrecognised code",
        "“{value}”不是“{title}”的代码、名称或常用写法；请填写其中之一：{examples}",
        "“{value}” is not a code, title or known synonym of {codelist}",
        "代码项可以填写代码、中文名称、英文名称或列出的常用写法，可用的代码见代码表。",
        "Any codelist field accepts the code, the Chinese or English title, or a listed synonym "
        "(see `tongxin codelists NAME`).",
    ),
    Rule(
        "ROS-013",
        W,
        "15位身份号码已升级",
        "15-digit citizen ID upgraded",
        "15位身份号码已升级为18位 {value}",
        "the 15-digit citizen ID was upgraded to 18 digits: {value}",
        "按 GB 11643-1989 编制的十五位号码，在出生年份前补“19”，末尾补上校验码，即升级为十八位。",
        "GB 11643-1989 numbers get “19” before the year and a MOD 11-2 check character.",
    ),
    Rule(
        "ROS-014",
        E,
        "身份号码被存为数字",
        "Citizen ID stored as a number",
        "身份号码以数字格式保存，末尾几位已丢失；请将该列设为文本后重新输入",
        "the citizen ID was stored as a number and its last digits were lost; format the "
        "column as text and type it again",
        "电子表格的数字只保留十五位有效数字，十八位号码存为数字后末尾几位会丢失。"
        "请先把该列设为文本格式再录入。",
        "Spreadsheets keep 15 significant digits; an 18-digit number loses its last digits.",
    ),
    Rule(
        "ROS-015",
        E,
        "无法对应到党员",
        "Not a known member",
        "“{value}”在已有党员中没有找到，或有同名的多人；请填写党员姓名，同名时填写其记录标识",
        "“{value}” matches no member, or several members of that name; give the member's "
        "name, or their record id when two share it",
        "培养联系人和入党介绍人须是数据包或枢纽中的党员（或同一次导入中党员工作表里的人员）；"
        "先在全部党员中按姓名查找，再在申请人所在党组织内查找。两个姓名之间用顿号或逗号分隔。",
        "Sponsors and introducers must be members of the package or hub (or of a members sheet "
        "of the same import); names are matched first across all members, then within the "
        "applicant's organisation. Separate two names with 、 or a comma.",
    ),
    Rule(
        "ROS-016",
        E,
        "无法确定所在党组织",
        "No organisation",
        "所在党组织为空，且未指定上级党组织；请填写所在党支部的名称",
        "the organisation is empty and no --organisation was given",
        "请填写所在党支部一列，或在导入时为整份花名册指定所属党组织。",
        "Fill in the branch column or pass --organisation for the whole roster.",
    ),
    Rule(
        "ROS-017",
        E,
        "学时无法识别",
        "Unreadable hours",
        "“{value}”不是学时数；请填写 0 至 1000 之间的整数，例如 32",
        "“{value}” is not a number of class hours; give a whole number from 0 to 1000, e.g. 32",
        "发展对象的集中培训学时为整数；数字后带“学时”或“课时”也能识别。",
        "The training hours of a candidate (集中培训学时) are a whole number; 学时 or 课时 after "
        "it is accepted.",
    ),
    Rule(
        "ROS-020",
        E,
        "同一人重复出现",
        "Same person twice",
        "该公民身份号码已在第 {first} 行出现，本行未导入；请核对号码或删除重复的行",
        "this citizen ID already appears in row {first}; this row was not imported",
        "一人只建一份党员记录：每个公民身份号码只保留一行。",
        "One person is one member: keep one row per citizen ID.",
    ),
    Rule(
        "ROS-030",
        E,
        "枢纽拒绝",
        "Refused by the hub",
        "枢纽未接受本行（状态码 {status}）",
        "the hub refused this row: {detail}",
        "枢纽对该行返回了错误，且该错误不对应标准中的任何规则。",
        "The hub answered this line with an error that names no rule of the standard.",
    ),
)

ROSTER_RULES: dict[str, Rule] = {r.id: r for r in _CATALOGUE}


def roster_rule(rule_id: str) -> Rule:
    """The roster rule ``rule_id`` (``ROS-012``); ``KeyError`` when unknown."""
    return ROSTER_RULES[rule_id]
