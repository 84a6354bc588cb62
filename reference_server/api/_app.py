"""The app factory: settings → FastAPI app with the hub opened in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from anyio import to_thread
from fastapi import FastAPI
from pydantic import TypeAdapter

from tongxin.schemas import Package10  # the body of POST /v1/validate: any 1.0 object
from tongxin.server._discovery import API_VERSION
from tongxin.server._hints import PullNow, send_hints
from tongxin.server._hub import Hub, open_hub
from tongxin.server._maintenance import purge
from tongxin.server._observe import Observe
from tongxin.server._rounds import federation_round
from tongxin.server._settings import Settings
from tongxin.server.console import install_console

from ._docspages import install_docs
from ._fastread import FastReads
from ._federation import install_federation
from ._guard import InputGuard
from ._ops import ops_router
from ._problems import install
from ._records import record_router
from ._routes import misc_router
from ._stats import stats_router

__all__ = ["app_from_env", "create_app", "openapi_document"]

log = logging.getLogger("tongxin.server")
_PURGE_SECONDS = 3600

DESCRIPTION = """The Tongxin (同心) reference hub: records of the Tongxin standard — organisations,
members, activities, dues payments and transfers — checked against every rule of the standard,
stored, and handed on through a change feed. Normative text: `spec/api.md`.

Authenticate with `Authorization: Bearer <token>` (`tongxin token create`). Errors are RFC 9457
`application/problem+json` with `errors: [{pointer, rule, message: {zh-CN, en}}]`."""

_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "detailZh": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pointer", "rule", "message"],
                "properties": {
                    "pointer": {"type": "string"},
                    "rule": {"type": "string"},
                    "severity": {"type": "string"},
                    "message": {
                        "type": "object",
                        "required": ["zh-CN", "en"],
                        "properties": {"zh-CN": {"type": "string"}, "en": {"type": "string"}},
                    },
                },
            },
        },
    },
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = FastAPI.openapi(app)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = _PROBLEM
    package = TypeAdapter(Package10).json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}"
    )
    for name, sub in package.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components["Package"] = package
    problem = {
        "description": "An RFC 9457 problem.",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    for operation in (op for path in schema["paths"].values() for op in path.values()):
        responses = operation["responses"]
        if "HTTPValidationError" in orjson.dumps(responses.get("422", {})).decode():
            del responses["422"]  # parameter errors are answered 400 invalid-parameter
            responses.setdefault("400", problem)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    app.openapi_schema = schema
    return schema


def openapi_document() -> bytes:
    """The OpenAPI document of a hub with default settings, as committed in spec/openapi.json."""
    app = create_app(Settings.model_construct())
    return orjson.dumps(app.openapi(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


async def _purge_loop(hub: Hub) -> None:
    while True:
        try:
            await to_thread.run_sync(purge, hub)
        except Exception:
            log.exception("purging tombstones failed")
        await asyncio.sleep(_PURGE_SECONDS)


async def _sync_loop(hub: Hub, interval: float, wake: PullNow) -> None:
    hinted: frozenset[str] = frozenset()
    while True:  # the first round runs at start: a restarted hub catches up at once
        try:
            await to_thread.run_sync(functools.partial(federation_round, hub, hinted=hinted))
        except Exception:
            log.exception("background federation round failed")
        hinted = await wake.wait(interval)


async def _hint_loop(hub: Hub, interval: float) -> None:
    last = 0
    while True:
        await asyncio.sleep(interval)
        try:
            last = await to_thread.run_sync(send_hints, hub, last)
        except Exception:
            log.exception("hinting the parents failed")


def create_app(settings: Settings | None = None, *, hub: Hub | None = None) -> FastAPI:
    """A hub app. The database is opened (and migrated) when the app starts, unless ``hub``
    is given."""
    settings = settings or (hub.settings if hub is not None else Settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = app.state.hub is None
        if opened:
            app.state.hub = await to_thread.run_sync(open_hub, settings)
        tasks = [asyncio.create_task(_purge_loop(app.state.hub))]
        if settings.sync_interval_seconds > 0:
            interval = settings.sync_interval_seconds
            wake = app.state.pull_now
            tasks.append(asyncio.create_task(_sync_loop(app.state.hub, interval, wake)))
        if settings.hint_interval_seconds > 0:
            every = settings.hint_interval_seconds
            tasks.append(asyncio.create_task(_hint_loop(app.state.hub, every)))
        # Everything loaded so far lives as long as the process: out of the collector's sight,
        # a full collection no longer walks the app's ~120,000 objects (tens of milliseconds
        # added to whatever request is running when it happens).
        gc.freeze()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if opened:
                app.state.hub.close()

    app = FastAPI(
        title="Tongxin hub",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.hub = hub
    app.state.pull_now = PullNow()
    install(app)
    app.include_router(misc_router(settings))
    app.include_router(record_router(settings))
    app.include_router(ops_router(settings))
    app.include_router(stats_router())
    install_federation(app)
    install_docs(app)
    install_console(app, settings)
    app.add_middleware(InputGuard)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def app_from_env() -> Observe:
    """The app with settings from the environment (for ``uvicorn --factory`` and workers),
    behind the lean path for single-record reads, with request ids and metrics outermost."""
    return Observe(FastReads(create_app(Settings())))
