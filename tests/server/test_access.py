"""Organisation-subtree tokens, rate limits and the append-only audit log."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import exc, text

from tongxin.server import Hub, create_token

from .conftest import Server, organisation, person
from .test_records import assert_problem


def test_branch_token_sees_and_writes_only_its_subtree(
    server: Server, api: httpx.Client, tree: dict[str, str], hub: Hub
) -> None:
    ours, theirs = person(tree["a"]), person(tree["b"])
    assert api.post("/v1/members", json=ours).status_code == 201
    assert api.post("/v1/members", json=theirs).status_code == 201
    token = create_token(hub.db, ["records:read", "records:write"], organisation_id=tree["a"])
    with server.client(token) as branch:
        assert branch.get(f"/v1/members/{ours['id']}").status_code == 200
        assert_problem(branch.get(f"/v1/members/{theirs['id']}"), 404, "not-found")
        listed = branch.get("/v1/members?limit=1000").json()["items"]
        assert {m["organisationId"] for m in listed} == {tree["a"]}
        orgs = {o["id"] for o in branch.get("/v1/organisations?limit=1000").json()["items"]}
        assert orgs == {tree["a"]}
        body = assert_problem(
            branch.post("/v1/members", json=person(tree["b"])), 403, "outside-subtree"
        )
        assert body["errors"][0]["rule"] == "REF-002"
        assert branch.post("/v1/members", json=person(tree["a"])).status_code == 201
        group = organisation(tree["a"], type="party-group", name="第一党小组")
        assert branch.post("/v1/organisations", json=group).status_code == 201
        assert_problem(
            branch.post("/v1/organisations", json=organisation()), 403, "outside-subtree"
        )
        changes = branch.get("/v1/changes?limit=10000").json()["items"]
        assert changes
        assert theirs["id"] not in {c["id"] for c in changes}


def test_a_token_whose_organisation_is_gone_sees_nothing_and_never_fails(
    server: Server, api: httpx.Client, tree: dict[str, str], hub: Hub
) -> None:
    """Its subtree is a prefix no tree path has (on PostgreSQL too, which refuses a NUL in
    text): every list answers 200 with nothing in it."""
    gone = organisation(tree["root"], name="撤销的支部")
    assert api.post("/v1/organisations", json=gone).status_code == 201
    token = create_token(
        hub.db, ["records:read", "records:read-sensitive"], organisation_id=gone["id"]
    )
    assert (
        api.delete(f"/v1/organisations/{gone['id']}", headers={"If-Match": '"1"'}).status_code
        == 204
    )
    assert api.post("/v1/members", json=person(tree["a"])).status_code == 201
    with server.client(token) as orphaned:
        for path in ("/v1/members?limit=100", "/v1/members?count=true", "/v1/organisations"):
            answer = orphaned.get(path)
            assert answer.status_code == 200, (path, answer.text[:300])
            assert answer.json()["items"] == []
        assert orphaned.get("/v1/changes?limit=100").status_code == 200
        assert {c["id"] for c in orphaned.get("/v1/changes?limit=100").json()["items"]} <= {
            gone["id"]
        }
        found = orphaned.post("/v1/members/search", json={"name": "王"})
        assert found.status_code == 200, found.text[:300]
        assert found.json()["items"] == []


def test_rate_limit_per_token(server: Server, hub: Hub) -> None:
    token = create_token(hub.db, ["records:read"], rate_limit=1)
    with server.client(token) as slow:
        statuses = [slow.get("/v1/organisations?limit=1").status_code for _ in range(14)]
        assert statuses[:10] == [200] * 10
        assert 429 in statuses
        limited = slow.get("/v1/organisations?limit=1")
        assert_problem(limited, 429, "rate-limited")
        assert int(limited.headers["retry-after"]) >= 1


def test_every_write_is_audited_and_the_log_is_append_only(
    api: httpx.Client, tree: dict[str, str], hub: Hub
) -> None:
    record = person(tree["a"])
    api.post("/v1/members", json=record)
    api.put(
        f"/v1/members/{record['id']}",
        json={**record, "workUnit": "某单位"},
        headers={"If-Match": '"1"'},
    )
    api.delete(f"/v1/members/{record['id']}", headers={"If-Match": '"2"'})
    entries, url = [], "/v1/audit?limit=1000"
    while url:
        page = api.get(url).json()
        entries += page["items"]
        url = page["next"]
    mine = [
        (e["action"], e["beforeVersion"], e["afterVersion"])
        for e in entries
        if e["id"] == record["id"]
    ]
    assert mine == [("create", None, 1), ("update", 1, 2), ("delete", 2, 3)]
    assert all(e["tokenId"] for e in entries)
    for statement in ("UPDATE audit SET action = 'x'", "DELETE FROM audit"):
        with pytest.raises(exc.DatabaseError), hub.db.write() as conn:
            conn.execute(text(statement))
