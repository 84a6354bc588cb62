"""The client's sans-IO core, without a hub: what each operation asks for, how answers and
retries are decided, the reconciliation of a retried update or delete, the resumption of a bulk
request; and the sync and async shells carrying the same calls alike."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from tongxin.client import (
    AsyncClient,
    Client,
    ConnectionFailed,
    NotFound,
    PreconditionFailed,
    RetryPolicy,
    ServiceUnavailable,
)
from tongxin.client import _core as core

FAST = RetryPolicy(attempts=3, base=0.0, cap=0.0)
ORG = {"id": "cd-wuhou:o1", "name": "第一党支部", "type": "branch", "parentId": "cd-wuhou:o0"}
STORED = {**ORG, "version": 2, "updatedAt": "2026-01-01T00:00:00+08:00"}


def _answer(status: int, body: Any = None, retried: bool = False, **headers: str) -> core.Answer:
    content = b"" if body is None else orjson.dumps(body)
    return core.Answer(httpx.Response(status, content=content, headers=headers), retried)


def _problem(status: int, code: str) -> dict[str, Any]:
    return {"status": status, "code": code, "detail": code, "detailZh": "错误"}


def _finish(program: core.Program[Any], answer: core.Answer) -> Any:
    with pytest.raises(StopIteration) as done:
        program.send(answer)
    return done.value.value


def test_an_update_sends_if_match_of_the_version_it_was_read_with() -> None:
    program = core.update("organisations", {**ORG, "version": 1}, None)
    call = next(program)
    assert (call.method, call.path) == ("PUT", "/v1/organisations/cd-wuhou:o1")
    assert call.headers is not None
    assert call.headers["If-Match"] == '"1"'
    assert call.ok == frozenset({412})
    assert _finish(program, _answer(200, STORED)).version == 2


def test_a_retried_update_finding_its_own_write_returns_it() -> None:
    program = core.update("organisations", {**ORG, "version": 1}, None)
    next(program)
    check = program.send(_answer(412, _problem(412, "version-mismatch"), retried=True))
    assert (check.method, check.path) == ("GET", "/v1/organisations/cd-wuhou:o1")
    assert _finish(program, _answer(200, STORED)).version == 2


def test_a_stale_update_raises_whether_retried_or_not() -> None:
    program = core.update("organisations", {**ORG, "version": 1}, None)
    next(program)
    with pytest.raises(PreconditionFailed):
        program.send(_answer(412, _problem(412, "version-mismatch")))  # no GET without a retry
    program = core.update("organisations", {**ORG, "version": 1}, None)
    next(program)
    program.send(_answer(412, _problem(412, "version-mismatch"), retried=True))
    with pytest.raises(PreconditionFailed):  # somebody else's version 2
        program.send(_answer(200, {**STORED, "name": "第二党支部"}))


def test_an_update_without_a_version_is_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="if_match"):
        next(core.update("organisations", ORG, None))


def test_a_retried_delete_finding_the_record_gone_succeeds() -> None:
    program = core.delete("members", "cd-wuhou:m1", 3)
    assert next(program).headers == {"If-Match": '"3"'}
    assert _finish(program, _answer(410, _problem(410, "deleted"), retried=True)) is None
    program = core.delete("members", "cd-wuhou:m1", 3)
    next(program)
    with pytest.raises(NotFound):
        program.send(_answer(404, _problem(404, "not-found")))


def test_attempts_honour_retry_after_then_give_up() -> None:
    attempts = core.Attempts(RetryPolicy(attempts=2, cap=5.0), "GET /v1/members")
    busy = httpx.Response(503, headers={"Retry-After": "2"})
    assert attempts.answered(busy) == 2.0
    assert attempts.retried
    with pytest.raises(ServiceUnavailable):
        attempts.answered(busy)
    assert attempts.answered(httpx.Response(404), frozenset({404})) is None
    broken = core.Attempts(RetryPolicy(attempts=1), "GET /v1/members")
    with pytest.raises(ConnectionFailed, match="GET /v1/members"):
        broken.failed(httpx.ConnectError("refused"))


def test_a_resumed_bulk_answer_yields_each_line_once() -> None:
    run = core.Bulk([core.Delete("members", "cd-wuhou:m1")], FAST)
    assert orjson.loads(run.body) == {"op": "delete", "type": "members", "id": "cd-wuhou:m1"}
    line = orjson.dumps({"index": 0, "status": 200, "outcome": "deleted"}).decode()
    assert run.line(line) is not None
    assert run.line("  ") is None
    assert run.line(line) is None  # the replay of a resumed request
    assert run.broken(httpx.ReadError("cut")) == 0.0


def _flaky_hub() -> tuple[list[str], Any]:
    """A hub that is busy once, then answers; it records what it was asked."""
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if len(seen) == 1:
            return httpx.Response(503, json=_problem(503, "not-ready"))
        return httpx.Response(200, json=STORED)

    return seen, handle


def test_the_sync_and_async_shells_carry_the_same_calls() -> None:
    sync_seen, handle = _flaky_hub()
    with Client("http://hub", retry=FAST, transport=httpx.MockTransport(handle)) as hub:
        got = hub.organisations.get("cd-wuhou:o1")
    async_seen, ahandle = _flaky_hub()

    async def run() -> Any:
        transport = httpx.MockTransport(ahandle)
        async with AsyncClient("http://hub", retry=FAST, transport=transport) as ahub:
            return await ahub.organisations.get("cd-wuhou:o1")

    assert asyncio.run(run()) == got
    assert sync_seen == async_seen == ["GET /v1/organisations/cd-wuhou:o1"] * 2
