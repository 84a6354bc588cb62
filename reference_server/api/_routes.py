"""Discovery, validation, bulk, the change feed and the audit log."""

import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import IO, Annotated

import anyio
import orjson
from anyio import to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from tongxin.federation import RelationError
from tongxin.schemas import (
    RECORD_TYPES,
    Issue,
    PackageReadError,
    Severity,
    iter_issues,
    problems,
)
from tongxin.server._audit import list_audit
from tongxin.server._bulk import run_bulk
from tongxin.server._discovery import discovery
from tongxin.server._errors import BadRequest, HubError, RateLimited
from tongxin.server._federation import peer_feed
from tongxin.server._hub import now_stamp
from tongxin.server._policy import Act, authorize
from tongxin.server._reads import list_changes, sensitive_allowed
from tongxin.server._settings import Settings
from tongxin.server._writes import Uncheckable, check

from ._deps import Caller, HubDep, limited_stream, require_type
from ._federation import FeedCaller, PeerCaller, peer_problem, signed_response
from ._pages import next_url, page_body
from ._records import JSON, problem_responses

__all__ = ["misc_router"]

log = logging.getLogger("tongxin.server")

NDJSON = ("application/x-ndjson", "application/ndjson")
Collection = tuple(m.collection for m in RECORD_TYPES)
_REPORT = {
    "type": "object",
    "required": ["valid", "counts", "truncated", "issues"],
    "properties": {
        "valid": {"type": "boolean"},
        "counts": {"type": "object"},
        "truncated": {"type": "boolean"},
        "issues": {"type": "array", "items": {"type": "object"}},
    },
}


def _spool_reader(spool: IO[bytes]) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        try:
            while True:
                chunk = await to_thread.run_sync(spool.read, 1 << 16)
                if not chunk:
                    break
                yield chunk
        finally:
            spool.close()

    return chunks()


def misc_router(settings: Settings) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/.well-known/tongxin",
        tags=["discovery"],
        operation_id="discover",
        summary="Discovery document: identity, schema versions, limits, feeds, links",
    )
    def discover(hub: HubDep) -> Response:
        return Response(orjson.dumps(discovery(hub)), media_type=JSON)

    @router.post(
        "/v1/validate",
        tags=["validation"],
        operation_id="validate",
        summary="Dry run: validate a package, or one record with ?type=",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    JSON: {
                        "schema": {
                            "oneOf": [{"$ref": "#/components/schemas/Package"}, {"type": "object"}]
                        }
                    }
                },
            }
        },
        responses={
            200: {
                "description": "The validation report (as `tongxin validate`)",
                "content": {JSON: {"schema": _REPORT}},
            },
            **problem_responses(400, 401, 413, 415, 429),
        },
    )
    async def validate_endpoint(
        request: Request,
        hub: HubDep,
        caller: Caller,
        type: Annotated[
            str | None,
            Query(
                description="Validate one record of this type instead of a package.",
                pattern="^(" + "|".join(Collection) + ")$",
            ),
        ] = None,
    ) -> Response:
        authorize(caller, Act.VALIDATE)
        require_type(request, "application/json")
        limits = hub.settings
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1_048_576)  # noqa: SIM115
        with spool:
            async for chunk in limited_stream(request, limits.max_validate_bytes):
                spool.write(chunk)
            spool.seek(0)
            async with _validation_slot(request, limits):
                body = await to_thread.run_sync(_validate, spool, type, limits.max_validate_issues)
        return Response(body, media_type=JSON)

    @router.post(
        "/v1/bulk",
        tags=["bulk"],
        operation_id="bulk",
        summary="NDJSON operations in, one NDJSON result per line out",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            }
        },
        responses={
            200: {
                "description": "One result per input line",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            },
            **problem_responses(400, 401, 403, 409, 413, 415, 422, 429),
        },
    )
    async def bulk(
        request: Request,
        hub: HubDep,
        caller: Caller,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                max_length=255,
                description="Makes a retry return the first results and write nothing twice.",
            ),
        ] = None,
    ) -> Response:
        authorize(caller, Act.WRITE)
        require_type(request, *NDJSON)
        result = await run_bulk(hub, caller, limited_stream(request, None), idempotency_key)
        headers = {f"Tongxin-Bulk-{k.title()}": str(v) for k, v in sorted(result.counts.items())}
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        return StreamingResponse(
            _spool_reader(result.spool), media_type="application/x-ndjson", headers=headers
        )

    @router.get(
        "/v1/changes",
        tags=["changes"],
        operation_id="changes",
        summary="The change feed in commit order, with tombstones",
        responses={
            200: {
                "description": "A page of changes",
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["items", "next", "cursor"],
                            "properties": {
                                "items": {"type": "array", "items": {"type": "object"}},
                                "next": {"type": ["string", "null"]},
                                "cursor": {"type": ["string", "null"]},
                            },
                        }
                    }
                },
            },
            **problem_responses(400, 401, 403, 410, 429),
        },
    )
    def changes(
        request: Request,
        hub: HubDep,
        caller: FeedCaller,
        after: Annotated[str | None, Query(max_length=400)] = None,
        limit: Annotated[int, Query(ge=1, le=10 * settings.max_page_size)] = (
            10 * settings.page_size
        ),
        types: Annotated[
            str | None, Query(description="Comma-separated types.", max_length=200)
        ] = None,
        include: Annotated[str | None, Query(pattern="^sensitive$")] = None,
    ) -> Response:
        wanted = [t for t in (types or "").split(",") if t]
        unknown = sorted(set(wanted) - set(Collection))
        if unknown:
            raise BadRequest(
                problems.INVALID_PARAMETER,
                f"unknown types {', '.join(unknown)}",
                f"未知类型 {', '.join(unknown)}",
            )
        if isinstance(caller, PeerCaller):
            try:
                items, cursor, more = peer_feed(
                    hub, caller.peer, after=after, limit=limit, collections=wanted or None
                )
            except (RelationError, HubError) as error:
                # a cursor refused (400 invalid-cursor, 410 cursor-expired / epoch-changed) is
                # answered signed like every response to a peer, so the puller can act on it
                return peer_problem(hub, error, request, caller)
            body = orjson.dumps(
                {
                    "items": items,
                    "next": next_url(request, cursor) if more else None,
                    "cursor": cursor,
                }
            )
            return signed_response(hub, 200, body, caller.request)
        authorize(caller, Act.READ)
        page = list_changes(
            hub,
            caller,
            after=after,
            limit=limit,
            collections=wanted or None,
            sensitive=sensitive_allowed(caller, include == "sensitive"),
        )
        return Response(page_body(request, page, feed=True), media_type=JSON)

    @router.get(
        "/v1/audit",
        tags=["audit"],
        operation_id="audit",
        summary="The append-only audit log of writes (admin)",
        responses=problem_responses(400, 401, 403, 429),
    )
    def audit_log(
        request: Request,
        hub: HubDep,
        caller: Caller,
        after: Annotated[str | None, Query(max_length=400)] = None,
        limit: Annotated[int, Query(ge=1, le=settings.max_page_size)] = settings.page_size,
    ) -> Response:
        authorize(caller, Act.AUDIT)
        return Response(
            page_body(request, list_audit(hub, after=after, limit=limit)), media_type=JSON
        )

    return router


@contextlib.asynccontextmanager
async def _validation_slot(request: Request, settings: Settings) -> AsyncIterator[None]:
    """One of ``validate_concurrency`` slots of this worker; 429 ``validation-busy`` with
    Retry-After when none frees up within ``validate_wait_seconds``."""
    gate: anyio.Semaphore | None = getattr(request.app.state, "validate_gate", None)
    if gate is None:
        gate = anyio.Semaphore(settings.validate_concurrency)
        request.app.state.validate_gate = gate
    try:
        gate.acquire_nowait()
    except anyio.WouldBlock:
        try:
            if settings.validate_wait_seconds <= 0:
                raise TimeoutError from None
            with anyio.fail_after(settings.validate_wait_seconds):
                await gate.acquire()
        except TimeoutError:
            raise RateLimited(
                problems.VALIDATION_BUSY,
                "other validations are running on this hub; retry shortly",
                "本枢纽正在进行其他校验，请稍后重试",
                headers={"Retry-After": "5"},
            ) from None
    try:
        yield
    finally:
        gate.release()


def _validate(spool: IO[bytes], collection: str | None, cap: int) -> bytes:
    """The report as JSON bytes: the issues are consumed as the validator yields them and at
    most ``cap`` are kept, so memory stays bounded whatever the package holds."""
    try:
        if collection is None:
            return _report(iter_issues(spool), cap)
        record = orjson.loads(spool.read())
    except (PackageReadError, orjson.JSONDecodeError) as error:
        raise BadRequest(
            problems.INVALID_JSON,
            f"the body is not valid JSON: {error}",
            f"请求体不是有效的 JSON：{error}",
        ) from None
    except HubError:
        raise
    except Exception:
        log.exception("a rule failed on a package")
        raise Uncheckable() from None
    if isinstance(record, dict):
        # As on a write: the hub fills the server-managed fields the client left out.
        record = {"version": 1, "updatedAt": now_stamp()[0], **record}
    return _report(iter(check(collection, record)), cap)


def _report(issues: Iterator[Issue], cap: int) -> bytes:
    """``{"valid", "counts", "truncated", "issues"}``: counts of every issue, the first ``cap``."""
    counts = {s.value: 0 for s in Severity}
    kept: list[bytes] = []
    for issue in issues:
        counts[issue.severity.value] += 1
        if len(kept) < cap:
            kept.append(orjson.dumps(issue.to_dict()))
    head = {
        "valid": counts[Severity.ERROR.value] == 0,
        "counts": counts,
        "truncated": sum(counts.values()) > len(kept),
    }
    return orjson.dumps(head)[:-1] + b',"issues":[' + b",".join(kept) + b"]}"
