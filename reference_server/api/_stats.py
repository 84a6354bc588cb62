"""``GET /v1/stats``: the statistics of the caller's subtree (``spec/api.md`` §10)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import orjson
from anyio import to_thread
from fastapi import APIRouter, Query
from fastapi.responses import Response

from tongxin.server._policy import Act, authorize
from tongxin.server._stats import StatsQuery, compute_stats

from ._deps import Caller, HubDep
from ._records import JSON, problem_responses

__all__ = ["stats_router"]

_STATS = {
    "type": "object",
    "required": [
        "organisationId",
        "asOf",
        "members",
        "branches",
        "probation",
        "meetings",
        "dues",
        "committees",
        "feedback",
        "transfers",
    ],
    "properties": {
        "organisationId": {"type": ["string", "null"]},
        "asOf": {"type": "string", "format": "date"},
        "from": {"type": ["string", "null"], "format": "date"},
        "to": {"type": ["string", "null"], "format": "date"},
        "members": {"type": "object"},
        "branches": {"type": "object"},
        "probation": {"type": "object"},
        "meetings": {"type": "object"},
        "dues": {"type": "object"},
        "committees": {"type": "object"},
        "feedback": {
            "type": "object",
            "description": "Feedback (意见建议) received at this hub in the period: counts only.",
            "required": ["from", "to", "received", "answeredWithin7Days", "open"],
            "properties": {
                "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
                "received": {"type": "integer", "minimum": 0},
                "answeredWithin7Days": {"type": "integer", "minimum": 0},
                "open": {"type": "integer", "minimum": 0},
            },
            "additionalProperties": False,
        },
        "transfers": {"type": "object"},
    },
}


def stats_router() -> APIRouter:
    router = APIRouter()

    @router.get(
        "/v1/stats",
        tags=["statistics"],
        operation_id="stats",
        summary="Statistics of the caller's organisation subtree, computed by the database",
        responses={
            200: {"content": {JSON: {"schema": _STATS}}, "description": "The statistics."},
            **problem_responses(400, 401, 403, 404, 429),
        },
    )
    async def stats(
        hub: HubDep,
        caller: Caller,
        organisation_id: Annotated[
            str | None, Query(alias="organisationId", min_length=1, max_length=96)
        ] = None,
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
    ) -> Response:
        authorize(caller, Act.READ)
        query = StatsQuery(organisation_id, start, end)
        document = await to_thread.run_sync(compute_stats, hub, caller, query)
        return Response(orjson.dumps(document), media_type=JSON)

    return router
