"""A lean path for the hottest request, ``GET /v1/{collection}/{id}``.

When the caller's token is in the cache (loaded once per process and kept loaded ahead of
expiry while it is used), has ``records:read`` and is within its rate limit,
the record is read and sent without routing or dependency resolution. Anything else (no or
unknown token, missing scope, rate limit, not found, deleted) falls through to the ordinary
route, which answers exactly as specified; the result of a fast read is the same bytes and
headers as the route's. The read runs on the event loop itself (see below).
"""

from __future__ import annotations

import asyncio
import contextlib
import re

from anyio import to_thread
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from tongxin.schemas import RECORD_TYPES
from tongxin.schemas._fields import ID_PATTERN
from tongxin.server._hub import Hub
from tongxin.server._reads import PointReader

__all__ = ["FastReads"]

_COLLECTIONS = frozenset(m.collection for m in RECORD_TYPES)
_ID = re.compile(ID_PATTERN)


class FastReads:
    """Wraps the hub's app (outermost) and serves cached-token single-record reads directly."""

    def __init__(self, app: FastAPI) -> None:
        self.app: ASGIApp = app
        self.state = app.state
        self.reader: PointReader | None = None
        self._loading: dict[str, asyncio.Future[None]] = {}

    def _reload(self, hub: Hub, authorization: str) -> asyncio.Future[None]:
        """The one running load of this bearer value into the token cache (started if none);
        it never fails: whatever goes wrong, the ordinary route answers."""
        running = self._loading.get(authorization)
        if running is None:
            running = asyncio.ensure_future(self._load(hub, authorization))
            self._loading[authorization] = running
            running.add_done_callback(lambda _: self._loading.pop(authorization, None))
        return asyncio.shield(running)

    @staticmethod
    async def _load(hub: Hub, authorization: str) -> None:
        with contextlib.suppress(Exception):
            await to_thread.run_sync(hub.tokens.reload, authorization)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        parts = scope["path"].split("/")
        hub: Hub | None = getattr(self.state, "hub", None)
        if (
            hub is None
            or len(parts) != 4
            or parts[1] != "v1"
            or parts[2] not in _COLLECTIONS
            or not _ID.fullmatch(parts[3])
            or scope.get("query_string")
        ):
            await self.app(scope, receive, send)
            return
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        principal = hub.tokens.cached(authorization)
        if authorization is not None and authorization.startswith("Bearer "):
            if principal is None:
                # First use in this process, or expired: one load per token, the concurrent
                # requests wait for it instead of each taking a thread and a pooled connection.
                await self._reload(hub, authorization)
                principal = hub.tokens.cached(authorization)
            elif hub.tokens.due(authorization):
                # Load again before the entry ends, so that a busy token never misses.
                self._reload(hub, authorization)
        if (
            principal is None
            or not principal.has("records:read")
            or (hub.limiter.retry_after(principal))
        ):
            await self.app(scope, receive, send)
            return
        if self.reader is None:
            self.reader = PointReader(hub)
        # Inline on the event loop: a primary-key read takes a fraction of a millisecond, while
        # a hop to a worker thread waits for the GIL (up to its 5 ms switch interval) whenever
        # the loop is busy.
        found = self.reader.get(principal, parts[2], parts[3])
        if found is None:
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"etag", b'"%d"' % found.version),
                    (b"content-length", b"%d" % len(found.body)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": found.body})
