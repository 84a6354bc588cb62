"""``GET /v1/stats``: the numbers match the records, and a branch sees only its branch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tongxin.server import create_token, open_hub

from .conftest import Backend, Server, organisation, person, uid

TODAY = date.today()
LAST_MONTH_END = TODAY.replace(day=1) - timedelta(days=1)
LAST_MONTH = LAST_MONTH_END.replace(day=1)
TERM_ENDS_SOON = TODAY + timedelta(days=30)
REQUIRED = ("general-meeting", "party-lecture", "committee-meeting", "group-meeting")


def _years(n: int) -> timedelta:
    return timedelta(days=365 * n + n // 4)  # close enough: the test dates sit mid-window


def _activity(org: str, kind: str) -> dict[str, Any]:
    day = LAST_MONTH + timedelta(days=9)
    return {
        "id": uid("a"),
        "organisationId": org,
        "type": kind,
        "startTime": f"{day.isoformat()}T09:00:00+08:00",
        "endTime": f"{day.isoformat()}T10:00:00+08:00",
        "topic": "学习讨论",
        "attendance": [],
    }


def _dues(member: str) -> dict[str, Any]:
    return {
        "id": uid("d"),
        "memberId": member,
        "period": f"{LAST_MONTH:%Y-%m}",
        "memberClass": "salaried",
        "base": "3000.00",
        "amount": "15.00",
        "paidDate": (LAST_MONTH + timedelta(days=19)).isoformat(),
    }


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


@dataclass
class Tree:
    ids: dict[str, str]
    members: dict[str, list[dict[str, Any]]]
    branch_a: httpx.Client


def _member(org: str, n: int) -> dict[str, Any]:
    record = person(org)
    while record["category"] != "full":  # a random probationer would change the branch sizes
        record = person(org)
    if n % 3 == 0:
        record.update(education="31", ethnicity="03")
    if n % 4 == 0:
        record.pop("education")
    return record


@pytest.fixture(scope="module")
def tree(server: Server, backend: Backend) -> Iterator[Tree]:
    admin = server.client()
    root = organisation()
    assert admin.post("/v1/organisations", json=root).status_code == 201
    ids = {"root": root["id"]}
    terms = {
        "a": {"termYears": 3, "electedDate": (TERM_ENDS_SOON - _years(3)).isoformat()},
        "b": {"termYears": 5, "electedDate": (TODAY.replace(day=1) - _years(6)).isoformat()},
        "small": {},
    }
    for name in ("a", "b", "small"):
        branch = organisation(root["id"], name=f"第{name}支部", **terms[name])
        assert admin.post("/v1/organisations", json=branch).status_code == 201
        ids[name] = branch["id"]
    members: dict[str, list[dict[str, Any]]] = {"a": [], "b": [], "small": []}
    for where, count in (("a", 7), ("b", 4), ("small", 2)):
        for n in range(count):
            record = _member(ids[where], n)
            made = admin.post("/v1/members", json=record)
            assert made.status_code == 201, made.text
            members[where].append(record)
    year_ago = _year_before(TODAY)
    for joined in (year_ago + timedelta(days=10), year_ago - timedelta(days=5)):
        record = person(ids["a"], category="probationary", joinedDate=joined.isoformat())
        record.pop("fullMembershipDate", None)
        made = admin.post("/v1/members", json=record)
        assert made.status_code == 201, made.text
        members["a"].append(record)
    for where, kinds in (("a", REQUIRED), ("b", ("committee-meeting",))):
        for kind in kinds:
            assert admin.post("/v1/activities", json=_activity(ids[where], kind)).status_code == 201
    for record in (members["a"][0], members["a"][0], members["a"][1]):
        made = admin.post("/v1/duesPayments", json=_dues(record["id"]))
        assert made.status_code == 201, made.text
    left = person(ids["a"], status="deceased")
    assert admin.post("/v1/members", json=left).status_code == 201
    hub = open_hub(backend.settings())
    try:
        token = create_token(hub.db, ["records:read"], organisation_id=ids["a"])
    finally:
        hub.close()
    with server.client(token) as branch_a:
        yield Tree(ids, members, branch_a)
    admin.close()


def _counts(items: list[dict[str, Any]]) -> dict[str | None, int]:
    return {item["code"]: item["count"] for item in items if item["count"]}


def _age(birth: str) -> int:
    born = date.fromisoformat(birth)
    return TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))


def _band(age: int) -> str:
    for i, top in enumerate((30, 40, 50, 60, 70)):
        if age <= top:
            return str(i)
    return "5"


def _expected(records: list[dict[str, Any]]) -> dict[str, dict[str | None, int]]:
    def count(key: Any) -> dict[str | None, int]:
        return dict(Counter(key(r) for r in records))

    return {
        "byCategory": count(lambda r: r["category"]),
        "byGender": count(lambda r: r["gender"]),
        "byEthnicity": count(lambda r: r.get("ethnicity")),
        "byEducation": count(lambda r: r["education"][0] if r.get("education") else None),
        "byAgeBand": count(lambda r: _band(_age(r["birthDate"]))),
    }


def test_member_breakdowns_match_the_records(server: Server, tree: Tree) -> None:
    with server.client() as admin:
        stats = admin.get("/v1/stats", params={"organisationId": tree.ids["root"]}).json()
    everyone = [r for where in ("a", "b", "small") for r in tree.members[where]]
    assert stats["members"]["total"] == len(everyone)
    for key, want in _expected(everyone).items():
        assert _counts(stats["members"][key]) == want, key
    assert _counts(stats["members"]["byStatus"]) == {"normal": len(everyone), "deceased": 1}


def test_branches_by_size_and_those_under_three_full_members(server: Server, tree: Tree) -> None:
    with server.client() as admin:
        branches = admin.get("/v1/stats", params={"organisationId": tree.ids["root"]}).json()[
            "branches"
        ]
    assert branches["total"] == 3
    assert _counts(branches["bySize"]) == {"0-2": 1, "3-6": 1, "7-50": 1}
    under = {item["id"]: item for item in branches["underThreeFull"]["items"]}
    full_small = sum(r["category"] == "full" for r in tree.members["small"])
    assert set(under) == {tree.ids["small"]}
    assert under[tree.ids["small"]]["fullMembers"] == full_small
    assert branches["underThreeFull"]["count"] == 1


def test_probationary_members_due_and_overdue(tree: Tree) -> None:
    probation = tree.branch_a.get("/v1/stats").json()["probation"]
    probationers = [r for r in tree.members["a"] if r["category"] == "probationary"]
    year_ago = _year_before(TODAY).isoformat()
    overdue = {r["id"] for r in probationers if r["joinedDate"] < year_ago}
    due = {r["id"] for r in probationers if r["joinedDate"] >= year_ago}
    assert {i["id"] for i in probation["overdue"]["items"]} == overdue
    assert {i["id"] for i in probation["dueWithin30Days"]["items"]} >= due
    assert probation["overdue"]["count"] == len(overdue)


def test_a_branch_token_counts_only_its_branch(server: Server, tree: Tree) -> None:
    mine = tree.branch_a.get("/v1/stats").json()
    assert mine["members"]["total"] == len(tree.members["a"])
    assert mine["branches"]["total"] == 1
    with server.client() as admin:
        same = admin.get("/v1/stats", params={"organisationId": tree.ids["a"]}).json()
    assert same["members"] == mine["members"]
    for other in (tree.ids["b"], tree.ids["root"], "test-hub:nowhere"):
        refused = tree.branch_a.get("/v1/stats", params={"organisationId": other})
        assert refused.status_code == 404, other
        assert refused.json()["detail"] == f"organisations/{other} does not exist"


def test_meetings_dues_and_committee_terms(server: Server, tree: Tree) -> None:
    period = {"from": LAST_MONTH.isoformat(), "to": LAST_MONTH_END.isoformat()}
    with server.client() as admin:
        stats = admin.get("/v1/stats", params={"organisationId": tree.ids["root"], **period})
    assert stats.status_code == 200, stats.text
    meetings = stats.json()["meetings"]
    assert meetings["branches"] == 3
    assert meetings["branchesComplete"] == 1
    by_branch = {item["id"]: item for item in meetings["items"]}
    assert by_branch[tree.ids["a"]]["complete"]
    assert by_branch[tree.ids["b"]]["held"] == dict.fromkeys(REQUIRED, 0) | {"committee-meeting": 1}
    by_type = {item["code"]: item for item in meetings["byType"]}
    assert all(by_type[k]["required"] == 1 for k in REQUIRED)
    assert by_type["committee-meeting"]["branchesMeeting"] == 2
    (month,) = stats.json()["dues"]["byMonth"]
    assert month["code"] == f"{LAST_MONTH:%Y-%m}"
    assert month["count"] == 2  # two members paid (one of them twice)
    committees = tree.branch_a.get("/v1/stats").json()["committees"]
    assert [i["id"] for i in committees["endingWithin90Days"]["items"]] == [tree.ids["a"]]
    assert committees["ended"]["count"] == 0  # branch b's ended term is not branch a's to see
    with server.client() as admin:
        everyone = admin.get("/v1/stats", params={"organisationId": tree.ids["root"]}).json()
    assert [i["id"] for i in everyone["committees"]["ended"]["items"]] == [tree.ids["b"]]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-13-01"},
        {"from": "2026-06-01", "to": "2026-01-01"},
        {"organisationId": ""},
        {"to": "0001-01-01"},
        {"from": "9999-12-31"},
    ],
)
def test_bad_parameters_are_refused_with_a_reason(tree: Tree, params: dict[str, str]) -> None:
    refused = tree.branch_a.get("/v1/stats", params=params)
    assert refused.status_code == 400, refused.text
    assert refused.json()["detailZh"]
