"""A subtree token's change feed tells it when a record it could see leaves its subtree (moved
to another organisation, re-created elsewhere after a delete, or carried out by an organisation
that moved): a ``moved-out`` tombstone, which names nothing of where the record went. On SQLite
and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from tongxin.server import Hub, create_token

from .conftest import Server, organisation, person


def _feed(client: httpx.Client, after: str | None = None) -> tuple[dict[str, Any], str]:
    """Every item after ``after`` by id (the latest per id), and the new cursor."""
    items: dict[str, Any] = {}
    url: str | None = "/v1/changes?limit=2" + (f"&after={after}" if after else "")
    cursor = after or ""
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.text
        for item in page.json()["items"]:
            items[item["id"]] = item
        cursor, url = page.json()["cursor"], page.json()["next"]
    return items, cursor


def _put(api: httpx.Client, path: str, record: dict[str, Any]) -> None:
    current = api.get(path)
    assert current.status_code == 200, current.text
    etag = current.headers["etag"]
    response = api.put(path, json=record, headers={"If-Match": etag})
    assert response.status_code == 200, response.text


def _moved_out(item: dict[str, Any]) -> None:
    assert item["deleted"] is True
    assert item["record"] is None
    assert item["reason"] == "moved-out"
    assert set(item) == {"type", "id", "version", "owner", "deleted", "record", "reason"}


def test_records_leaving_a_subtree_reach_its_feed_as_moved_out(
    server: Server, api: httpx.Client, hub: Hub
) -> None:
    root = organisation()
    assert api.post("/v1/organisations", json=root).status_code == 201
    a, b = organisation(root["id"], name="甲支部"), organisation(root["id"], name="乙支部")
    a2 = organisation(a["id"], name="甲一小组", type="party-group")
    for org in (a, b, a2):
        assert api.post("/v1/organisations", json=org).status_code == 201, org
    moved, recreated, carried, stays = (
        person(a["id"]),
        person(a["id"]),
        person(a2["id"]),
        person(a["id"]),
    )
    for member in (moved, recreated, carried, stays):
        assert api.post("/v1/members", json=member).status_code == 201
    token = create_token(hub.db, ["records:read"], organisation_id=a["id"])
    with server.client(token) as scoped:
        seen, cursor = _feed(scoped)
        assert {moved["id"], recreated["id"], carried["id"], stays["id"], a2["id"]} <= set(seen)
        # a member moves to the other branch; another is deleted and created again there;
        # the group (with its member) moves under the other branch
        _put(api, f"/v1/members/{moved['id']}", {**moved, "organisationId": b["id"]})
        gone = api.delete(f"/v1/members/{recreated['id']}", headers={"If-Match": '"1"'})
        assert gone.status_code in (200, 204), gone.text
        again = api.post("/v1/members", json={**recreated, "organisationId": b["id"]})
        assert again.status_code == 201, again.text
        _put(api, f"/v1/organisations/{a2['id']}", {**a2, "parentId": b["id"]})
        news, cursor = _feed(scoped, cursor)
        for rid in (moved["id"], recreated["id"], carried["id"], a2["id"]):
            _moved_out(news[rid])
        assert news[moved["id"]]["version"] == 2
        assert news[recreated["id"]]["version"] == 3
        assert stays["id"] not in news
        assert b["id"] not in str(news)
        # nothing more, and a record leaving is told once
        assert _feed(scoped, cursor)[0] == {}
        # a record that comes back is a change like any other
        _put(api, f"/v1/members/{moved['id']}", {**moved, "organisationId": a["id"]})
        back, _ = _feed(scoped, cursor)
        assert back[moved["id"]]["deleted"] is False
        assert back[moved["id"]]["version"] == 3
    # an unrestricted reader sees the records themselves, never moved-out items
    everything, _ = _feed(api)
    assert not any(i.get("reason") for i in everything.values())
