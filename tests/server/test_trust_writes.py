"""The write path keeps trust, on SQLite and PostgreSQL: records are created only under this
hub's id; an edit never erases what the editor could not see; a refusal seen by a narrow token
says only that a value is taken, never where."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import update

from tongxin.federation import Change, FeedPage
from tongxin.server import Hub, create_token
from tongxin.server._federation import apply_page, get_peer
from tongxin.server._security import TokenStore
from tongxin.server._tables import records
from tongxin.server._writes import Op, apply_batch, keep_unseen, prepare

from .conftest import HUB_ID, Server, known_peer, organisation, person, uid
from .test_feed_and_bulk import bulk, ndjson, results
from .test_records import assert_problem

PEER = "cd-jinjiang"


@pytest.fixture
def narrow(server: Server, hub: Hub) -> Iterator[httpx.Client]:
    """An unrestricted token that reads and writes records but not sensitive fields."""
    with server.client(create_token(hub.db, ["records:read", "records:write"])) as client:
        yield client


def _branch_token(server: Server, hub: Hub, org: str) -> httpx.Client:
    return server.client(
        create_token(hub.db, ["records:read", "records:write"], organisation_id=org)
    )


def _replicate(hub: Hub, record: dict[str, Any], collection: str = "organisations") -> None:
    """Hold ``record`` as a replica owned by the peer hub (as a parent pulling its feed)."""
    if get_peer(hub, PEER) is None:
        known_peer(hub, PEER)
    peer = get_peer(hub, PEER)
    assert peer is not None
    change = Change(collection, record["id"], 1, PEER, False, record)
    assert apply_page(hub, peer, FeedPage((change,), uid("c"), False)) == 1


# -- 2. ownership: only this hub's id ------------------------------------------------------------


def test_a_create_under_another_hubs_id_is_refused_everywhere(
    api: httpx.Client, tree: dict[str, str], hub: Hub
) -> None:
    held = {"id": f"{PEER}:o{uid('x')[-10:]}", "name": "锦江支部", "type": "branch"}
    _replicate(hub, held)
    for prefix in (PEER, "some-platform", "test-hub2"):
        member = {**person(tree["a"]), "id": f"{prefix}:m{uid('')[-10:]}"}
        body = assert_problem(api.post("/v1/members", json=member), 422, "foreign-id")
        assert [(e["pointer"], e["rule"]) for e in body["errors"]] == [("/id", "OWN-002")]
        assert f"{HUB_ID}:" in body["errors"][0]["message"]["zh-CN"]
        assert_problem(
            api.put(f"/v1/members/{member['id']}", json=member, headers={"If-Match": "*"}),
            404,
            "not-found",
        )
        (line,) = results(
            bulk(api, ndjson([{"op": "upsert", "type": "members", "record": member}]))
        )
        assert (line["status"], line["code"], line["problems"][0]["pointer"]) == (
            422,
            "foreign-id",
            "/record/id",
        )
        assert_problem(api.get(f"/v1/members/{member['id']}"), 404, "not-found")
    # the replica itself stays read-only for whoever can see it
    assert_problem(api.post("/v1/organisations", json=held), 409, "replica-read-only")
    # a hub-minted id is always this hub's
    minted = api.post("/v1/members", json={k: v for k, v in person(tree["a"]).items() if k != "id"})
    assert minted.status_code == 201
    assert minted.json()["id"].startswith(f"{HUB_ID}:")


def test_a_record_this_hub_owns_under_another_id_stays_editable(
    api: httpx.Client, hub: Hub
) -> None:
    # as after an accepted transfer: the id keeps the prefix of the hub that minted it, and
    # this hub owns the record
    arrived = {"id": f"{PEER}:o{uid('')[-10:]}", "name": "转入支部", "type": "branch"}
    _replicate(hub, arrived)
    with hub.db.write() as conn:
        conn.execute(
            update(records)
            .where(records.c.collection == "organisations", records.c.id == arrived["id"])
            .values(owner=HUB_ID)
        )
    fixed = api.put(
        f"/v1/organisations/{arrived['id']}",
        json={**arrived, "name": "转入党支部"},
        headers={"If-Match": '"1"'},
    )
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["name"], fixed.json()["version"]) == ("转入党支部", 2)


# -- 6. lossless edits ---------------------------------------------------------------------------


def _stored(api: httpx.Client, rid: str) -> dict[str, Any]:
    response = api.get(f"/v1/members/{rid}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_an_edit_keeps_the_sensitive_fields_the_editor_cannot_see(
    api: httpx.Client, narrow: httpx.Client, tree: dict[str, str]
) -> None:
    member = person(tree["a"], phone="13800138000")
    assert api.post("/v1/members", json=member).status_code == 201
    seen = narrow.get(f"/v1/members/{member['id']}")
    assert {"citizenId", "phone"}.isdisjoint(seen.json())
    same = narrow.put(f"/v1/members/{member['id']}", json=seen.json(), headers={"If-Match": '"1"'})
    assert (same.status_code, same.headers["etag"]) == (200, '"1"')  # unchanged, not erased
    edited = {**seen.json(), "workUnit": "新的工作单位"}
    put = narrow.put(f"/v1/members/{member['id']}", json=edited, headers={"If-Match": '"1"'})
    assert put.status_code == 200, put.text
    assert {"citizenId", "phone"}.isdisjoint(put.json())
    after = _stored(api, member["id"])
    assert (after["workUnit"], after["version"]) == ("新的工作单位", 2)
    assert (after["citizenId"], after["phone"]) == (member["citizenId"], "13800138000")
    # one person, one member: the edited record still holds the person's citizen ID
    again = {**member, "id": uid("m")}
    assert_problem(api.post("/v1/members", json=again), 409, "duplicate-citizen-id")
    # a caller that may read the fields and leaves one out erases it, as PUT means
    admin_edit = {k: v for k, v in after.items() if k not in ("phone", "version", "updatedAt")}
    assert (
        api.put(
            f"/v1/members/{member['id']}", json=admin_edit, headers={"If-Match": '"2"'}
        ).status_code
        == 200
    )
    final = _stored(api, member["id"])
    assert "phone" not in final
    assert final["citizenId"] == member["citizenId"]


def test_a_bulk_edit_keeps_the_sensitive_fields_the_editor_cannot_see(
    api: httpx.Client, narrow: httpx.Client, tree: dict[str, str]
) -> None:
    members = [person(tree["a"], phone=f"1390000{n:04d}") for n in range(3)]
    assert {r["status"] for r in results(bulk(api, ndjson(
        [{"op": "upsert", "type": "members", "record": m} for m in members]
    )))} == {201}  # fmt: skip
    seen = [_stored(narrow, m["id"]) for m in members]
    lines = [
        {"op": "upsert", "type": "members", "record": {**s, "workUnit": f"单位{n}"}}
        for n, s in enumerate(seen)
    ]
    assert [r["outcome"] for r in results(bulk(narrow, ndjson(lines)))] == ["updated"] * 3
    for n, m in enumerate(members):
        after = _stored(api, m["id"])
        assert (after["workUnit"], after["citizenId"], after["phone"]) == (
            f"单位{n}",
            m["citizenId"],
            m["phone"],
        )
    # the kept citizen ID still makes the person unique, also within a bulk request
    twin = {**members[0], "id": uid("m"), "organisationId": tree["b"]}
    (line,) = results(bulk(narrow, ndjson([{"op": "upsert", "type": "members", "record": twin}])))
    assert (line["status"], line["code"]) == (409, "duplicate-citizen-id")


def test_an_edit_prepared_against_values_changed_since_is_refused(
    api: httpx.Client, tree: dict[str, str], hub: Hub
) -> None:
    member = person(tree["a"], phone="13700137000")
    assert api.post("/v1/members", json=member).status_code == 201
    token = create_token(hub.db, ["records:read", "records:write"])
    principal = TokenStore(hub.db).authenticate(f"Bearer {token}")
    body = {k: v for k, v in member.items() if k not in ("citizenId", "phone")}
    body["workUnit"] = "另一个单位"
    (kept,) = keep_unseen(hub, principal, [("members", member["id"], body)])
    assert kept == {"citizenId": member["citizenId"], "phone": "13700137000"}
    op = prepare(hub, 0, "replace", "members", body, record_id=member["id"], kept=kept)
    assert isinstance(op, Op)
    changed = {**_stored(api, member["id"]), "phone": "13600136000"}
    assert (
        api.put(
            f"/v1/members/{member['id']}", json=changed, headers={"If-Match": '"1"'}
        ).status_code
        == 200
    )
    with hub.db.write() as conn:
        (outcome,) = apply_batch(hub, conn, principal, [op])
    assert (outcome.status, outcome.outcome) == (412, "error")
    assert _stored(api, member["id"])["phone"] == "13600136000"


# -- 8. no oracles for narrow tokens -------------------------------------------------------------


def test_a_taken_citizen_id_is_named_only_to_who_may_see_its_member(
    server: Server, api: httpx.Client, tree: dict[str, str], hub: Hub
) -> None:
    theirs = person(tree["b"])
    assert api.post("/v1/members", json=theirs).status_code == 201
    twin = {**theirs, "id": uid("m"), "organisationId": tree["a"]}
    with _branch_token(server, hub, tree["a"]) as branch:
        refused = branch.post("/v1/members", json=twin)
        body = assert_problem(refused, 409, "duplicate-citizen-id")
        assert [(e["pointer"], e["rule"]) for e in body["errors"]] == [("/citizenId", "UNQ-003")]
        assert theirs["id"] not in refused.text
        assert "existing" not in body
        (line,) = results(
            bulk(branch, ndjson([{"op": "upsert", "type": "members", "record": twin}]))
        )
        assert (line["status"], line["code"]) == (409, "duplicate-citizen-id")
        assert theirs["id"] not in orjson.dumps(line).decode()
    with _branch_token(server, hub, tree["b"]) as own_branch:
        inside = {**twin, "organisationId": tree["b"]}
        body = assert_problem(
            own_branch.post("/v1/members", json=inside), 409, "duplicate-citizen-id"
        )
        assert body["existing"] == f"/v1/members/{theirs['id']}"
    # changing a member's citizen ID to a taken one: the same answer
    ours = person(tree["a"])
    assert api.post("/v1/members", json=ours).status_code == 201
    moved = {**theirs, "id": ours["id"], "organisationId": tree["a"]}
    with _branch_token(server, hub, tree["a"]) as branch:
        put = branch.put(f"/v1/members/{ours['id']}", json=moved, headers={"If-Match": '"1"'})
        assert_problem(put, 409, "duplicate-citizen-id")
        assert theirs["id"] not in put.text
    # an unrestricted administrator sees which member holds the number
    body = assert_problem(api.post("/v1/members", json=twin), 409, "duplicate-citizen-id")
    assert (body["existing"], body["errors"][0]["rule"]) == (
        f"/v1/members/{theirs['id']}",
        "UNQ-001",
    )


def test_a_bulk_line_names_a_taken_citizen_id_s_member_only_within_the_token_s_subtree(
    server: Server, api: httpx.Client, tree: dict[str, str], hub: Hub
) -> None:
    """The bulk result line obeys the same rule as a single write: UNQ-003 and no ``existing``
    when the holder lies outside the token's subtree (no oracle), UNQ-001 with it inside."""
    theirs = person(tree["b"])
    assert api.post("/v1/members", json=theirs).status_code == 201
    twin = {**theirs, "id": uid("m"), "organisationId": tree["a"]}
    other = person(tree["a"])
    lines = ndjson([{"op": "upsert", "type": "members", "record": r} for r in (other, twin)])
    with _branch_token(server, hub, tree["a"]) as branch:
        created, refused = results(bulk(branch, lines))
    assert (created["status"], created["outcome"]) == (201, "created")
    assert (refused["index"], refused["status"], refused["code"]) == (
        1,
        409,
        "duplicate-citizen-id",
    )
    assert [(p["pointer"], p["rule"]) for p in refused["problems"]] == [
        ("/record/citizenId", "UNQ-003")
    ]
    assert "existing" not in refused
    assert theirs["id"] not in orjson.dumps(refused).decode()
    assert tree["b"] not in orjson.dumps(refused).decode()
    inside = {**twin, "id": uid("m"), "organisationId": tree["b"]}
    with _branch_token(server, hub, tree["b"]) as own_branch:
        (named,) = results(
            bulk(own_branch, ndjson([{"op": "upsert", "type": "members", "record": inside}]))
        )
    assert named["existing"] == f"/v1/members/{theirs['id']}"
    assert [p["rule"] for p in named["problems"]] == ["UNQ-001"]


def test_a_taken_id_outside_the_subtree_reveals_only_that_it_is_taken(
    server: Server, api: httpx.Client, tree: dict[str, str], hub: Hub
) -> None:
    theirs = person(tree["b"])
    assert api.post("/v1/members", json=theirs).status_code == 201
    free = uid("m")
    with _branch_token(server, hub, tree["a"]) as branch:
        # a write the token could never make answers the same for a taken and a free id
        for rid in (theirs["id"], free):
            outside = {**person(tree["b"]), "id": rid}
            assert_problem(branch.post("/v1/members", json=outside), 403, "outside-subtree")
            assert_problem(
                branch.put(f"/v1/members/{rid}", json=outside, headers={"If-Match": "*"}),
                404,
                "not-found",
            )
            assert_problem(
                branch.delete(f"/v1/members/{rid}", headers={"If-Match": "*"}), 404, "not-found"
            )
        # a write it could make: a taken id must fail, and says no more than "taken"
        taken = branch.post("/v1/members", json={**person(tree["a"]), "id": theirs["id"]})
        body = assert_problem(taken, 409, "id-unavailable")
        assert set(body) & {"currentVersion", "owner", "existing"} == set()
        assert tree["b"] not in taken.text
        assert body["errors"] == []
        (line,) = results(
            bulk(
                branch,
                ndjson(
                    [
                        {
                            "op": "upsert",
                            "type": "members",
                            "record": {**person(tree["a"]), "id": theirs["id"]},
                        }
                    ]
                ),
            )
        )
        assert (line["status"], line["code"], line.get("version")) == (409, "id-unavailable", None)
    assert _stored(api, theirs["id"])["version"] == 1
    # a deleted record outside the subtree is taken too, and its version stays unknown
    gone = person(tree["b"])
    assert api.post("/v1/members", json=gone).status_code == 201
    assert api.delete(f"/v1/members/{gone['id']}", headers={"If-Match": '"1"'}).status_code == 204
    with _branch_token(server, hub, tree["a"]) as branch:
        again = branch.post("/v1/members", json={**person(tree["a"]), "id": gone["id"]})
        body = assert_problem(again, 409, "id-unavailable")
        assert "currentVersion" not in body


def test_a_replica_the_token_cannot_see_answers_like_a_free_foreign_id(
    server: Server, tree: dict[str, str], hub: Hub
) -> None:
    held = {"id": f"{PEER}:o{uid('')[-10:]}", "name": "锦江支部", "type": "branch"}
    _replicate(hub, held)
    with _branch_token(server, hub, tree["a"]) as branch:
        for rid in (held["id"], f"{PEER}:o-free"):
            group = organisation(tree["a"], id=rid, type="party-group", name="党小组")
            body = assert_problem(branch.post("/v1/organisations", json=group), 422, "foreign-id")
            assert "owner" not in body
