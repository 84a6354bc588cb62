"""Typed dependencies of the routes: the hub, the caller (token, scopes, rate limit), and
request bodies read with size and content-type checks."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from anyio import to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tongxin.schemas import Issue, Severity, problems
from tongxin.server._bulk import nul_pointer
from tongxin.server._errors import BadRequest, PayloadTooLarge, RateLimited, UnsupportedMediaType
from tongxin.server._hub import Hub
from tongxin.server._security import Principal

__all__ = ["Caller", "HubDep", "json_body", "limited_stream", "require_type"]

bearer = HTTPBearer(auto_error=False, description="A token made by `tongxin token create`.")


async def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


async def get_caller(
    request: Request,
    hub: HubDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The authenticated caller, after the rate limit."""
    header = request.headers.get("authorization")
    principal = hub.tokens.cached(header)
    if principal is None:
        principal = await to_thread.run_sync(hub.tokens.authenticate, header)
    wait = hub.limiter.retry_after(principal)
    if wait:
        raise RateLimited(
            problems.RATE_LIMITED,
            f"rate limit of this token exceeded; retry in {wait:.1f} s",
            f"超出该令牌的请求频率限制，请 {wait:.1f} 秒后重试",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    return principal


Caller = Annotated[Principal, Depends(get_caller)]


def require_type(request: Request, *accepted: str) -> None:
    """415 unless the request's media type is one of ``accepted``."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in accepted:
        raise UnsupportedMediaType(
            problems.UNSUPPORTED_MEDIA_TYPE,
            f"send Content-Type: {' or '.join(accepted)} (got {media or 'none'})",
            f"请使用 Content-Type：{' 或 '.join(accepted)}（收到 {media or '无'}）",
            accepted=list(accepted),
        )


async def limited_stream(request: Request, limit: int | None) -> AsyncIterator[bytes]:
    """The request body in chunks; 413 once it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if (
        limit is not None
        and declared
        and declared.isascii()
        and declared.isdigit()
        and int(declared) > limit
    ):
        raise _too_large(limit)
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if limit is not None and seen > limit:
            raise _too_large(limit)
        yield chunk


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        problems.PAYLOAD_TOO_LARGE,
        f"the body is larger than {limit} bytes",
        f"请求体超过 {limit} 字节",
        maxBytes=limit,
    )


async def json_body(request: Request, hub: Hub) -> Any:
    """The JSON body of a record request (415 / 413 / 400 when unusable)."""
    require_type(request, "application/json")
    body = b"".join([c async for c in limited_stream(request, hub.settings.max_body_bytes)])
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(
            problems.INVALID_JSON,
            f"the body is not valid JSON: {error}",
            f"请求体不是有效的 JSON：{error}",
        ) from None
    pointer = nul_pointer(value) if b"\\u0000" in body else None
    if pointer is not None:
        raise BadRequest(
            problems.INVALID_JSON,
            "the body holds a NUL character (\\u0000), which no field of the standard allows",
            "请求体含有空字符，数据标准的任何字段都不允许",
            issues=[
                Issue(
                    "SCH-001",
                    Severity.ERROR,
                    pointer,
                    "含有空字符",
                    "holds a NUL character (\\u0000)",
                )
            ],
        )
    return value
