"""The county console at ``/console/`` (``docs/console.md``): server-rendered pages over the
same services as the API, for staff accounts made by ``tongxin user create``."""

from __future__ import annotations

from fastapi import FastAPI

from tongxin.server._settings import Settings

from ._feedback import feedback_router
from ._meetings import meetings_router
from ._page import SESSION_COOKIE, Redirect, Refused, redirect_handler, refused_handler
from ._web import console_router

__all__ = ["SESSION_COOKIE", "install_console"]


def install_console(app: FastAPI, settings: Settings) -> None:
    """Serve the console's pages (its assets are under ``/static/``, mounted by the docs)."""
    app.include_router(console_router(settings))
    app.include_router(feedback_router(settings))
    app.include_router(meetings_router(settings))
    app.add_exception_handler(Redirect, redirect_handler)
    app.add_exception_handler(Refused, refused_handler)
