"""A province-sized package: one planted fault of each kind is reported at its exact pointer,
the same package without faults reports no error, and several processes agree with one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tongxin.schemas import RULES, Issue, validate
from tongxin.schemas._synthetic import SyntheticHub, write_package

HUB = SyntheticHub(members=200_000)
M = 123_457  # a member in the middle of the package (branch 4939, full)
B = M // HUB.per_branch + 1  # its branch


def _replace(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(record: dict[str, Any]) -> dict[str, Any]:
        out = {**record, **changes}
        return {k: v for k, v in out.items() if v is not None}

    return change


def _bad_check(record: dict[str, Any]) -> dict[str, Any]:
    cid = record["citizenId"]
    return {**record, "citizenId": cid[:17] + ("0" if cid[17] != "0" else "1")}


def _absent(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "attendance": [{**e, "status": "absent"} for e in record["attendance"]]}


def _x_check(record: dict[str, Any]) -> dict[str, Any]:
    # 1985-06-15, sequence 029 (male) has check character X: use it in lower case.
    return {**record, "birthDate": "1985-06-15", "gender": "1", "citizenId": "51010719850615029x"}


#: (collection, index, change) -> (rule, pointer): every fault kind, each planted once.
FAULTS: list[tuple[str, int, Callable[[dict[str, Any]], dict[str, Any]], str, str]] = [
    ("members", 1_001, _replace(gender="3"), "SCH-001", "/members/1001/gender"),
    ("members", 2_002, _replace(status="lost-contact"), "SCH-002", "/members/2002/status"),
    ("members", M, _bad_check, "MBR-001", f"/members/{M}/citizenId"),
    ("members", 3_003, _replace(birthDate="1960-01-02"), "MBR-002", "/members/3003/birthDate"),
    ("members", 4_004, lambda r: {**r, "gender": "2" if r["gender"] == "1" else "1"},
     "MBR-003", "/members/4004/gender"),
    ("members", 5_005, _replace(joinedDate="1975-01-01", fullMembershipDate="1976-01-01"),
     "MBR-004", "/members/5005/joinedDate"),
    ("members", 6_006, lambda r: {**r, "fullMembershipDate": r["joinedDate"]},
     "MBR-005", "/members/6006/fullMembershipDate"),
    ("members", 7_007, _replace(fullMembershipDate=None), "MBR-006",
     "/members/7007/fullMembershipDate"),
    ("members", 24, _replace(fullMembershipDate="2026-06-01"), "MBR-007",
     "/members/24/fullMembershipDate"),
    ("members", 8_008, lambda r: {**r, "fullMembershipDate": f"{int(r['joinedDate'][:4]) + 3}"
     + r["joinedDate"][4:]}, "MBR-008", "/members/8008/fullMembershipDate"),
    ("members", 9_009, _x_check, "MBR-009", "/members/9009/citizenId"),
    ("organisations", 10, _replace(creditCode="91110108MA01ABCD5X"), "ORG-001",
     "/organisations/10/creditCode"),
    ("organisations", 0, _replace(parentId=HUB.rid("o", 20)), "ORG-002",
     "/organisations/0/parentId"),
    ("organisations", 30, _replace(electedDate="2020-01-01"), "ORG-004",
     "/organisations/30/electedDate"),
    ("members", 150_000, _replace(organisationId="cd-wuhou:o99999999"), "PKG-003",
     "/members/150000/organisationId"),
    ("activities", 500, _replace(endTime="2025-12-10T12:00:00+08:00"), "ACT-001",
     "/activities/500/endTime"),
    ("activities", 600, _absent, "ACT-002", "/activities/600/attendance"),
    ("duesPayments", 12_012, _replace(amount="1.00"), "DUE-001", "/duesPayments/12012/amount"),
    ("duesPayments", 13_013, _replace(paidDate="2026-08-01"), "DUE-002",
     "/duesPayments/13013/paidDate"),
    ("transfers", 7, _replace(issuedDate="2025-06-01"), "TRF-001", "/transfers/7/state"),
    ("activities", 700, _replace(topic="通报 440304198506151237 同志情况"), "PII-001",
     "/activities/700/topic"),
]  # fmt: skip
#: Faults that need records of their own, appended after the generated ones.
SMALL_BRANCH = {
    "id": "cd-wuhou:o99990000", "version": 1, "updatedAt": "2026-01-01T08:00:00+08:00",
    "name": "新建党支部", "type": "branch", "parentId": HUB.rid("o", 0),
}  # fmt: skip
N_ORGS = -(-HUB.members // HUB.per_branch) + 1
SAME_ID = {
    "id": HUB.rid("m", 11_010), "version": 1, "updatedAt": "2026-01-01T08:00:00+08:00",
    "name": "重号", "gender": "2", "birthDate": "1990-01-01", "organisationId": HUB.rid("o", 1),
    "category": "full", "joinedDate": "2015-01-01", "fullMembershipDate": "2016-01-01",
    "status": "normal",
}  # fmt: skip
TWIN_OF = 17  # the appended member 200001 takes this member's citizen ID
APPENDED = {
    ("organisations", N_ORGS): ("ORG-003", f"/organisations/{N_ORGS}"),
    ("members", HUB.members): ("PKG-001", f"/members/{HUB.members}/id"),
    ("members", HUB.members + 1): ("PKG-002", f"/members/{HUB.members + 1}/citizenId"),
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("planted")
    clean, faulty = folder / "clean.json", folder / "faulty.json"
    write_package(clean, HUB)
    changes = {(c, i): change for c, i, change, _, _ in FAULTS}
    seen: dict[str, Any] = {}

    def plant(collection: str, index: int, record: dict[str, Any]) -> dict[str, Any]:
        if (collection, index) == ("members", TWIN_OF):
            seen.update(record)
        if (collection, index) == ("members", HUB.members + 1):
            twin = {k: seen[k] for k in ("citizenId", "birthDate", "gender")}
            return {**record, **twin, "id": "cd-wuhou:m99990001"}
        change = changes.get((collection, index))
        return change(record) if change else record

    extra = {"organisations": [SMALL_BRANCH], "members": [SAME_ID, SAME_ID]}
    write_package(faulty, HUB, plant=plant, extra=extra)
    return clean, faulty


@pytest.fixture(scope="module")
def faulty_report(planted: tuple[Path, Path]) -> list[Issue]:
    return validate(planted[1], jobs=2).issues


def _found(issues: list[Issue]) -> set[tuple[str, str]]:
    return {(i.rule, i.path) for i in issues}


def test_clean_package_has_no_issue(planted: tuple[Path, Path]) -> None:
    assert validate(planted[0], jobs=2).issues == []


def test_each_planted_fault_at_its_pointer(faulty_report: list[Issue]) -> None:
    expected = {(rule, pointer) for _, _, _, rule, pointer in FAULTS}
    expected |= set(APPENDED.values())
    assert _found(faulty_report) == expected
    # the package is 1.0: every rule of 1.0 is planted (the 1.1 rules in tests/standard/
    # test_versions.py and spec/examples/rules/)
    assert {rule for rule, _ in expected} == {r for r, v in RULES.items() if v.since == "1.0"}


def test_one_process_and_several_agree(
    planted: tuple[Path, Path], faulty_report: list[Issue]
) -> None:
    assert validate(planted[1], jobs=1).issues == faulty_report


def test_several_processes_keep_the_order_of_one(tmp_path: Path) -> None:
    """Cross-record findings (duplicates) come right after the own issues of their record, in
    the middle of a batch too, and members whose ids do not fit the compact bookkeeping mix
    with those that do."""
    hub = SyntheticHub(members=3_000)
    kept: dict[int, dict[str, Any]] = {}

    def plant(collection: str, index: int, record: dict[str, Any]) -> dict[str, Any]:
        if collection != "members":
            return record
        if index in (10, 11):
            kept[index] = record
        if index == 300:  # another member's id, and a wrong check character
            return _bad_check({**record, "id": kept[10]["id"]})
        if index == 301:  # a wrong check character alone
            return _bad_check(record)
        if index == 302:  # another member's citizen ID, and a free-text phone number
            twin = {k: kept[11][k] for k in ("citizenId", "birthDate", "gender")}
            return {**record, **twin, "workUnit": "电话 13812345678"}
        if index == 1_000:  # an id of another shape
            return {**record, "id": "member-one-thousand"}
        if index == 1_500:  # an organisation not in the package
            return {**record, "organisationId": "cd-wuhou:o77777777"}
        return record

    path = tmp_path / "order.json"
    write_package(path, hub, plant=plant, extra={"members": [SAME_ID, SAME_ID]})
    one = validate(path, jobs=1).issues
    assert {"PKG-001", "PKG-002", "PKG-003", "MBR-001", "PII-001"} <= {i.rule for i in one}
    assert validate(path, jobs=2).issues == one
