"""Operations routes: liveness, readiness and Prometheus metrics (``docs/operations.md``)."""

from __future__ import annotations

from typing import Annotated

import orjson
from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials

from tongxin.server._health import readiness
from tongxin.server._observe import CONTENT_TYPE, scrape
from tongxin.server._policy import Act, authorize
from tongxin.server._security import Principal
from tongxin.server._settings import Settings

from ._deps import HubDep, bearer, get_caller
from ._records import JSON, problem_responses

__all__ = ["ops_router"]

_STATUS = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["ok"]}},
}


async def _metrics_caller(
    request: Request,
    hub: HubDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """The caller of ``/metrics``: nobody when the setting makes it public, else a token."""
    if hub.settings.metrics_public:
        return None
    return await get_caller(request, hub, credentials)


def ops_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/healthz",
        operation_id="healthz",
        summary="Liveness: the process answers (no authentication)",
        responses={200: {"description": "Alive", "content": {JSON: {"schema": _STATUS}}}},
    )
    async def healthz() -> Response:
        return Response(orjson.dumps({"status": "ok"}), media_type=JSON)

    @router.get(
        "/readyz",
        operation_id="readyz",
        summary="Readiness: database reachable, migrations current, keys readable (no "
        "authentication)",
        responses={
            200: {"description": "Ready", "content": {JSON: {"schema": _STATUS}}},
            **problem_responses(503),
        },
    )
    async def readyz(hub: HubDep) -> Response:
        await to_thread.run_sync(readiness, hub)
        return Response(orjson.dumps({"status": "ok"}), media_type=JSON)

    @router.get(
        "/metrics",
        operation_id="metrics",
        summary="Prometheus metrics (admin token, unless TONGXIN_METRICS_PUBLIC)",
        responses={
            200: {
                "description": "The Prometheus text exposition format",
                "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
            },
            **problem_responses(401, 403, 429),
        },
    )
    async def metrics(
        hub: HubDep, caller: Annotated[Principal | None, Depends(_metrics_caller)]
    ) -> Response:
        if caller is not None:
            authorize(caller, Act.METRICS)
        body = await to_thread.run_sync(scrape, hub)
        return Response(body, media_type=CONTENT_TYPE)

    del settings
    return router
