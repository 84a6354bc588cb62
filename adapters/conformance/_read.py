"""The checks of level ``read``: discovery, OpenAPI, authentication, problems, lists, ETags and
the change feed. They only read (a sandbox run first writes one member so lists are not empty)."""

from __future__ import annotations

from typing import Any

import httpx

from tongxin.schemas import problems
from tongxin.schemas.problems import ProblemCode

from ._model import Context, Fail, Skip

__all__ = [
    "bad_cursor",
    "bad_parameter",
    "discovery",
    "etag",
    "feed_citizen_ids",
    "feed_order",
    "feed_resume",
    "list_citizen_ids",
    "list_paging",
    "not_found",
    "openapi",
    "request_id",
    "unauthorised",
]

PROBLEM_MEMBERS = ("type", "title", "status", "detail", "code", "errors")
SENSITIVE = ("citizenId", "phone")
_MAX_PAGES = 200


def expect_status(ctx: Context, response: httpx.Response, *statuses: int) -> None:
    if response.status_code not in statuses:
        wanted = " or ".join(str(s) for s in statuses)
        raise Fail(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {wanted}",
            f"{response.request.method} {response.request.url.path} 返回 {response.status_code}，"
            f"应为 {wanted}",
        )


def expect_problem(
    ctx: Context, response: httpx.Response, status: int, code: ProblemCode
) -> dict[str, Any]:
    """The response is an ``application/problem+json`` of ``status`` and ``code`` with every
    member §2 requires."""
    expect_status(ctx, response, status)
    media = response.headers.get("content-type", "").split(";")[0].strip()
    if media != "application/problem+json":
        raise Fail(
            f"the error's content type is {media or 'missing'}, not application/problem+json",
            f"错误响应的内容类型为 {media or '空'}，应为 application/problem+json",
        )
    body = ctx.json(response)
    if not isinstance(body, dict):
        raise Fail("the problem is not a JSON object", "问题详情不是 JSON 对象")
    missing = [name for name in PROBLEM_MEMBERS if name not in body]
    if missing:
        raise Fail(
            f"the problem lacks {', '.join(missing)}", f"问题详情缺少成员 {', '.join(missing)}"
        )
    if body.get("code") != code:
        raise Fail(
            f"the problem's code is {body.get('code')!r}, expected {code!r}",
            f"问题代码为 {body.get('code')!r}，应为 {code!r}",
        )
    if body.get("status") != status or not isinstance(body.get("errors"), list):
        raise Fail(
            "the problem's status member differs from the HTTP status, or errors is no list",
            "问题详情的 status 与 HTTP 状态不一致，或 errors 不是列表",
        )
    return body


def discovery(ctx: Context) -> None:
    doc = ctx.discovery()
    if doc.get("apiVersion") != "1.0":
        raise Fail(
            f"apiVersion is {doc.get('apiVersion')!r}", f"apiVersion 为 {doc.get('apiVersion')!r}"
        )
    missing = [
        name
        for name in ("hub", "schemaVersions", "conformance", "collections", "limits", "links")
        if name not in doc
    ]
    if missing:
        raise Fail(f"discovery lacks {', '.join(missing)}", f"发现文档缺少 {', '.join(missing)}")
    _ = ctx.hub_id
    collections = doc.get("collections") or []
    for name in ("organisations", "members", "activities", "duesPayments", "transfers"):
        if name not in collections:
            raise Fail(f"collections lacks {name}", f"collections 缺少 {name}")


def openapi(ctx: Context) -> None:
    links = ctx.discovery().get("links") or {}
    href = links.get("openapi") if isinstance(links, dict) else None
    if not isinstance(href, str):
        raise Fail("discovery has no links.openapi", "发现文档缺少 links.openapi")
    response = ctx.call("GET", href, token=False)
    expect_status(ctx, response, 200)
    doc = ctx.json(response)
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3."):
        raise Fail(
            "links.openapi is not an OpenAPI 3 document", "links.openapi 不是 OpenAPI 3 文档"
        )
    paths = doc.get("paths") or {}
    for path in ("/v1/changes", "/v1/bulk"):
        if path not in paths:
            raise Fail(f"the OpenAPI document has no {path}", f"OpenAPI 文档缺少 {path}")
    ctx.cache["openapi"] = doc


def unauthorised(ctx: Context) -> None:
    response = ctx.call("GET", "/v1/members", token=False)
    expect_problem(ctx, response, 401, problems.UNAUTHORIZED)
    response = ctx.call(
        "GET", "/v1/members", token=False, headers={"Authorization": "Bearer txc-not-a-token"}
    )
    expect_problem(ctx, response, 401, problems.UNAUTHORIZED)


def bad_parameter(ctx: Context) -> None:
    response = ctx.call("GET", "/v1/members", params={"limit": "abc"})
    body = expect_problem(ctx, response, 400, problems.INVALID_PARAMETER)
    errors = body["errors"]
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    if first.get("pointer") != "/limit" or body.get("parameter") != "limit":
        raise Fail(
            "the problem does not name the parameter: errors[0].pointer must be /limit and "
            "parameter must be limit",
            "问题详情未指明参数：errors[0].pointer 应为 /limit，parameter 应为 limit",
        )
    for name in ("rule", "severity", "message"):
        if name not in first:
            raise Fail(f"errors[0] lacks {name}", f"errors[0] 缺少 {name}")
    limit = (ctx.discovery().get("limits") or {}).get("maxPageSize")
    if isinstance(limit, int):
        response = ctx.call("GET", "/v1/members", params={"limit": str(limit + 1)})
        expect_problem(ctx, response, 400, problems.INVALID_PARAMETER)


def bad_cursor(ctx: Context) -> None:
    response = ctx.call("GET", "/v1/members", params={"after": "txc-forged-cursor"})
    expect_problem(ctx, response, 400, problems.INVALID_CURSOR)
    response = ctx.call("GET", "/v1/changes", params={"after": "txc-forged-cursor"})
    expect_problem(ctx, response, 400, problems.INVALID_CURSOR)


def not_found(ctx: Context) -> None:
    response = ctx.call("GET", f"/v1/members/{ctx.hub_id}:txc-absent-{ctx.run_id}")
    expect_problem(ctx, response, 404, problems.NOT_FOUND)


def request_id(ctx: Context) -> None:
    response = ctx.call(
        "GET", "/.well-known/tongxin", token=False, headers={"X-Request-Id": "txc-probe-1"}
    )
    if response.headers.get("x-request-id") != "txc-probe-1":
        raise Fail(
            "the response does not carry the request's X-Request-Id",
            "响应未带回请求的 X-Request-Id",
        )


def ensure_member(ctx: Context) -> None:
    """In a sandbox run: one member exists, so that lists and the feed have something."""
    if ctx.target.sandbox is not None and "sample" not in ctx.cache:
        record, _ = ctx.create_member()
        ctx.cache["sample"] = record["id"]


def _page(ctx: Context, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    response = ctx.call("GET", path, params=params)
    expect_status(ctx, response, 200)
    body = ctx.json(response)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list) or "next" not in body:
        raise Fail(f"{path} is not {{items, next}}", f"{path} 的响应不是 {{items, next}} 结构")
    return body


def list_all(ctx: Context, collection: str, limit: int = 2) -> list[dict[str, Any]]:
    """Every item of a list, following ``next`` (at most 200 pages)."""
    body = _page(ctx, f"/v1/{collection}", {"limit": str(limit)})
    items: list[dict[str, Any]] = list(body["items"])
    for _ in range(_MAX_PAGES):
        if body["next"] is None:
            break
        if len(body["items"]) > limit:
            raise Fail(
                f"a page holds {len(body['items'])} items, over limit={limit}",
                f"一页返回 {len(body['items'])} 条，超过 limit={limit}",
            )
        body = _page(ctx, str(body["next"]))
        items.extend(body["items"])
    return items


def list_paging(ctx: Context) -> None:
    ensure_member(ctx)
    for collection in ("organisations", "members"):
        items = list_all(ctx, collection)
        ids = [str(item.get("id")) for item in items]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})[:3]
            raise Fail(
                f"/v1/{collection} lists a record twice across pages: {twice}",
                f"/v1/{collection} 分页时重复列出记录：{twice}",
            )
        if ids != sorted(ids):
            raise Fail(f"/v1/{collection} is not ordered by id", f"/v1/{collection} 未按 id 排序")
        ctx.cache[f"list:{collection}"] = items
        full = _page(ctx, f"/v1/{collection}", {"limit": "1000"} if len(ids) < 1000 else None)
        if len(ids) < 1000 and [i.get("id") for i in full["items"]] != ids:
            raise Fail(
                f"paging /v1/{collection} by 2 does not give the records of one page",
                f"/v1/{collection} 每页两条翻页的结果与一次读取不一致",
            )


def etag(ctx: Context) -> None:
    ensure_member(ctx)
    for collection in ("members", "organisations"):
        items = ctx.cache.get(f"list:{collection}") or _page(ctx, f"/v1/{collection}")["items"]
        if items:
            record_id = str(items[0]["id"])
            response = ctx.call("GET", f"/v1/{collection}/{record_id}")
            expect_status(ctx, response, 200)
            version = ctx.json(response).get("version")
            if response.headers.get("etag") != f'"{version}"':
                raise Fail(
                    f"ETag is {response.headers.get('etag')!r}, expected the strong tag "
                    f'"{version}" of the record\'s version',
                    f'ETag 为 {response.headers.get("etag")!r}，应为记录版本的强标签 "{version}"',
                )
            return
    raise Skip("the hub holds no record to read", "枢纽没有可读取的记录")


def _sensitive_in(items: list[Any], where: str) -> None:
    for item in items:
        record = item.get("record") if isinstance(item, dict) and "record" in item else item
        if isinstance(record, dict):
            leaked = [name for name in SENSITIVE if name in record]
            if leaked:
                raise Fail(
                    f"{where} shows {', '.join(leaked)} of {record.get('id')} without "
                    "include=sensitive",
                    f"{where} 未请求 include=sensitive 却返回了 {record.get('id')} 的 "
                    f"{'、'.join(leaked)}",
                )


def list_citizen_ids(ctx: Context) -> None:
    ensure_member(ctx)
    page = _page(ctx, "/v1/members", {"limit": "50"})["items"]  # the exchange a failure shows
    _sensitive_in(page, "/v1/members")
    items = ctx.cache.get("list:members") or page
    if not items:
        raise Skip("the hub lists no member", "枢纽没有可列出的党员")
    _sensitive_in(items, "/v1/members")


def read_feed(ctx: Context, after: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """The change feed from ``after`` to its end: the items and the last cursor."""
    items: list[dict[str, Any]] = []
    params = {"limit": "100", **({"after": after} if after else {})}
    for _ in range(_MAX_PAGES * 10):
        response = ctx.call("GET", "/v1/changes", params=params)
        expect_status(ctx, response, 200)
        body = ctx.json(response)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise Fail("/v1/changes is not {items, next, cursor}", "/v1/changes 的响应结构不符")
        if not isinstance(body.get("cursor"), str):
            raise Fail("/v1/changes gives no cursor", "/v1/changes 未返回 cursor")
        items.extend(body["items"])
        params = {"limit": "100", "after": body["cursor"]}
        if body.get("next") is None:
            return items, str(body["cursor"])
    raise Skip("the feed is too long to read to the end", "变更流过长，未读到末尾")


def feed_order(ctx: Context) -> None:
    ensure_member(ctx)
    items, cursor = read_feed(ctx)
    ctx.cache["feed"], ctx.cache["feed:cursor"] = items, cursor
    seen: set[tuple[str, str]] = set()
    for item in items:
        missing = [
            n for n in ("type", "id", "version", "owner", "deleted", "record") if n not in item
        ]
        if missing:
            raise Fail(
                f"a feed item lacks {', '.join(missing)}", f"变更流条目缺少 {', '.join(missing)}"
            )
        key = (str(item["type"]), str(item["id"]))
        if key in seen:
            raise Fail(
                f"the feed shows {key[0]} {key[1]} twice (each record at most once, latest state)",
                f"变更流两次出现 {key[0]} {key[1]}（每条记录至多出现一次，为最新状态）",
            )
        seen.add(key)
        if item["deleted"] is True and item["record"] is not None:
            raise Fail("a tombstone carries a record", "删除标记条目带有记录内容")
    sample = ctx.cache.get("sample")
    if sample is not None and ("members", sample) not in seen:
        raise Fail(
            f"the member written at the start ({sample}) is not in the feed",
            f"开始时写入的党员（{sample}）未出现在变更流中",
        )


def feed_resume(ctx: Context) -> None:
    ensure_member(ctx)
    if "feed:cursor" not in ctx.cache:
        ctx.cache["feed"], ctx.cache["feed:cursor"] = read_feed(ctx)
    seen = {(i.get("type"), i.get("id"), i.get("version")) for i in ctx.cache["feed"]}
    response = ctx.call("GET", "/v1/changes", params={"after": ctx.cache["feed:cursor"]})
    expect_status(ctx, response, 200)
    body = ctx.json(response)
    if body.get("next") is not None or not isinstance(body.get("cursor"), str):
        raise Fail(
            "at the end of the feed next must be null and a cursor given",
            "变更流末尾 next 应为 null，并返回 cursor",
        )
    again = [
        i for i in body.get("items", []) if (i.get("type"), i.get("id"), i.get("version")) in seen
    ]
    if again:
        raise Fail(
            f"after the cursor the feed repeats {len(again)} change(s) from before it",
            f"游标之后变更流又返回了游标之前的 {len(again)} 条变更",
        )


def feed_citizen_ids(ctx: Context) -> None:
    ensure_member(ctx)
    response = ctx.call("GET", "/v1/changes", params={"limit": "100"})
    expect_status(ctx, response, 200)
    first = [i for i in ctx.json(response).get("items", []) if isinstance(i, dict)]
    _sensitive_in(first, "/v1/changes")
    items = ctx.cache.get("feed") or first
    members = [i for i in items if i.get("type") == "members" and i.get("record")]
    if not members:
        raise Skip("the feed holds no member", "变更流中没有党员")
    _sensitive_in(members, "/v1/changes")
