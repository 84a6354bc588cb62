"""Deliberately broken servers: the reference hub behind a proxy that breaks exactly one MUST
of the standard (an ``httpx`` transport that rewrites requests before the hub sees them, or
answers after it). ``BREAKAGES`` maps every MUST check to the server that must fail it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

__all__ = ["BREAKAGES", "Breakage", "Broken"]

Json = Any
_DROP = {"content-length", "content-encoding", "transfer-encoding"}


def _request(
    request: httpx.Request,
    *,
    url: httpx.URL | None = None,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Request:
    kept = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
    return httpx.Request(
        request.method,
        url or request.url,
        headers=headers if headers is not None else kept,
        content=request.content if content is None else content,
    )


def _response(
    response: httpx.Response,
    *,
    status: int | None = None,
    body: Json = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> httpx.Response:
    kept = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in _DROP and k.lower() not in drop
    }
    kept.update(headers or {})
    if body is not None:
        content = orjson.dumps(body)
    return httpx.Response(
        status or response.status_code,
        headers=kept,
        content=response.content if content is None else content,
        request=response.request,
    )


@dataclass
class Breakage:
    """What the broken server does wrong (zh-CN, en) and how."""

    what: str
    request: Callable[[httpx.Request], httpx.Request] = lambda r: r
    response: Callable[[httpx.Response], httpx.Response] = lambda r: r


class Broken(httpx.BaseTransport):
    """The reference hub as a broken server: ``breakage`` rewrites every exchange."""

    def __init__(self, breakage: Breakage) -> None:
        self.breakage, self.inner = breakage, httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = self.breakage.request(request)
        response = self.inner.handle_request(sent)
        response.read()
        response.request = sent
        return self.breakage.response(response)

    def close(self) -> None:
        self.inner.close()


def _path(response: httpx.Response) -> str:
    return response.request.url.path


def _json(response: httpx.Response) -> Json:
    return orjson.loads(response.content)


# -- request rewrites --------------------------------------------------------------------------


def _param_dropped(
    name: str, when: Callable[[httpx.Request], bool]
) -> Callable[[httpx.Request], httpx.Request]:
    def rewrite(request: httpx.Request) -> httpx.Request:
        if name in request.url.params and when(request):
            return _request(request, url=request.url.copy_remove_param(name))
        return request

    return rewrite


def _header_set(
    name: str, value: Callable[[httpx.Request], str | None]
) -> Callable[[httpx.Request], httpx.Request]:
    def rewrite(request: httpx.Request) -> httpx.Request:
        new = value(request)
        if new is None:
            return request
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        headers[name] = new
        return _request(request, headers=headers)

    return rewrite


def _header_dropped(name: str) -> Callable[[httpx.Request], httpx.Request]:
    def rewrite(request: httpx.Request) -> httpx.Request:
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in _DROP and k.lower() != name
        }
        return _request(request, headers=headers)

    return rewrite


def _body_rewritten(
    path: str, change: Callable[[Json], Json]
) -> Callable[[httpx.Request], httpx.Request]:
    def rewrite(request: httpx.Request) -> httpx.Request:
        if request.method == "POST" and request.url.path == path and request.content:
            return _request(request, content=orjson.dumps(change(orjson.loads(request.content))))
        return request

    return rewrite


_serial = iter(range(1, 10**6))


def _fresh_citizen_id(record: Json) -> Json:
    from tongxin.schemas import citizen_id_check

    first17 = f"110101{1950 + next(_serial) % 40}0101{next(_serial) % 1000:03d}"
    return {**record, "citizenId": first17 + citizen_id_check(first17)}


# -- response rewrites -------------------------------------------------------------------------


def _when(
    test: Callable[[httpx.Response], bool], change: Callable[[httpx.Response], httpx.Response]
) -> Callable[[httpx.Response], httpx.Response]:
    return lambda r: change(r) if test(r) else r


def _items(
    change: Callable[[list[Json]], list[Json]], path: str
) -> Callable[[httpx.Response], httpx.Response]:
    def rewrite(response: httpx.Response) -> httpx.Response:
        if (
            _path(response) != path
            or response.status_code != 200
            or response.request.method != "GET"
        ):
            return response
        body = _json(response)
        return _response(response, body={**body, "items": change(body["items"])})

    return rewrite


def _pointers_dropped(response: httpx.Response) -> httpx.Response:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        body = _json(response)
        errors = [{k: v for k, v in e.items() if k != "pointer"} for e in body.get("errors", [])]
        return _response(response, body={**body, "errors": errors})
    return response


def _with_citizen_id(item: Json) -> Json:
    if "record" in item:
        record = item["record"]
        return {**item, "record": {**record, "citizenId": "110101199001010011"} if record else None}
    return {**item, "citizenId": "110101199001010011"}


def _signature_refusals_ignored(response: httpx.Response) -> httpx.Response:
    if (
        response.status_code == 401 and response.request.headers.get("signature-input") is not None
    ) or (response.status_code == 401 and response.request.url.path.startswith("/v1/federation/")):
        return _response(
            response,
            status=200,
            body={"items": [], "next": None, "cursor": "c"},
            headers={"content-type": "application/json"},
        )
    return response


def _first_line_only(response: httpx.Response) -> httpx.Response:
    if _path(response) == "/v1/bulk" and response.status_code == 200:
        return _response(response, content=response.content.split(b"\n", 1)[0] + b"\n")
    return response


def _etag(
    value: Callable[[str], str], method: str | None = None
) -> Callable[[httpx.Response], httpx.Response]:
    def rewrite(response: httpx.Response) -> httpx.Response:
        etag = response.headers.get("etag")
        if etag is None or (method is not None and response.request.method != method):
            return response
        return _response(response, headers={"etag": value(etag)})

    return rewrite


def _status(
    old: int, new: int, test: Callable[[httpx.Response], bool] = lambda r: True
) -> Callable[[httpx.Response], httpx.Response]:
    return _when(lambda r: r.status_code == old and test(r), lambda r: _response(r, status=new))


def _is_members_post(r: httpx.Request) -> bool:
    return r.method == "POST" and r.url.path == "/v1/members"


BREAKAGES: dict[str, Breakage] = {
    "TXC-READ-001": Breakage(
        "发现文档缺少 apiVersion / discovery without apiVersion",
        response=_when(
            lambda r: _path(r) == "/.well-known/tongxin",
            lambda r: _response(r, body={k: v for k, v in _json(r).items() if k != "apiVersion"}),
        ),
    ),
    "TXC-READ-002": Breakage(
        "不提供 OpenAPI / no OpenAPI document",
        response=_when(lambda r: _path(r) == "/openapi.json", lambda r: _response(r, status=404)),
    ),
    "TXC-READ-003": Breakage(
        "不校验令牌 / no authentication",
        request=_header_set(
            "authorization",
            lambda r: (
                "Bearer " + BROKEN_TOKEN[0]
                if "bearer txc-not" in r.headers.get("authorization", "bearer txc-not").lower()
                else None
            ),
        ),
    ),
    "TXC-READ-004": Breakage(
        "问题详情缺少指针 / problems without pointers", response=_pointers_dropped
    ),
    "TXC-READ-005": Breakage(
        "忽略伪造游标 / forged cursors ignored",
        request=_param_dropped("after", lambda r: r.url.params["after"].startswith("txc-")),
    ),
    "TXC-READ-006": Breakage(
        "404 不是问题详情 / a 404 that is not a problem",
        response=_when(
            lambda r: r.status_code == 404,
            lambda r: _response(r, headers={"content-type": "text/plain"}, content=b"Not Found"),
        ),
    ),
    "TXC-READ-007": Breakage(
        "分页重复记录 / pages repeat a record",
        response=_items(
            lambda items: items + items[:1] if len(items) == 1 else items[:1] + items, "/v1/members"
        ),
    ),
    "TXC-READ-008": Breakage("弱 ETag / weak ETags", response=_etag(lambda e: "W/" + e, "GET")),
    "TXC-READ-009": Breakage(
        "列表包含公民身份号码 / lists show citizen IDs",
        response=_items(lambda items: [_with_citizen_id(i) for i in items], "/v1/members"),
    ),
    "TXC-READ-010": Breakage(
        "变更流重复记录 / the feed repeats a record",
        response=_items(lambda items: items + items[:1], "/v1/changes"),
    ),
    "TXC-READ-011": Breakage(
        "续读时忽略游标 / the feed ignores the cursor when resumed",
        request=_param_dropped("after", lambda r: "limit" not in r.url.params),
    ),
    "TXC-READ-012": Breakage(
        "变更流包含公民身份号码 / the feed shows citizen IDs",
        response=_items(lambda items: [_with_citizen_id(i) for i in items], "/v1/changes"),
    ),
    "TXC-READ-014": Breakage(
        "健康检查崩溃 / a route that crashes (fuzzing reaches every GET)",
        response=_when(lambda r: _path(r) == "/healthz", lambda r: _response(r, status=500)),
    ),
    "TXC-WRITE-001": Breakage(
        "创建不返回 ETag / creates without ETag",
        response=_when(lambda r: r.status_code == 201, lambda r: _response(r, drop=("etag",))),
    ),
    "TXC-WRITE-002": Breakage(
        "重试创建返回 409 / a retried create answers 409",
        response=_status(200, 409, lambda r: r.request.method == "POST"),
    ),
    "TXC-WRITE-003": Breakage(
        "问题详情缺少指针 / problems without pointers", response=_pointers_dropped
    ),
    "TXC-WRITE-004": Breakage(
        "忽略缺失的 If-Match / If-Match not required",
        request=_header_set(
            "if-match",
            lambda r: (
                "*" if r.method in ("PUT", "DELETE") and "if-match" not in r.headers else None
            ),
        ),
    ),
    "TXC-WRITE-005": Breakage(
        "忽略 If-Match / If-Match ignored",
        request=_header_set("if-match", lambda r: "*" if r.method == "PUT" else None),
    ),
    "TXC-WRITE-006": Breakage(
        "替换后版本不变 / replacing keeps the version",
        response=_etag(lambda e: '"1"', "PUT"),
    ),
    "TXC-WRITE-007": Breakage(
        "整个批量只返回一条结果 / one bulk result for the whole request", response=_first_line_only
    ),
    "TXC-WRITE-008": Breakage(
        "重放不标明 / replays not marked",
        response=_when(lambda r: True, lambda r: _response(r, drop=("idempotent-replayed",))),
    ),
    "TXC-WRITE-009": Breakage(
        "忽略幂等键 / Idempotency-Key ignored", request=_header_dropped("idempotency-key")
    ),
    "TXC-WRITE-010": Breakage(
        "变更流不含删除标记 / no tombstones in the feed",
        response=_items(lambda items: [i for i in items if not i.get("deleted")], "/v1/changes"),
    ),
    "TXC-WRITE-011": Breakage(
        "公民身份号码不唯一 / citizen IDs not unique",
        request=lambda r: (
            _body_rewritten("/v1/members", _fresh_citizen_id)(r) if _is_members_post(r) else r
        ),
    ),
    "TXC-WRITE-012": Breakage(
        "接受外部前缀的标识 / foreign ids accepted",
        request=_body_rewritten(
            "/v1/members",
            lambda rec: {
                **rec,
                "id": re.sub(r"^txc-elsewhere:", "test-hub:txc-", rec.get("id", "")),
            },
        ),
    ),
    "TXC-FED-001": Breakage(
        "密钥集未签名 / unsigned key set",
        response=_when(
            lambda r: _path(r) == "/.well-known/tongxin/keys",
            lambda r: _response(r, body={**_json(r), "signatures": []}),
        ),
    ),
    "TXC-FED-002": Breakage(
        "接受未签名请求 / unsigned requests accepted", response=_signature_refusals_ignored
    ),
    "TXC-FED-003": Breakage(
        "接受被改动的请求 / tampered requests accepted", response=_signature_refusals_ignored
    ),
    "TXC-FED-004": Breakage(
        "接受未知密钥 / unknown keys accepted", response=_signature_refusals_ignored
    ),
    "TXC-FED-005": Breakage(
        "变更流响应未签名 / unsigned feed responses",
        response=_when(
            lambda r: _path(r) == "/v1/changes",
            lambda r: _response(r, drop=("signature", "signature-input")),
        ),
    ),
    "TXC-FED-006": Breakage(
        "接受重放的请求 / replays accepted", response=_signature_refusals_ignored
    ),
    "TXC-FED-007": Breakage(
        "接受伪造签名 / forged signatures accepted", response=_signature_refusals_ignored
    ),
    "TXC-FED-008": Breakage(
        "允许写入只读副本 / replica writes accepted",
        response=_status(409, 200, lambda r: b"replica-read-only" in r.content),
    ),
}

#: The token the "no authentication" server puts in (set by the test).
BROKEN_TOKEN: list[str] = [""]
