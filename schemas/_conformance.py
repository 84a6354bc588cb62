"""The conformance examples of the standard: one valid package, and for every rule a package
that breaks exactly that rule. ``spec/examples/`` holds them as files, ``spec/rules.md`` shows
them, and the tests check that each is reported as documented.

Regenerate with ``python -m tongxin.schemas._conformance spec``.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ._checkdigits import citizen_id_check
from ._rules import RULES

__all__ = ["MUTATIONS", "invalid_example", "valid_for", "valid_package", "write_examples"]

Package = dict[str, Any]
_STAMP = "2026-01-01T08:00:00+08:00"


def _record(kind: str, n: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"demo:{kind}{n}", "version": 1, "updatedAt": _STAMP, **fields}


def _citizen_id(birth: str, seq: int) -> str:
    first17 = f"510107{birth.replace('-', '')}{seq:03d}"
    return first17 + citizen_id_check(first17)


_NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨帆", "黄磊", "赵丽", "吴强", "周杰", "徐芳"]


def _member(
    n: int, birth: str, seq: int, joined: str, *, full: bool = True, org: str = "demo:o1"
) -> dict[str, Any]:
    record = _record(
        "m", n, name=_NAMES[n],
        gender="1" if seq % 2 else "2", ethnicity="01", birthDate=birth,
        citizenId=_citizen_id(birth, seq), education="21", organisationId=org,
        category="full" if full else "probationary", joinedDate=joined, status="normal",
        workUnit="示范县人民政府办公室",
    )  # fmt: skip
    if full:
        record["fullMembershipDate"] = f"{int(joined[:4]) + 1}{joined[4:]}"
    return record


def valid_package() -> Package:
    """A small package that passes every rule (reference date: its ``publishedAt``)."""
    return {
        "schemaVersion": "1.0",
        "publisher": "demo",
        "publishedAt": _STAMP,
        "organisations": [
            _record(
                "o",
                0,
                name="中共示范县委直属机关委员会",
                type="primary-committee",
                divisionCode="510107",
                establishedDate="1990-07-01",
                creditCode="91110108MA01ABCD5T",
                termYears=5,
                electedDate="2023-06-01",
            ),
            _record(
                "o",
                1,
                name="示范县人民政府办公室党支部",
                type="branch",
                parentId="demo:o0",
                divisionCode="510107",
                termYears=3,
                electedDate="2024-03-01",
            ),
        ],
        "members": [
            _member(0, "1985-06-15", 29, "2010-07-01"),  # check character X
            _member(1, "1990-03-02", 42, "2015-06-30"),
            _member(2, "1978-11-20", 11, "2001-07-01"),
            _member(3, "1995-01-09", 87, "2019-12-20"),
            _member(4, "2000-02-29", 64, "2025-06-01", full=False),
        ],
        "activities": [
            _record(
                "a",
                0,
                organisationId="demo:o1",
                type="general-meeting",
                startTime="2025-12-10T14:30:00+08:00",
                endTime="2025-12-10T16:30:00+08:00",
                topic="学习贯彻党的二十届四中全会精神",
                location="三楼会议室",
                presenter="王伟",
                recorder="李娜",
                attendance=[{"memberId": f"demo:m{n}", "status": "present"} for n in range(5)],
                decisions="同意按期转正预备党员一名",
            )
        ],
        "duesPayments": [
            _record(
                "d",
                0,
                memberId="demo:m0",
                period="2025-12",
                memberClass="salaried",
                base="4000.00",
                amount="40.00",
                paidDate="2025-12-20",
            )
        ],
        "transfers": [
            _record(
                "t",
                0,
                memberId="demo:m3",
                fromOrganisationId="demo:o1",
                toOrganisationId="cd-wuhou:o17",
                reason="work-unit-change",
                duesPaidUntil="2025-12",
                issuedDate="2025-12-15",
                validDays=90,
                state="issued",
                letterNumber="DEMO-2025-0001",
            )
        ],
    }


def _leader(name: str, post: str, member: str | None, since: str = "2024-03-01") -> dict[str, Any]:
    leader = {"memberId": member, "name": name, "post": post, "since": since}
    return {k: v for k, v in leader.items() if v is not None}


def _applicant(n: int, birth: str, seq: int, stage: str, **fields: Any) -> dict[str, Any]:
    return _record(
        "p", n, name=["孙悦", "马超", "朱琳", "胡斌", "郭静"][n],
        gender="1" if seq % 2 else "2", birthDate=birth, citizenId=_citizen_id(birth, seq),
        organisationId="demo:o3", stage=stage, **fields,
    )  # fmt: skip


def valid_package_11() -> Package:
    """A 1.1 package that passes every rule: a county committee, two township committees,
    branches with their leaders, and applicants at every stage (reference date: its
    ``publishedAt``)."""
    org = "demo:o3"
    return {
        "schemaVersion": "1.1",
        "publisher": "demo",
        "publishedAt": _STAMP,
        "organisations": [
            _record(
                "o", 0, name="中共示范县委员会", type="county-committee", divisionCode="510107",
                termYears=5, electedDate="2021-09-20",
                leaders=[_leader("王伟", "secretary", "demo:m0", "2021-09-20")],
            ),
            _record(
                "o", 1, name="中共示范县城关镇委员会", type="township-committee",
                parentId="demo:o0", divisionCode="510107",
                leaders=[_leader("李娜", "secretary", "demo:m1", "2021-06-01")],
            ),
            _record(
                "o", 2, name="中共示范县河西乡委员会", type="township-committee",
                parentId="demo:o0", divisionCode="510107",
            ),
            _record(
                "o", 3, name="城关镇机关党支部", type="branch", parentId="demo:o1",
                termYears=3, electedDate="2024-03-01",
                leaders=[
                    _leader("张敏", "secretary", "demo:m2"),
                    _leader("刘洋", "deputy-secretary", "demo:m3"),
                    _leader("陈静", "organisation-member", "demo:m4"),
                    _leader("杨帆", "propaganda-member", "demo:m5"),
                    _leader("黄磊", "discipline-member", "demo:m6"),
                    _leader("王伟", "secretary", "demo:m0", "2021-03-01") | {"until": "2024-03-01"},
                ],
            ),
            _record(
                "o", 4, name="河西乡河西村党支部", type="branch", parentId="demo:o2",
                termYears=5, electedDate="2021-05-10",
                leaders=[_leader("吴强", "secretary", "demo:m8", "2021-05-10")],
            ),
        ],
        "members": [
            _member(0, "1975-04-02", 15, "2000-07-01", org=org),
            _member(1, "1980-08-19", 22, "2004-06-30", org=org),
            _member(2, "1985-06-15", 31, "2010-07-01", org=org),
            _member(3, "1990-03-02", 42, "2015-06-30", org=org),
            _member(4, "1978-11-20", 11, "2001-07-01", org=org),
            _member(5, "1995-01-09", 87, "2019-12-20", org=org),
            _member(6, "1988-12-01", 55, "2012-05-04", org=org),
            _member(7, "2001-05-06", 64, "2025-06-20", org=org, full=False),
            _member(8, "1969-02-14", 73, "1995-07-01", org="demo:o4"),
            _member(9, "1972-10-08", 91, "1998-07-01", org="demo:o4"),
            _member(10, "1983-07-27", 26, "2008-07-01", org="demo:o4"),
        ],
        "activities": [],
        "duesPayments": [],
        "transfers": [],
        "applicants": [
            _applicant(
                0, "2003-04-12", 48, "applicant", applicationDate="2025-10-10",
                talkDate="2025-10-20", phone="13800138000",
            ),
            _applicant(
                1, "2000-09-30", 17, "activist", applicationDate="2024-09-01",
                talkDate="2024-09-15", activistDate="2024-12-01",
                sponsors=["demo:m3", "demo:m4"],
            ),
            _applicant(
                2, "1998-01-21", 36, "candidate", applicationDate="2023-03-01",
                talkDate="2023-03-20", activistDate="2023-06-01", candidateDate="2024-07-01",
                sponsors=["demo:m5"], introducers=["demo:m0", "demo:m2"], trainingHours=24,
            ),
            _applicant(
                3, "2001-05-06", 64, "admitted", applicationDate="2023-03-01",
                talkDate="2023-03-15", activistDate="2023-05-01", candidateDate="2024-06-01",
                sponsors=["demo:m1", "demo:m6"], introducers=["demo:m0", "demo:m1"],
                trainingHours=32, branchVoteDate="2025-06-20", approvalDate="2025-08-01",
                memberId="demo:m7",
            ),
            _applicant(
                4, "1996-07-07", 29, "withdrawn", applicationDate="2024-01-10",
                talkDate="2024-01-20",
            ),
        ],
    }  # fmt: skip


def valid_for(rule_id: str) -> Package:
    """The valid package a rule's example starts from: the 1.1 package for the rules 1.1
    adds, the 1.0 package for the others."""
    return valid_package_11() if RULES[rule_id].since == "1.1" else valid_package()


def _set(collection: str, index: int, **changes: Any) -> Callable[[Package], None]:
    def mutate(pkg: Package) -> None:
        record = pkg[collection][index]
        for key, value in changes.items():
            if value is None:
                record.pop(key, None)
            else:
                record[key] = value

    return mutate


def _copy_from(
    collection: str, target: int, source: int, *fields: str
) -> Callable[[Package], None]:
    def mutate(pkg: Package) -> None:
        for name in fields:
            pkg[collection][target][name] = pkg[collection][source][name]

    return mutate


def _lower_x(pkg: Package) -> None:
    member = pkg["members"][0]
    member["citizenId"] = member["citizenId"].lower()


def _wrong_check(field: str, collection: str) -> Callable[[Package], None]:
    def mutate(pkg: Package) -> None:
        record = pkg[collection][0]
        value = record[field]
        record[field] = value[:-1] + ("1" if value[-1] != "1" else "2")

    return mutate


def _both(*steps: Callable[[Package], None]) -> Callable[[Package], None]:
    def mutate(pkg: Package) -> None:
        for step in steps:
            step(pkg)

    return mutate


def _absent(pkg: Package) -> None:
    for entry in pkg["activities"][0]["attendance"][:3]:
        entry["status"] = "absent"
        entry["reason"] = "出差"


def _drop_attendee(index: int) -> Callable[[Package], None]:
    def mutate(pkg: Package) -> None:
        del pkg["activities"][0]["attendance"][index]

    return mutate


def _add_leader(org: int, leader: dict[str, Any]) -> Callable[[Package], None]:
    def mutate(pkg: Package) -> None:
        pkg["organisations"][org]["leaders"].append(leader)

    return mutate


def _keep_leaders(org: int, count: int) -> Callable[[Package], None]:
    def mutate(pkg: Package) -> None:
        record = pkg["organisations"][org]
        record["leaders"] = record["leaders"][:count]

    return mutate


def _set_leader(org: int, index: int, **changes: Any) -> Callable[[Package], None]:
    def mutate(pkg: Package) -> None:
        pkg["organisations"][org]["leaders"][index].update(changes)

    return mutate


#: rule id -> (the pointer its invalid example is reported at, how that example differs from
#: the valid package)
MUTATIONS: dict[str, tuple[str, Callable[[Package], None]]] = {
    "SCH-001": ("/members/0/gender", _set("members", 0, gender="3")),
    "SCH-002": ("/members/3/status", _set("members", 3, status="lost-contact")),
    "MBR-001": ("/members/0/citizenId", _wrong_check("citizenId", "members")),
    "MBR-002": ("/members/0/birthDate", _set("members", 0, birthDate="1985-06-16")),
    "MBR-003": ("/members/0/gender", _set("members", 0, gender="2")),
    "MBR-004": (
        "/members/0/joinedDate",
        _set("members", 0, joinedDate="2003-06-01", fullMembershipDate="2004-06-01"),
    ),
    "MBR-005": (
        "/members/0/fullMembershipDate",
        _set("members", 0, fullMembershipDate="2011-01-01"),
    ),
    "MBR-006": ("/members/0/fullMembershipDate", _set("members", 0, fullMembershipDate=None)),
    "MBR-007": (
        "/members/4/fullMembershipDate",
        _set("members", 4, fullMembershipDate="2026-06-01"),
    ),
    "MBR-008": (
        "/members/0/fullMembershipDate",
        _set("members", 0, fullMembershipDate="2012-08-01"),
    ),
    "MBR-009": ("/members/0/citizenId", _lower_x),
    "ORG-001": ("/organisations/0/creditCode", _wrong_check("creditCode", "organisations")),
    "ORG-002": ("/organisations/0/parentId", _set("organisations", 0, parentId="demo:o1")),
    "ORG-003": (
        "/organisations/1",
        _both(_set("members", 1, status="suspended"), _set("members", 2, status="suspended")),
    ),
    "ORG-004": ("/organisations/1/electedDate", _set("organisations", 1, electedDate="2022-06-01")),
    "PKG-001": ("/members/1/id", _both(_copy_from("members", 1, 0, "id"), _drop_attendee(1))),
    "PKG-002": (
        "/members/1/citizenId",
        _copy_from("members", 1, 0, "citizenId", "birthDate", "gender"),
    ),
    "PKG-003": ("/members/0/organisationId", _set("members", 0, organisationId="demo:o9")),
    "ACT-001": (
        "/activities/0/endTime",
        _set("activities", 0, endTime="2025-12-10T13:30:00+08:00"),
    ),
    "ACT-002": ("/activities/0/attendance", _absent),
    "DUE-001": ("/duesPayments/0/amount", _set("duesPayments", 0, amount="30.00")),
    "DUE-002": ("/duesPayments/0/paidDate", _set("duesPayments", 0, paidDate="2026-07-01")),
    "TRF-001": ("/transfers/0/state", _set("transfers", 0, issuedDate="2025-09-01")),
    "PII-001": ("/activities/0/topic", _set("activities", 0, topic="关于 13800138000 同志的发言")),
    "ORG-005": ("/organisations/2/parentId", _set("organisations", 2, parentId="demo:o3")),
    "ORG-006": ("/organisations/3/leaders", _add_leader(3, _leader("刘洋", "secretary", None))),
    "ORG-007": (
        "/organisations/3/leaders",
        _both(*(_add_leader(3, _leader(n, "committee-member", None)) for n in _NAMES[7:10])),
    ),
    "ORG-008": ("/organisations/3/leaders", _keep_leaders(3, 2)),
    "ORG-009": ("/organisations/4/leaders/0/memberId", _set_leader(4, 0, memberId="demo:m0")),
    "APL-001": (
        "/applicants/0/applicationDate",
        _set("applicants", 0, applicationDate="2021-04-01", talkDate="2021-04-10"),
    ),
    "APL-002": ("/applicants/0/talkDate", _set("applicants", 0, talkDate="2025-12-01")),
    "APL-003": ("/applicants/1/activistDate", _set("applicants", 1, activistDate="2024-08-01")),
    "APL-004": ("/applicants/2/candidateDate", _set("applicants", 2, candidateDate="2024-03-01")),
    "APL-005": (
        "/applicants/2/branchVoteDate",
        _set("applicants", 2, branchVoteDate="2024-05-01"),
    ),
    "APL-006": ("/applicants/3/trainingHours", _set("applicants", 3, trainingHours=16)),
    "APL-007": ("/applicants/2/introducers", _set("applicants", 2, introducers=["demo:m0"])),
    "APL-008": (
        "/applicants/2/introducers/1",
        _set("applicants", 2, introducers=["demo:m0", "demo:m7"]),
    ),
    "APL-009": ("/applicants/3/approvalDate", _set("applicants", 3, approvalDate="2025-10-01")),
    "APL-010": ("/applicants/3/approvalDate", _set("applicants", 3, approvalDate="2026-01-01")),
    "APL-011": ("/applicants/3/memberId", _set("applicants", 3, memberId=None)),
    "APL-012": ("/applicants/3/branchVoteDate", _set("members", 7, joinedDate="2025-06-21")),
}


def invalid_example(rule_id: str) -> Package:
    """The valid package (:func:`valid_for`) with the mutation that breaks ``rule_id``."""
    pkg = copy.deepcopy(valid_for(rule_id))
    MUTATIONS[rule_id][1](pkg)
    return pkg


def _dump(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"


def example_files() -> dict[str, bytes]:
    """Every example file by its path below ``spec/``."""
    files = {
        "examples/package.json": _dump(valid_package()),
        "examples/package-1.1.json": _dump(valid_package_11()),
    }
    for rule_id in RULES:
        files[f"examples/rules/{rule_id}.json"] = _dump(invalid_example(rule_id))
    return files


def write_examples(spec: Path) -> None:
    """Write the example files below ``spec``."""
    for name, data in example_files().items():
        path = spec / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


if __name__ == "__main__":
    write_examples(Path(sys.argv[1]))
