"""``GET /v1/stats``: dues collection by branch and transfers (in flight, days they took),
counted by the database and scoped by the caller's subtree."""

from __future__ import annotations

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


@dataclass
class World:
    ids: dict[str, str]
    members: dict[str, list[str]]
    branch_y: httpx.Client
    branch_z: httpx.Client


def _transfer(member: str, source: str, target: str, days_ago: int) -> dict[str, Any]:
    return {
        "id": uid("t"),
        "memberId": member,
        "fromOrganisationId": source,
        "toOrganisationId": target,
        "reason": "residence-change",
        "issuedDate": (TODAY - timedelta(days=days_ago)).isoformat(),
        "validDays": 90,
        "state": "issued",
    }


@pytest.fixture(scope="module")
def world(server: Server, backend: Backend) -> Iterator[World]:
    admin = server.client()
    root = organisation(name="县委组织部")
    assert admin.post("/v1/organisations", json=root).status_code == 201
    ids = {"root": root["id"]}
    members: dict[str, list[str]] = {}
    for name, count in (("x", 3), ("y", 2), ("z", 1)):
        branch = organisation(root["id"], name=f"{name}支部")
        assert admin.post("/v1/organisations", json=branch).status_code == 201
        ids[name] = branch["id"]
        members[name] = []
        for _ in range(count):
            record = person(branch["id"])
            assert admin.post("/v1/members", json=record).status_code == 201
            members[name].append(record["id"])
    for member in (*members["x"][:2], members["y"][0], members["x"][0]):
        paid = {
            "id": uid("d"),
            "memberId": member,
            "period": f"{LAST_MONTH:%Y-%m}",
            "memberClass": "salaried",
            "base": "3000.00",
            "amount": "15.00",
            "paidDate": (LAST_MONTH + timedelta(days=5)).isoformat(),
        }
        assert admin.post("/v1/duesPayments", json=paid).status_code == 201
    flying = _transfer(members["x"][2], ids["x"], ids["y"], 10)
    made = admin.post("/v1/transfers", json=flying)
    assert made.status_code == 201, made.text
    done = _transfer(members["x"][1], ids["x"], ids["y"], 40)
    made = admin.post("/v1/transfers", json=done)
    assert made.status_code == 201, made.text
    accepted = {**done, "state": "accepted"}
    put = admin.put(
        f"/v1/transfers/{done['id']}", json=accepted, headers={"If-Match": made.headers["ETag"]}
    )
    assert put.status_code == 200, put.text
    hub = open_hub(backend.settings())
    try:
        token_y = create_token(hub.db, ["records:read"], organisation_id=ids["y"])
        token_z = create_token(hub.db, ["records:read"], organisation_id=ids["z"])
    finally:
        hub.close()
    with server.client(token_y) as branch_y, server.client(token_z) as branch_z:
        yield World(ids, members, branch_y, branch_z)
    admin.close()


def _period() -> dict[str, str]:
    return {"from": LAST_MONTH.isoformat(), "to": LAST_MONTH_END.isoformat()}


def test_dues_by_branch(world: World, api: httpx.Client) -> None:
    stats = api.get("/v1/stats", params={"organisationId": world.ids["root"], **_period()}).json()
    rows = {item["code"]: item for item in stats["dues"]["byBranch"]}
    # x: members 0 and 1 paid (member 0 twice: one member-month), 3 members due one month each
    assert rows[world.ids["x"]]["count"] == 2
    assert rows[world.ids["x"]]["due"] == 3
    assert rows[world.ids["x"]]["rate"] == round(2 / 3, 4)
    assert rows[world.ids["y"]]["count"] == 1
    assert rows[world.ids["y"]]["rate"] == 0.5
    assert rows[world.ids["z"]]["count"] == 0
    assert rows[world.ids["z"]]["rate"] == 0
    mine = world.branch_y.get("/v1/stats", params=_period()).json()
    assert [item["code"] for item in mine["dues"]["byBranch"]] == [world.ids["y"]]


def test_transfers_in_flight_and_days(world: World, api: httpx.Client) -> None:
    stats = api.get("/v1/stats", params={"organisationId": world.ids["root"]}).json()
    transfers = stats["transfers"]
    assert transfers["inFlight"] == 1
    assert {i["code"]: i["count"] for i in transfers["byState"]} == {"issued": 1, "accepted": 1}
    assert {i["code"]: i["count"] for i in transfers["waitingDays"]}["8-30"] == 1
    assert transfers["accepted"] == 1
    assert 39 <= transfers["maxDays"] <= 41
    assert {i["code"]: i["count"] for i in transfers["tookDays"]}["31-90"] == 1
    # y receives both letters, so it sees them; z is in neither
    assert world.branch_y.get("/v1/stats").json()["transfers"]["inFlight"] == 1
    blind = world.branch_z.get("/v1/stats").json()["transfers"]
    assert blind["inFlight"] == 0
    assert blind["accepted"] == 0
    assert blind["byState"] == []
