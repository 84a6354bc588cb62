"""Observability: Prometheus metrics, request ids and structured (JSON) logs.

:class:`Observe` is the outermost ASGI layer of the served app. For every HTTP request it
takes the caller's ``X-Request-Id`` (when it is 1–64 of ``A–Z a–z 0–9 . _ -``) or makes one,
answers it in ``X-Request-Id``, keeps it in a context variable for the log lines written while
the request runs, and counts the request by **route template** (``/v1/{collection}/{id}``, never
the path: no record id and no personal data reaches a label), method and status, with its
latency. Bulk requests add their lines by outcome (from the ``Tongxin-Bulk-*`` headers); 401 and
429 answers count as authentication failures and rate-limit refusals.

Several workers (``--workers N``): ``tongxin serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh private directory before the workers start, and a scrape of any worker adds up the
counters of all of them (prometheus-client's multiprocess mode). Gauges that describe the hub
(peers, outbox) are read from the database at scrape time, so they are the same from every
worker.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from tongxin.schemas import RECORD_TYPES

from ._tables import peers, transfer_letters

__all__ = [
    "CONTENT_TYPE",
    "JsonFormatter",
    "Observe",
    "current_request_id",
    "scrape",
]

# The ASGI interface (asgi.readthedocs.io), spelt out so that the core needs no web framework.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_REQUEST_ID = contextvars.ContextVar[str | None]("tongxin_request_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_COLLECTIONS = frozenset(m.collection for m in RECORD_TYPES)
_BULK_HEADER = b"tongxin-bulk-"

REQUESTS = Counter(
    "tongxin_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
    registry=None,
)
LATENCY = Histogram(
    "tongxin_http_request_duration_seconds",
    "Time from request to the end of the response, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=None,
)
BULK_LINES = Counter(
    "tongxin_bulk_lines",
    "Lines of /v1/bulk requests, by outcome (created, updated, unchanged, deleted, error, …).",
    ["outcome"],
    registry=None,
)
RATE_LIMITED = Counter(
    "tongxin_rate_limited_requests",
    "Requests refused with 429 because the token exceeded its rate limit.",
    registry=None,
)
AUTH_FAILURES = Counter(
    "tongxin_auth_failures",
    "Requests refused with 401 (missing, unknown, revoked or expired token).",
    registry=None,
)
_PROCESS_METRICS = (REQUESTS, LATENCY, BULK_LINES, RATE_LIMITED, AUTH_FAILURES)


def current_request_id() -> str | None:
    """The id of the request being served (None outside a request)."""
    return _REQUEST_ID.get()


def _template(scope: Scope, status: int) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    parts = str(scope.get("path", "")).split("/")
    if len(parts) == 4 and parts[1] == "v1" and parts[2] in _COLLECTIONS and parts[3]:
        return "/v1/{collection}/{id}"  # the lean read path (FastReads) has no route
    return "unmatched"


class Observe:
    """Outermost ASGI layer: request ids and the request metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # ``state`` and friends of the wrapped app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = given if given and _VALID_ID.match(given) else uuid.uuid4().hex
        token = _REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        bulk: list[tuple[str, float]] = []

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
                for name, value in headers:
                    lower = bytes(name).lower()
                    if lower.startswith(_BULK_HEADER) and value.isdigit():
                        bulk.append((lower[len(_BULK_HEADER) :].decode(), float(value)))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _template(scope, status)
            method = str(scope.get("method", ""))
            REQUESTS.labels(route, method, str(status)).inc()
            LATENCY.labels(route, method).observe(time.perf_counter() - started)
            for outcome, count in bulk:
                BULK_LINES.labels(outcome).inc(count)
            if status == 429:
                RATE_LIMITED.inc()
            elif status == 401:
                AUTH_FAILURES.inc()
            _REQUEST_ID.reset(token)


class _HubCollector:
    """Gauges read from the database at scrape time (the same from every worker)."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        lag = GaugeMetricFamily(
            "tongxin_peer_replication_lag_seconds",
            "Seconds since the last successful exchange with the peer (no success yet: since "
            "the peer was added).",
            labels=["peer", "relation"],
        )
        failing = GaugeMetricFamily(
            "tongxin_peer_last_error",
            "1 when the last exchange with the peer failed, else 0.",
            labels=["peer", "relation"],
        )
        failures = GaugeMetricFamily(
            "tongxin_peer_consecutive_failures",
            "Consecutive failed rounds with the peer.",
            labels=["peer", "relation"],
        )
        with self.hub.db.read() as conn:
            rows = conn.execute(
                select(
                    peers.c.hub_id,
                    peers.c.relation,
                    peers.c.last_success_at,
                    peers.c.created_at,
                    peers.c.last_error,
                    peers.c.failures,
                )
            ).all()
            outbox = conn.execute(
                select(func.count()).where(transfer_letters.c.delivered.is_(False))
            ).scalar_one()
        for row in rows:
            since = row.last_success_at or row.created_at
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            labels = [row.hub_id, row.relation]
            lag.add_metric(labels, max(0.0, (now - since).total_seconds()))
            failing.add_metric(labels, 1.0 if row.last_error else 0.0)
            failures.add_metric(labels, float(row.failures))
        yield lag
        yield failing
        yield failures
        yield GaugeMetricFamily(
            "tongxin_outbox_depth",
            "Transfer letters, receipts and withdrawals not yet delivered to their peer.",
            value=float(outbox),
        )


def scrape(hub: Any) -> bytes:
    """The Prometheus text exposition of this hub (all workers' counters when several)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for metric in _PROCESS_METRICS:
            registry.register(metric)
    registry.register(_HubCollector(hub))
    return generate_latest(registry)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["requestId"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def log_config(log_format: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn and the hub: plain text or JSON lines."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if log_format == "json"
        else {"format": "%(levelname)s:%(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    loggers: Iterable[str] = ("uvicorn", "uvicorn.error", "uvicorn.access", "tongxin")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "loggers": {
            name: {"handlers": ["main"], "level": "INFO", "propagate": False} for name in loggers
        },
    }
