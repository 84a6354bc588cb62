"""The change feed (order, tombstones, expiry) and NDJSON bulk (per-line results,
idempotency), and the validation dry run."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import orjson

from tongxin.schemas import validate
from tongxin.schemas._synthetic import SyntheticHub, write_package
from tongxin.server import open_hub, purge

from .conftest import Backend, Server, organisation, person, uid
from .test_records import assert_problem


def ndjson(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def bulk(api: httpx.Client, body: bytes, key: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/x-ndjson"}
    if key:
        headers["Idempotency-Key"] = key
    return api.post("/v1/bulk", content=body, headers=headers)


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.content.splitlines()]


def feed(api: httpx.Client, after: str | None = None) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    url: str | None = "/v1/changes?limit=50" + (f"&after={after}" if after else "")
    cursor = after or ""
    while url:
        page = api.get(url).json()
        items += page["items"]
        cursor, url = page["cursor"], page["next"]
    return items, cursor


def test_feed_in_commit_order_with_tombstones(api: httpx.Client, tree: dict[str, str]) -> None:
    _, cursor = feed(api)
    record = person(tree["a"])
    api.post("/v1/members", json=record)
    api.put(
        f"/v1/members/{record['id']}",
        json={**record, "workUnit": "甲"},
        headers={"If-Match": '"1"'},
    )
    other = person(tree["a"])
    api.post("/v1/members", json=other)
    api.delete(f"/v1/members/{record['id']}", headers={"If-Match": '"2"'})
    items, cursor2 = feed(api, cursor)
    assert [(i["id"], i["version"], i["deleted"]) for i in items] == [
        (other["id"], 1, False),
        (record["id"], 3, True),
    ]
    assert items[1]["record"] is None
    assert items[0]["owner"] == "test-hub"
    assert "citizenId" not in items[0]["record"]
    assert feed(api, cursor2)[0] == []
    assert_problem(api.get("/v1/changes?after=%%%"), 400, "invalid-cursor")
    assert_problem(api.get("/v1/changes?types=nothing"), 400, "invalid-parameter")


def test_cursor_older_than_retention_is_gone(
    api: httpx.Client, tree: dict[str, str], backend: Backend
) -> None:
    _, cursor = feed(api)
    record = person(tree["a"])
    api.post("/v1/members", json=record)
    api.delete(f"/v1/members/{record['id']}", headers={"If-Match": '"1"'})
    expiring = open_hub(backend.settings(tombstone_retention_days=0))
    try:
        removed, _ = purge(expiring, now=time.time() + 1)
    finally:
        expiring.close()
    assert removed >= 1
    body = assert_problem(api.get(f"/v1/changes?after={cursor}"), 410, "cursor-expired")
    assert "re-bootstrap" in body["detail"]
    items, _ = feed(api)
    assert record["id"] not in {i["id"] for i in items}


def test_bulk_reports_every_line_and_bad_lines_never_block_good_ones(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    good = [person(tree["a"]) for _ in range(3)]
    lines = [
        {"op": "upsert", "type": "members", "record": good[0]},
        {"op": "upsert", "type": "members", "record": {**good[1], "gender": "7"}},
        {"op": "upsert", "type": "members", "record": good[2]},
        {"op": "frobnicate", "type": "members", "record": good[2]},
        {"op": "upsert", "type": "members", "record": person(uid("o"))},
    ]
    body = (
        ndjson(lines[:3])
        + b"{oops\n\n"
        + ndjson(lines[3:])
        + ndjson([{"op": "delete", "type": "members", "id": good[0]["id"]}])
    )
    out = results(bulk(api, body))
    assert [r["index"] for r in out] == [0, 1, 2, 3, 5, 6, 7]
    assert [r["status"] for r in out] == [201, 422, 201, 400, 422, 422, 200]
    assert [r["outcome"] for r in out] == [
        "created",
        "error",
        "created",
        "error",
        "error",
        "error",
        "deleted",
    ]
    assert out[1]["problems"][0]["pointer"] == "/record/gender"
    assert out[4]["problems"][0]["pointer"] == "/op"
    assert out[5]["problems"][0]["rule"] == "REF-001"
    assert api.get(f"/v1/members/{good[2]['id']}").status_code == 200


def test_a_refused_line_carries_its_problem_s_members(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    first = person(tree["a"])
    twin = {**first, "id": uid("m"), "organisationId": tree["b"]}
    out = results(bulk(api, ndjson([{"op": "upsert", "type": "members", "record": r}
                                     for r in (first, twin)])))  # fmt: skip
    assert out[1]["code"] == "duplicate-citizen-id"
    assert out[1]["existing"] == f"/v1/members/{first['id']}"
    assert out[1]["index"] == 1  # a member never overrides the line's own fields


def test_bulk_idempotency_key_replays_and_refuses_another_body(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    body = ndjson(
        [{"op": "upsert", "type": "members", "record": person(tree["a"])} for _ in range(5)]
    )
    key = uid("k")
    first = bulk(api, body, key)
    again = bulk(api, body, key)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == first.content
    assert {r["version"] for r in results(again)} == {1}
    other = ndjson([{"op": "upsert", "type": "members", "record": person(tree["a"])}])
    assert_problem(bulk(api, other, key), 422, "idempotency-key-reused")
    assert_problem(bulk(api, body + other, key), 422, "idempotency-key-reused")
    resent = results(bulk(api, body))
    assert {r["outcome"] for r in resent} == {"unchanged"}


def test_bulk_needs_ndjson_and_write_scope(server: Server, api: httpx.Client) -> None:
    assert_problem(
        api.post("/v1/bulk", content=b"{}", headers={"content-type": "text/csv"}),
        415,
        "unsupported-media-type",
    )
    with server.client("reader") as reader:
        assert_problem(bulk(reader, b"{}\n"), 403, "scope-missing")


def test_validate_package_gives_the_cli_report(api: httpx.Client) -> None:
    stream = io.BytesIO()
    write_package(stream, SyntheticHub(members=30))
    package = orjson.loads(stream.getvalue())
    package["members"][0]["citizenId"] = "110101199003070000"
    response = api.post(
        "/v1/validate", content=orjson.dumps(package), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {**validate(package).to_dict(), "truncated": False}
    assert response.json()["valid"] is False
    one = api.post("/v1/validate?type=organisations", json=organisation())
    assert one.json()["valid"] is True
    assert_problem(
        api.post("/v1/validate", content=b"{", headers={"content-type": "application/json"}),
        400,
        "invalid-json",
    )


def test_a_cursor_of_another_epoch_is_epoch_changed(
    api: httpx.Client, tree: dict[str, str], backend: Backend
) -> None:
    from sqlalchemy import update

    from tongxin.server._reads import sign_cursor
    from tongxin.server._tables import records

    record = person(tree["a"])
    assert api.post("/v1/members", json=record).status_code == 201
    _, cursor = feed(api)
    hub = open_hub(backend.settings())
    try:
        epoch = hub.identity.epoch
        other = sign_cursor(hub, "feed", "f" * 32 + ":1")  # signed here, an earlier epoch
        with hub.db.write() as conn:  # as the re-sync after a child's restore leaves it
            conn.execute(update(records).where(records.c.id == record["id"]).values(orphan=2))
    finally:
        hub.close()
    body = assert_problem(api.get("/v1/changes", params={"after": other}), 410, "epoch-changed")
    assert body["epoch"] == epoch
    assert body["bootstrap"] == "/v1/changes"
    assert epoch in body["detail"]
    assert epoch in body["detailZh"]
    assert api.get("/v1/changes", params={"after": cursor}).status_code == 200
    items, _ = feed(api)
    (orphan,) = [i for i in items if i["id"] == record["id"]]
    assert (orphan["deleted"], orphan["record"], orphan["reason"]) == (True, None, "orphaned")
