"""The record models of version 1.1: what 1.1 adds to 1.0, and the models of every version.

1.1 only adds (``spec/standard.md`` §6): the organisation types of local committees and more
grass-roots kinds, an organisation's leading body (``leaders``, codelist ``party-post``) and the
record type ``Applicant`` (package key ``applicants``) for the path into the Party.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from . import _models as v10
from ._fields import CodeOf, RecordId
from ._fields import field as f

__all__ = [
    "MODELS",
    "NESTED",
    "PACKAGES",
    "RECORD_TYPES",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "Applicant",
    "Leader",
    "Organisation",
    "Package",
]

SCHEMA_VERSION = "1.1"
SCHEMA_VERSIONS = ("1.0", "1.1")
Name = v10.Name


class Leader(v10.WireModel):
    """领导成员。
    One member of an organisation's leading body: its secretary, deputies and committee."""

    member_id: RecordId | None = f(
        "党员",
        "Member",
        default=None,
        zh_desc="本人的党员记录",
        en_desc="The person's member record",
    )
    name: v10.PersonName
    post: Annotated[str, CodeOf("party-post", "1.1")] = f("职务", "Post")
    since: date | None = f("任职日期", "Since", default=None)
    until: date | None = f(
        "离任日期", "Until", default=None, zh_desc="在任者不填", en_desc="Absent while in office"
    )


class Organisation(v10.Organisation):
    """党组织：地方党委、工委、基层党委、总支、支部、联合支部、临时支部、党小组等。
    A Party organisation: local committee, working committee, primary committee, general branch,
    branch, joint or temporary branch, group."""

    type: Annotated[str, CodeOf("organisation-type", "1.1")] = f("组织类别", "Type")
    leaders: list[Leader] | None = f(
        "领导成员",
        "Leaders",
        default=None,
        zh_desc="书记、副书记和委员，含已离任者",
        en_desc="Secretary, deputies and committee members, past ones included",
    )


class Applicant(v10.Record):
    """入党申请人：从递交入党申请书到接收为预备党员（发展党员工作细则）。
    A person on the path into the Party, from the application to admission as a probationary
    member."""

    collection = "applicants"
    schema_name = "applicant"
    titles = ("入党申请人", "Applicant")

    name: v10.PersonName
    gender: Annotated[v10.Gender, CodeOf("gender", "1.1")]
    birth_date: v10.BirthDate
    citizen_id: v10.PersonCitizenId = None
    phone: v10.PersonPhone = None
    organisation_id: RecordId = f(
        "所在党组织",
        "Organisation",
        zh_desc="受理申请的党组织",
        en_desc="The organisation that received the application",
    )
    stage: Annotated[str, CodeOf("applicant-stage", "1.1")] = f("发展阶段", "Stage")
    application_date: date = f(
        "申请日期",
        "Application date",
        zh_desc="递交入党申请书之日",
        en_desc="The day the written application was handed in",
    )
    talk_date: date | None = f(
        "谈话日期",
        "Talk date",
        default=None,
        zh_desc="党组织派人谈话之日",
        en_desc="The day the organisation talked with the applicant",
    )
    activist_date: date | None = f("确定为积极分子日期", "Activist since", default=None)
    candidate_date: date | None = f("确定为发展对象日期", "Candidate since", default=None)
    training_hours: int | None = f("集中培训学时", "Training hours", default=None, ge=0, le=1000)
    sponsors: list[RecordId] | None = f(
        "培养联系人",
        "Sponsors",
        default=None,
        max_length=2,
        zh_desc="一至两名正式党员",
        en_desc="One or two full members",
    )
    introducers: list[RecordId] | None = f(
        "入党介绍人",
        "Introducers",
        default=None,
        max_length=4,
        zh_desc="两名正式党员",
        en_desc="Two full members",
    )
    branch_vote_date: date | None = f(
        "支部大会讨论日期",
        "Branch vote",
        default=None,
        zh_desc="即入党日期",
        en_desc="The joining date",
    )
    approval_date: date | None = f("上级党委审批日期", "Approved", default=None)
    member_id: RecordId | None = f(
        "党员记录",
        "Member record",
        default=None,
        zh_desc="接收为预备党员后的党员记录",
        en_desc="The member record once admitted",
    )


RECORD_TYPES: tuple[type[v10.Record], ...] = (
    Organisation,
    v10.Member,
    v10.Activity,
    v10.DuesPayment,
    v10.Transfer,
    Applicant,
)


class Package(v10.Package):
    """数据交换包。
    The exchange document: records of every type from one publisher."""

    schema_version: Literal["1.1"] = f("标准版本", "Schema version")  # type: ignore[assignment]
    organisations: list[Organisation] = f("党组织", "Organisations", default_factory=list)  # type: ignore[assignment]
    applicants: list[Applicant] = f("入党申请人", "Applicants", default_factory=list)


#: The record types and the package model of every version.
MODELS: dict[str, tuple[type[v10.Record], ...]] = {"1.0": v10.RECORD_TYPES, "1.1": RECORD_TYPES}
PACKAGES: dict[str, type[BaseModel]] = {"1.0": v10.Package, "1.1": Package}
#: Nested object models by their ``$defs`` name.
NESTED: dict[str, type[BaseModel]] = {"Attendance": v10.Attendance, "Leader": Leader}
_ = Field
