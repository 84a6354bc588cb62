"""The record models of the Tongxin standard: the single source of the published JSON Schema.

Wire names are camelCase (``organisationId``); Python attributes are snake_case. Each model's
docstring is its bilingual description in the published schema (first line zh-CN, second en).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ._fields import Amount, CitizenId, CodeOf, CreditCode, DivisionCode, Period, Phone, RecordId
from ._fields import field as f

__all__ = [
    "RECORD_TYPES",
    "SCHEMA_VERSION",
    "Activity",
    "Attendance",
    "BirthDate",
    "DuesPayment",
    "Gender",
    "Member",
    "Organisation",
    "Package",
    "PersonCitizenId",
    "PersonName",
    "PersonPhone",
    "Record",
    "Transfer",
    "WireModel",
]

SCHEMA_VERSION = "1.0"
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]

# The fields that say who a person is, declared once: a member carries them, and so does an
# applicant of 1.1. A field's default, and ``gender``'s codelist (of its version), stay where
# the field is used.
PersonName = Annotated[Name, f("姓名", "Name")]
Gender = Annotated[str, f("性别", "Gender", zh_desc="GB/T 2261.1", en_desc="GB/T 2261.1")]
BirthDate = Annotated[date, f("出生日期", "Birth date")]
PersonCitizenId = Annotated[
    CitizenId | None,
    f(
        "公民身份号码",
        "Citizen ID",
        zh_desc="GB 11643-1999，敏感个人信息",
        en_desc="GB 11643-1999; sensitive personal data",
    ),
]
PersonPhone = Annotated[
    Phone | None, f("联系电话", "Phone", zh_desc="敏感个人信息", en_desc="Sensitive personal data")
]


class WireModel(BaseModel):
    """camelCase names on the wire, snake_case in Python, and no field the model does not name."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Record(WireModel):
    """Fields every record carries."""

    model_config = ConfigDict(use_enum_values=True)
    #: The key of this record type in a package and in the API paths (``members``).
    collection: ClassVar[str]
    #: The schema file name stem (``member``).
    schema_name: ClassVar[str]
    #: Bilingual title (zh, en).
    titles: ClassVar[tuple[str, str]]

    id: RecordId = f("标识", "Identifier")
    version: int = f(
        "版本", "Version", ge=1, zh_desc="每次修改加一", en_desc="Increases by one on every change"
    )
    updated_at: datetime = f(
        "更新时间", "Updated at", zh_desc="带时区", en_desc="With a time-zone offset"
    )


class Organisation(Record):
    """党组织：党委、总支、支部、联合支部、临时支部、党小组等。
    A Party organisation: committee, general branch, branch, joint or temporary branch, group."""

    collection = "organisations"
    schema_name = "organisation"
    titles = ("党组织", "Organisation")

    name: Name = f("名称", "Name")
    type: Annotated[str, CodeOf("organisation-type")] = f("组织类别", "Type")
    parent_id: RecordId | None = f("上级组织", "Parent organisation", default=None)
    division_code: DivisionCode | None = f(
        "行政区划代码",
        "Division code",
        default=None,
        en_desc="GB/T 2260, six digits",
        zh_desc="GB/T 2260 六位代码",
    )
    established_date: date | None = f("成立日期", "Established", default=None)
    credit_code: CreditCode | None = f(
        "所在单位统一社会信用代码",
        "Host unit credit code",
        default=None,
        zh_desc="GB 32100-2015，所在单位而非党组织",
        en_desc="GB 32100-2015 code of the host unit",
    )
    host_unit: Name | None = f("所在单位", "Host unit", default=None)
    term_years: int | None = f("任期(年)", "Term (years)", default=None, ge=1, le=5)
    elected_date: date | None = f("换届选举日期", "Elected", default=None)


class Member(Record):
    """党员。
    A Party member."""

    collection = "members"
    schema_name = "member"
    titles = ("党员", "Member")

    name: PersonName
    gender: Annotated[Gender, CodeOf("gender")]
    ethnicity: Annotated[str, CodeOf("ethnicity")] | None = f("民族", "Ethnicity", default=None)
    birth_date: BirthDate
    citizen_id: PersonCitizenId = None
    education: Annotated[str, CodeOf("education")] | None = f("学历", "Education", default=None)
    native_place: Name | None = f("籍贯", "Native place", default=None)
    organisation_id: RecordId = f("所在党组织", "Organisation")
    category: Annotated[str, CodeOf("member-category")] = f("党员类别", "Category")
    joined_date: date = f(
        "入党日期",
        "Joined",
        zh_desc="支部大会通过之日",
        en_desc="Date of the accepting general meeting",
    )
    full_membership_date: date | None = f("转正日期", "Full membership", default=None)
    status: Annotated[str, CodeOf("member-status")] = f("党籍状态", "Status")
    lost_contact_since: date | None = f("失联日期", "Lost contact since", default=None)
    lost_contact: bool | None = f(
        "是否失联",
        "Lost contact",
        default=None,
        deprecated="1.0",
        zh_desc="已弃用，改用 lostContactSince",
        en_desc="Deprecated: use lostContactSince",
    )
    phone: PersonPhone = None
    work_unit: Name | None = f("工作单位", "Work unit", default=None)


class Attendance(WireModel):
    """出席记录。
    One person's attendance at an activity."""

    member_id: RecordId = f("党员", "Member")
    status: Annotated[str, CodeOf("attendance-status")] = f("出席情况", "Status")
    reason: Text | None = f("缺席原因", "Reason", default=None)


class Activity(Record):
    """组织生活记录：三会一课、主题党日、组织生活会、民主评议等。
    An organisational-life activity: meetings, lectures, theme days, appraisals."""

    collection = "activities"
    schema_name = "activity"
    titles = ("组织生活", "Activity")

    organisation_id: RecordId = f("党组织", "Organisation")
    type: Annotated[str, CodeOf("activity-type")] = f("类型", "Type")
    start_time: datetime = f("开始时间", "Start")
    end_time: datetime | None = f("结束时间", "End", default=None)
    topic: Text = f("主题", "Topic")
    location: Name | None = f("地点", "Location", default=None)
    presenter: Name | None = f("主持人", "Presenter", default=None)
    recorder: Name | None = f("记录人", "Recorder", default=None)
    attendance: list[Attendance] = f("出席情况", "Attendance", default_factory=list)
    decisions: Text | None = f("决议", "Decisions", default=None)


class DuesPayment(Record):
    """党费缴纳记录（中组发〔2008〕3号）。
    A monthly dues payment."""

    collection = "duesPayments"
    schema_name = "dues-payment"
    titles = ("党费", "Dues payment")

    member_id: RecordId = f("党员", "Member")
    period: Period = f("所属月份", "Period", zh_desc="YYYY-MM", en_desc="YYYY-MM")
    member_class: Annotated[str, CodeOf("member-class")] = f("缴纳类别", "Member class")
    base: Amount | None = f(
        "计算基数", "Base", default=None, zh_desc="元，两位小数", en_desc="Yuan, two decimals"
    )
    amount: Amount = f("金额", "Amount", zh_desc="元，两位小数", en_desc="Yuan, two decimals")
    paid_date: date = f("缴纳日期", "Paid")


class Transfer(Record):
    """组织关系介绍信（电子）。
    An electronic letter of introduction transferring a member between organisations."""

    collection = "transfers"
    schema_name = "transfer"
    titles = ("组织关系转接", "Transfer")

    member_id: RecordId = f("党员", "Member")
    from_organisation_id: RecordId = f("转出党组织", "From organisation")
    to_organisation_id: RecordId = f("转入党组织", "To organisation")
    reason: Annotated[str, CodeOf("transfer-reason")] = f("转接原因", "Reason")
    dues_paid_until: Period | None = f("党费交至", "Dues paid until", default=None)
    issued_date: date = f("开具日期", "Issued")
    valid_days: int = f("有效期(天)", "Valid days", default=90, ge=1, le=180)
    state: Annotated[str, CodeOf("transfer-state")] = f("状态", "State")
    letter_number: Annotated[str, Field(max_length=64)] | None = f(
        "介绍信编号", "Letter number", default=None
    )


RECORD_TYPES: tuple[type[Record], ...] = (Organisation, Member, Activity, DuesPayment, Transfer)


class Package(WireModel):
    """数据交换包。
    The exchange document: records of every type from one publisher."""

    schema_version: Literal["1.0"] = f("标准版本", "Schema version")
    publisher: Name = f(
        "发布者", "Publisher", zh_desc="枢纽标识或平台名称", en_desc="Hub id or platform name"
    )
    published_at: datetime = f("发布时间", "Published at")
    organisations: list[Organisation] = f("党组织", "Organisations", default_factory=list)
    members: list[Member] = f("党员", "Members", default_factory=list)
    activities: list[Activity] = f("组织生活", "Activities", default_factory=list)
    dues_payments: list[DuesPayment] = f("党费", "Dues payments", default_factory=list)
    transfers: list[Transfer] = f("组织关系转接", "Transfers", default_factory=list)
