"""One handler that turns every error into an RFC 9457 ``application/problem+json`` response.

Every failure becomes a :class:`tongxin.schemas.TongxinError` (the hub's and the federation's
errors are ones already; FastAPI's parameter errors, Starlette's HTTP errors, database failures
and anything unexpected are mapped here), and its body is built by
:meth:`~tongxin.schemas.TongxinError.to_problem`, the one place problem bodies are made.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException

from tongxin.schemas import TongxinError, problems
from tongxin.server._errors import (
    BadRequest,
    Conflict,
    HubError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from tongxin.server._hubrules import HUB_RULES

__all__ = ["PROBLEM", "as_problem", "install", "problem_bytes", "problem_response"]

log = logging.getLogger("tongxin.server")
PROBLEM = "application/problem+json"


def problem_bytes(error: TongxinError, instance: str | None = None) -> bytes:
    """The serialised problem body of ``error``."""
    return orjson.dumps(error.to_problem(instance))


def problem_response(error: TongxinError, request: Request | None = None) -> Response:
    body = problem_bytes(error, str(request.url.path) if request is not None else None)
    return Response(body, error.status, headers=error.headers, media_type=PROBLEM)


def _parameters(error: RequestValidationError) -> HubError:
    issues, names = [], []
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ()) if p not in ("query", "path", "header", "body")]
        name = ".".join(loc) or "request"
        why = str(item.get("msg", "invalid"))
        names.append(name)
        issues.append(HUB_RULES["API-001"].issue("/" + "/".join(loc), name=name, why=why))
    return BadRequest(
        problems.INVALID_PARAMETER,
        "a request parameter is invalid",
        "请求参数无效",
        issues=issues,
        parameter=names[0] if names else "request",  # §2.1: `parameter` names it
    )


def _http(error: HTTPException) -> HubError:
    status, en = error.status_code, str(error.detail)
    refused: HubError
    if status == 404:
        refused = NotFound(problems.NOT_FOUND, en, "没有这个资源")
    elif status == 405:
        refused = MethodNotAllowed(problems.METHOD_NOT_ALLOWED, en, "不支持该方法")
    elif status == 400:
        refused = BadRequest(problems.BAD_REQUEST, en, "请求无效")
    elif status == 413:
        refused = PayloadTooLarge(problems.PAYLOAD_TOO_LARGE, en, "请求体过大")
    else:
        refused = HubError(problems.HTTP_ERROR, en, "请求失败")
        refused.status = status
    refused.headers.update(error.headers or {})
    return refused


def as_problem(request: Request, error: Exception) -> TongxinError:
    """The Tongxin error ``error`` answers as (logging what is not the caller's doing)."""
    if isinstance(error, TongxinError):
        return error
    if isinstance(error, RequestValidationError):
        return _parameters(error)
    if isinstance(error, HTTPException):
        return _http(error)
    if isinstance(error, IntegrityError):
        log.warning("integrity error on %s: %s", request.url.path, error)
        return Conflict(
            problems.CONFLICT,
            "the write conflicts with a record stored meanwhile; retry",
            "写入与同时保存的记录冲突，请重试",
        )
    if isinstance(error, OperationalError):
        log.error("database unavailable on %s: %s", request.url.path, error)
        return ServiceUnavailable(
            problems.DATABASE_UNAVAILABLE,
            "the database is unavailable; retry later",
            "数据库暂时不可用，请稍后重试",
            headers={"Retry-After": "5"},
        )
    log.exception("unexpected error on %s", request.url.path, exc_info=error)
    return InternalError(
        problems.INTERNAL_ERROR,
        "the hub failed unexpectedly; the error is logged",
        "枢纽发生意外错误，已记录日志",
    )


async def _handle(request: Request, error: Exception) -> Response:
    return problem_response(as_problem(request, error), request)


def install(app: FastAPI) -> None:
    """Register the one handler on ``app`` for every kind of failure."""
    for kind in (
        TongxinError,
        RequestValidationError,
        HTTPException,
        IntegrityError,
        OperationalError,
        Exception,
    ):
        app.add_exception_handler(kind, _handle)
