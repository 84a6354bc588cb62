"""Running a hub: check settings, prepare the database, start uvicorn workers."""

from __future__ import annotations

import atexit
import inspect
import os
import shutil
import sys
import tempfile
from typing import Any

from ._federation import check_key_store
from ._hub import open_hub
from ._settings import Settings

__all__ = ["prepare", "serve"]

_WORKER_HEALTHCHECK_SECONDS = 60

#: Settings handed to worker processes through the environment.
_ENV = {
    "database_url": "TONGXIN_DATABASE_URL",
    "key_file": "TONGXIN_KEY_FILE",
    "hub_id": "TONGXIN_HUB_ID",
    "hub_name": "TONGXIN_HUB_NAME",
    "host": "TONGXIN_HOST",
    "port": "TONGXIN_PORT",
    "workers": "TONGXIN_WORKERS",
    "log_format": "TONGXIN_LOG_FORMAT",
}


def prepare(settings: Settings, *, serving: bool) -> list[str]:
    """Check the settings, create the key (development), migrate and create the identity.

    Returns the warnings; raises :class:`ConfigurationError` for refused settings.
    """
    warnings = settings.check(serving=serving)
    hub = open_hub(settings)
    try:
        check_key_store(hub)
    finally:
        hub.close()
    return warnings


def serve(settings: Settings, *, access_log: bool = True) -> None:
    """Serve the hub until interrupted."""
    import uvicorn

    for warning in prepare(settings, serving=True):
        print(f"warning: {warning}", file=sys.stderr)
    for name, variable in _ENV.items():
        value = getattr(settings, name)
        if value is not None:
            os.environ[variable] = str(value)
    print(
        f"Tongxin hub on http://{settings.host}:{settings.port} "
        f"(docs /docs, discovery /.well-known/tongxin)",
        file=sys.stderr,
        flush=True,
    )
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers count into files here; a scrape of any worker adds up all of them.
        metrics_dir = tempfile.mkdtemp(prefix="tongxin-metrics-")
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    from ._observe import log_config

    extra: dict[str, Any] = {}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        # uvicorn kills a worker that does not answer its supervisor's ping within this time
        # (5 s by default). A worker starting on a busy machine (imports compiled from source,
        # cores shared with the database and the clients) can take longer, and was killed and
        # restarted in a loop: every restart dropped its connections and began cold again (the
        # reads' p99 of a second). A hung worker is still replaced, after a minute.
        extra["timeout_worker_healthcheck"] = _WORKER_HEALTHCHECK_SECONDS
    uvicorn.run(
        "tongxin.server.api:app_from_env",
        log_config=log_config(settings.log_format),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=5,
        **extra,
    )
