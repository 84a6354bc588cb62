"""An orphan (a replica whose owner hub was restored from a backup and no longer holds it,
``spec/federation.md`` §4.5) is never served as a current record: a read answers 410
``orphaned`` unless the caller asks for it with ``?orphaned=include`` (then 200 and
``Tongxin-Orphaned: true``), and lists leave orphans out unless asked (``include`` or
``only``). On both databases, through a real ``tongxin serve`` (the fast read path included).
The live federation scenario is ``tests/federation/test_restored_peer.py``."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update

from tongxin.server import Hub, create_token
from tongxin.server._tables import records

from .conftest import Server, organisation, person
from .test_records import assert_problem


def _orphan(hub: Hub, rid: str, flag: int = 2) -> None:
    """Flag ``rid`` as the re-sync after its owner's restore leaves it."""
    with hub.db.write() as conn:
        conn.execute(update(records).where(records.c.id == rid).values(orphan=flag))


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _listed(api: httpx.Client, org: str, **params: Any) -> list[str]:
    """Every id of the list (following ``next``) for members of ``org``."""
    got: list[str] = []
    response = api.get("/v1/members", params={"organisationId": org, "limit": 1, **params})
    while True:
        got += _ids(response)
        nxt = response.json()["next"]
        if nxt is None:
            return got
        response = api.get(nxt)


def test_an_orphan_is_gone_unless_asked_for(
    server: Server, api: httpx.Client, hub: Hub, tree: dict[str, str]
) -> None:
    kept, lost = person(tree["a"]), person(tree["a"])
    for record in (kept, lost):
        assert api.post("/v1/members", json=record).status_code == 201
    url = f"/v1/members/{lost['id']}"
    assert api.get(url).status_code == 200  # caches the token: later reads take the fast path
    _orphan(hub, lost["id"])

    for _ in range(2):  # the fast path and the route answer alike
        gone = assert_problem(api.get(url), 410, "orphaned")
    assert gone["owner"] == "test-hub"
    assert gone["currentVersion"] == 1
    assert gone["read"] == "?orphaned=include"
    assert lost["id"] in gone["detail"]
    assert lost["id"] in gone["detailZh"]
    assert "orphaned=include" in gone["detail"]

    read = api.get(url, params={"orphaned": "include"})
    assert read.status_code == 200, read.text
    assert read.headers["tongxin-orphaned"] == "true"
    assert read.headers["etag"] == '"1"'
    body = read.json()
    assert (body["id"], body["citizenId"]) == (lost["id"], lost["citizenId"])
    current = api.get(f"/v1/members/{kept['id']}", params={"orphaned": "include"})
    assert current.status_code == 200
    assert "tongxin-orphaned" not in current.headers
    assert "tongxin-orphaned" not in api.get(f"/v1/members/{kept['id']}").headers

    # Lists: left out by default, with the others on `include`, alone on `only`; `next` keeps
    # the choice.
    org = tree["a"]
    assert sorted(_listed(api, org)) == [kept["id"]]
    assert sorted(_listed(api, org, orphaned="include")) == sorted([kept["id"], lost["id"]])
    assert _listed(api, org, orphaned="only") == [lost["id"]]
    assert_problem(api.get("/v1/members", params={"orphaned": "yes"}), 400, "invalid-parameter")
    assert_problem(api.get(url, params={"orphaned": "only"}), 400, "invalid-parameter")

    # A record not yet seen again during a re-sync (flag 1) is still current.
    _orphan(hub, lost["id"], 1)
    assert api.get(url).status_code == 200
    assert sorted(_listed(api, org)) == sorted([kept["id"], lost["id"]])
    _orphan(hub, lost["id"])

    # A subtree token outside the orphan's subtree learns nothing, asked or not.
    outside = create_token(hub.db, ["records:read"], organisation_id=tree["b"])
    inside = create_token(hub.db, ["records:read"], organisation_id=tree["a"])
    with server.client(outside) as other:
        assert_problem(other.get(url), 404, "not-found")
        assert_problem(other.get(url, params={"orphaned": "include"}), 404, "not-found")
        assert _ids(other.get("/v1/members", params={"orphaned": "only"})) == []
    with server.client(inside) as branch:
        assert_problem(branch.get(url), 410, "orphaned")
        shown = branch.get(url, params={"orphaned": "include"})
        assert shown.status_code == 200
        assert "citizenId" not in shown.json()  # no records:read-sensitive
        assert _ids(branch.get("/v1/members", params={"orphaned": "only"})) == [lost["id"]]


def test_an_orphan_sent_again_by_its_owner_is_current_again(api: httpx.Client, hub: Hub) -> None:
    """The flag is all that hides it: cleared (as a later change from the owner clears it), the
    record reads and lists as before."""
    org = organisation()
    assert api.post("/v1/organisations", json=org).status_code == 201
    record = person(org["id"])
    assert api.post("/v1/members", json=record).status_code == 201
    _orphan(hub, record["id"])
    assert api.get(f"/v1/members/{record['id']}").status_code == 410
    _orphan(hub, record["id"], 0)
    assert api.get(f"/v1/members/{record['id']}").status_code == 200
    assert _listed(api, org["id"]) == [record["id"]]
