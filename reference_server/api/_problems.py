"""One place that turns every error into an RFC 9457 ``application/problem+json`` response."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException

from tongxin.federation._errors import PROBLEM_BASE
from tongxin.server._errors import Conflict, HubError
from tongxin.server._hubrules import HUB_RULES

__all__ = ["install", "problem_response"]

log = logging.getLogger("tongxin.server")
PROBLEM = "application/problem+json"
_HTTP_CODES = {
    404: ("not-found", "没有这个资源"),
    405: ("method-not-allowed", "不支持该方法"),
    400: ("bad-request", "请求无效"),
    413: ("payload-too-large", "请求体过大"),
}


def problem_response(error: HubError, request: Request | None = None) -> Response:
    body = error.to_problem(str(request.url.path) if request is not None else None)
    return Response(orjson.dumps(body), error.status, headers=error.headers, media_type=PROBLEM)


def _raw(status: int, code: str, title: str, en: str, zh: str, **extra: Any) -> Response:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": en,
        "detailZh": zh,
        "code": code,
        "errors": [],
        **extra,
    }
    return Response(orjson.dumps(body), status, media_type=PROBLEM)


async def _hub_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HubError)
    return problem_response(error, request)


async def _parameters(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = []
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ()) if p not in ("query", "path", "header", "body")]
        name = ".".join(loc) or "request"
        why = str(item.get("msg", "invalid"))
        issue = HUB_RULES["API-001"].issue("/" + "/".join(loc), name=name, why=why)
        errors.append(
            {
                "pointer": issue.path,
                "rule": issue.rule,
                "severity": "error",
                "message": {"zh-CN": issue.message_zh, "en": issue.message_en},
            }
        )
    body = {
        "type": PROBLEM_BASE + "invalid-parameter",
        "title": "Bad request",
        "status": 400,
        "detail": "a request parameter is invalid",
        "detailZh": "请求参数无效",
        "code": "invalid-parameter",
        "errors": errors,
    }
    return Response(orjson.dumps(body), 400, media_type=PROBLEM)


async def _http(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code, zh = _HTTP_CODES.get(error.status_code, ("http-error", "请求失败"))
    response = _raw(error.status_code, code, str(error.detail), str(error.detail), zh)
    response.headers.update(error.headers or {})
    return response


async def _integrity(request: Request, error: Exception) -> Response:
    log.warning("integrity error on %s: %s", request.url.path, error)
    return problem_response(
        Conflict(
            "the write conflicts with a record stored meanwhile; retry",
            "写入与同时保存的记录冲突，请重试",
        ),
        request,
    )


async def _unavailable(request: Request, error: Exception) -> Response:
    log.error("database unavailable on %s: %s", request.url.path, error)
    response = _raw(
        503,
        "database-unavailable",
        "Service unavailable",
        "the database is unavailable; retry later",
        "数据库暂时不可用，请稍后重试",
    )
    response.headers["Retry-After"] = "5"
    return response


async def _internal(request: Request, error: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=error)
    return _raw(
        500,
        "internal-error",
        "Internal server error",
        "the hub failed unexpectedly; the error is logged",
        "枢纽发生意外错误，已记录日志",
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(HubError, _hub_error)
    app.add_exception_handler(RequestValidationError, _parameters)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(OperationalError, _unavailable)
    app.add_exception_handler(Exception, _internal)
