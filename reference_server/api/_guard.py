"""The first check of every request: its path and query parameters are text a database can take.

Before routing, a request is refused with 400 ``invalid-parameter`` (naming the parameter) when
its path or a query parameter holds a control character (NUL included), is not UTF-8, or is
longer than the hub ever needs. Each route then checks its own parameters (patterns, ranges,
cursors), so nothing crafted reaches a database driver: PostgreSQL refuses NUL in text and a
failed statement would otherwise cost the connection.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from tongxin.schemas import Issue, Severity, problems
from tongxin.server._errors import BadRequest

from ._problems import PROBLEM, problem_bytes

__all__ = ["MAX_PATH_CHARS", "MAX_QUERY_CHARS", "MAX_VALUE_CHARS", "InputGuard", "unsafe"]

#: Longest path, whole query string and single query value accepted (characters).
MAX_PATH_CHARS = 1024
MAX_QUERY_CHARS = 4096
MAX_VALUE_CHARS = 1024
#: C0 and C1 control characters and DEL (Unicode category Cc).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def unsafe(value: str) -> bool:
    """True when ``value`` holds a control character."""
    return _CONTROL.search(value) is not None


def _refusal(name: str, why_en: str, why_zh: str) -> bytes:
    subject = {"path": "请求路径", "query": "查询串"}.get(name, f"参数 {name}")
    en, zh = f"parameter {name} is invalid: {why_en}", f"{subject}无效：{why_zh}"
    issue = Issue("API-001", Severity.ERROR, f"/{name}", zh, en)
    error = BadRequest(problems.INVALID_PARAMETER, en, zh, issues=[issue], parameter=name)
    return problem_bytes(error)


def check_request(path: str, query: bytes) -> bytes | None:
    """The problem body refusing this path and query string, or None when they are usable."""
    if len(path) > MAX_PATH_CHARS:
        return _refusal("path", f"longer than {MAX_PATH_CHARS} characters", "路径过长")
    if unsafe(path) or "\ufffd" in path:
        return _refusal("path", "holds a control character or is not UTF-8", "路径含控制字符")
    if not query:
        return None
    if len(query) > MAX_QUERY_CHARS:
        return _refusal("query", f"longer than {MAX_QUERY_CHARS} bytes", "查询串过长")
    try:
        pairs = parse_qsl(
            query.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        return _refusal("query", "is not UTF-8 text", "查询串不是有效的文本")
    for name, value in pairs:
        shown = name if _NAME.fullmatch(name) else "query"
        if shown == "query" and name:
            return _refusal("query", "holds a parameter name that is not plain", "参数名无效")
        if unsafe(value):
            return _refusal(shown, "holds a control character", "含控制字符")
        if len(value) > MAX_VALUE_CHARS:
            return _refusal(shown, f"longer than {MAX_VALUE_CHARS} characters", "过长")
    return None


class InputGuard:
    """ASGI middleware applying :func:`check_request` to every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = check_request(scope.get("path", ""), scope.get("query_string", b""))
            if problem is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", PROBLEM.encode()),
                            (b"content-length", b"%d" % len(problem)),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": problem})
                return
        await self.app(scope, receive, send)
