"""The checks of level ``write``: they write only members of the sandbox organisation, under ids
starting with ``<hub-id>:txc-<run>-`` (recorded in the manifest before the write)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson

from tongxin.schemas import problems

from ._model import Context, Fail
from ._read import expect_problem, expect_status, read_feed

__all__ = [
    "bulk_lines",
    "concurrent_citizen_id",
    "create",
    "delete_tombstone",
    "foreign_id",
    "idempotency_conflict",
    "idempotency_replay",
    "if_match_required",
    "invalid_record",
    "retried_create",
    "stale_if_match",
    "update",
]

NDJSON = {"Content-Type": "application/x-ndjson"}


def create(ctx: Context) -> None:
    record, response = ctx.create_member()
    if response.headers.get("etag") != '"1"':
        raise Fail(
            f'the create answered ETag {response.headers.get("etag")!r}, expected "1"',
            f'创建返回的 ETag 为 {response.headers.get("etag")!r}，应为 "1"',
        )
    if not response.headers.get("location"):
        raise Fail("the create answered no Location", "创建未返回 Location")
    body = ctx.json(response)
    if body.get("id") != record["id"] or body.get("version") != 1:
        raise Fail(
            "the created record does not echo its id with version 1",
            "创建后返回的记录没有原 id 或版本不是 1",
        )


def retried_create(ctx: Context) -> None:
    record, _ = ctx.create_member()
    response = ctx.call("POST", "/v1/members", json=record)
    expect_status(ctx, response, 200)


def invalid_record(ctx: Context) -> None:
    record = ctx.member(gender="x")
    ctx.note_written("members", record["id"])
    response = ctx.call("POST", "/v1/members", json=record)
    body = expect_problem(ctx, response, 422, problems.INVALID_RECORD)
    pointers = {e.get("pointer") for e in body["errors"] if isinstance(e, dict)}
    if "/gender" not in pointers:
        raise Fail(
            f"no error points at /gender (pointers: {sorted(map(str, pointers))})",
            f"没有指向 /gender 的错误（指针：{sorted(map(str, pointers))}）",
        )
    for error in body["errors"]:
        if not isinstance(error, dict) or not error.get("rule") or "message" not in error:
            raise Fail("an error lacks its rule or message", "某个错误缺少 rule 或 message")


def _put(ctx: Context, record: dict[str, Any], if_match: str | None) -> httpx.Response:
    headers = {} if if_match is None else {"If-Match": if_match}
    return ctx.call("PUT", f"/v1/members/{record['id']}", json=record, headers=headers)


def if_match_required(ctx: Context) -> None:
    record, _ = ctx.create_member()
    changed = {**record, "name": "测试党员乙"}
    expect_problem(ctx, _put(ctx, changed, None), 428, problems.IF_MATCH_REQUIRED)
    response = ctx.call("DELETE", f"/v1/members/{record['id']}")
    expect_problem(ctx, response, 428, problems.IF_MATCH_REQUIRED)


def stale_if_match(ctx: Context) -> None:
    record, _ = ctx.create_member()
    expect_status(ctx, _put(ctx, {**record, "name": "测试党员乙"}, '"1"'), 200)
    body = expect_problem(
        ctx, _put(ctx, {**record, "name": "测试党员丙"}, '"1"'), 412, problems.VERSION_MISMATCH
    )
    if body.get("currentVersion") != 2:
        raise Fail(
            f"the 412 names currentVersion {body.get('currentVersion')!r}, expected 2",
            f"412 响应的 currentVersion 为 {body.get('currentVersion')!r}，应为 2",
        )


def update(ctx: Context) -> None:
    record, _ = ctx.create_member()
    response = _put(ctx, {**record, "name": "测试党员乙"}, '"1"')
    expect_status(ctx, response, 200)
    if response.headers.get("etag") != '"2"' or ctx.json(response).get("version") != 2:
        raise Fail("the replaced record is not at version 2", "替换后的记录版本不是 2")
    response = _put(ctx, {**record, "name": "测试党员乙"}, '"2"')
    expect_status(ctx, response, 200)
    if response.headers.get("etag") != '"2"':
        raise Fail("writing identical content made a new version", "写入相同内容却产生了新版本")


def delete_tombstone(ctx: Context) -> None:
    record, _ = ctx.create_member()
    _, cursor = read_feed(ctx, ctx.cache.get("feed:cursor"))
    response = ctx.call("DELETE", f"/v1/members/{record['id']}", headers={"If-Match": '"1"'})
    expect_status(ctx, response, 204)
    if response.headers.get("etag") != '"2"':
        raise Fail(
            "the deletion's ETag is not the tombstone's version 2",
            "删除返回的 ETag 不是删除标记的版本 2",
        )
    expect_problem(ctx, ctx.call("GET", f"/v1/members/{record['id']}"), 410, problems.DELETED)
    items, ctx.cache["feed:cursor"] = read_feed(ctx, cursor)
    mine = [i for i in items if i.get("id") == record["id"]]
    if not mine or mine[-1].get("deleted") is not True or mine[-1].get("record") is not None:
        raise Fail(
            "the feed after the deletion has no tombstone (deleted: true, record: null) for it",
            "删除之后的变更流中没有该记录的删除标记（deleted: true, record: null）",
        )
    if mine[-1].get("version") != 2:
        raise Fail("the tombstone is not at version 2", "删除标记的版本不是 2")


def _bulk(ctx: Context, lines: list[dict[str, Any]], key: str | None = None) -> httpx.Response:
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    headers = {**NDJSON, **({"Idempotency-Key": key} if key else {})}
    return ctx.call("POST", "/v1/bulk", content=body, headers=headers)


def _results(ctx: Context, response: httpx.Response) -> list[dict[str, Any]]:
    expect_status(ctx, response, 200)
    try:
        results = [orjson.loads(line) for line in response.content.splitlines() if line.strip()]
    except orjson.JSONDecodeError:
        raise Fail("the bulk response is not NDJSON", "批量响应不是 NDJSON") from None
    return [r for r in results if isinstance(r, dict)]


def _upsert(ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
    ctx.note_written("members", record["id"])
    return {"op": "upsert", "type": "members", "record": record}


def bulk_lines(ctx: Context) -> None:
    good1, bad, good2 = ctx.member(), ctx.member(gender="x"), ctx.member()
    results = _results(
        ctx, _bulk(ctx, [_upsert(ctx, good1), _upsert(ctx, bad), _upsert(ctx, good2)])
    )
    if len(results) != 3:
        raise Fail(
            f"3 lines answered {len(results)} result(s); one result per line is required",
            f"3 行请求返回 {len(results)} 条结果；应每行一条",
        )
    if [r.get("index") for r in results] != [0, 1, 2]:
        raise Fail(
            "the results are not in input order (index 0, 1, 2)",
            "结果未按输入顺序（index 0、1、2）",
        )
    statuses = [r.get("status") for r in results]
    if statuses != [201, 422, 201]:
        raise Fail(
            f"statuses {statuses}: the bad line must fail alone (expected [201, 422, 201])",
            f"状态为 {statuses}：无效行应单独失败（应为 [201, 422, 201]）",
        )
    problems = results[1].get("problems") or []
    if results[1].get("outcome") != "error" or not any(
        isinstance(p, dict) and p.get("pointer") == "/record/gender" for p in problems
    ):
        raise Fail(
            "the refused line has no problem pointing at /record/gender",
            "被拒绝的行没有指向 /record/gender 的问题",
        )
    if [r.get("outcome") for r in (results[0], results[2])] != ["created", "created"]:
        raise Fail("the good lines are not outcome created", "有效行的 outcome 不是 created")


def idempotency_replay(ctx: Context) -> None:
    key = f"txc-{ctx.run_id}-replay"
    lines = [_upsert(ctx, ctx.member()), _upsert(ctx, ctx.member())]
    first = _results(ctx, _bulk(ctx, lines, key))
    response = _bulk(ctx, lines, key)
    again = _results(ctx, response)
    if response.headers.get("idempotent-replayed", "").lower() != "true":
        raise Fail(
            "the retry does not answer Idempotent-Replayed: true",
            "重试未返回 Idempotent-Replayed: true",
        )
    if again != first:
        raise Fail("the retry does not return the first results", "重试返回的结果与第一次不同")
    for line in lines:
        got = ctx.call("GET", f"/v1/members/{line['record']['id']}")
        expect_status(ctx, got, 200)
        if got.headers.get("etag") != '"1"':
            raise Fail("the retry wrote a record again", "重试再次写入了记录")


def idempotency_conflict(ctx: Context) -> None:
    key = f"txc-{ctx.run_id}-reuse"
    _results(ctx, _bulk(ctx, [_upsert(ctx, ctx.member())], key))
    other = ctx.member()
    expect_problem(
        ctx, _bulk(ctx, [_upsert(ctx, other)], key), 422, problems.IDEMPOTENCY_KEY_REUSED
    )
    response = ctx.call("GET", f"/v1/members/{other['id']}")
    if response.status_code != 404:
        raise Fail("the refused request wrote its record", "被拒绝的请求仍写入了记录")


def concurrent_citizen_id(ctx: Context) -> None:
    base = ctx.member()
    records = [{**base, "id": ctx.new_id()} for _ in range(6)]
    for record in records:
        ctx.note_written("members", record["id"])

    def post(record: dict[str, Any]) -> httpx.Response:
        return ctx.client.post(
            "/v1/members",
            json=record,
            headers={"Authorization": f"Bearer {ctx.target.token}"},
        )

    with ThreadPoolExecutor(len(records)) as pool:
        responses = list(pool.map(post, records))
    statuses = sorted(r.status_code for r in responses)
    ctx.remember(next((r for r in responses if r.status_code != 201), responses[0]))
    if statuses.count(201) != 1:
        raise Fail(
            f"{statuses.count(201)} of 6 concurrent creates of one citizen ID succeeded "
            f"(statuses {statuses}); exactly one may",
            f"6 个并发创建使用同一公民身份号码，成功 {statuses.count(201)} 个（状态 {statuses}）；"
            "只允许一个",
        )
    for response in responses:
        if response.status_code != 201:
            expect_problem(ctx, response, 409, problems.DUPLICATE_CITIZEN_ID)


def foreign_id(ctx: Context) -> None:
    record = ctx.member(id=f"txc-elsewhere:{ctx.run_id}-m1")
    response = ctx.call("POST", "/v1/members", json=record)
    if response.status_code in (200, 201):
        ctx.note_written("members", record["id"])
    body = expect_problem(ctx, response, 422, problems.FOREIGN_ID)
    if not any(isinstance(e, dict) and e.get("pointer") == "/id" for e in body["errors"]):
        raise Fail("the foreign-id problem does not point at /id", "foreign-id 问题未指向 /id")
