"""The OpenAPI pages (Swagger UI at ``/docs``, ReDoc at ``/redoc``) with every script, style
sheet and image served by the hub itself from ``/static/vendor/``, so they work on an intranet
with no internet. The vendored files, their versions, licences and hashes are listed in
``reference_server/static/vendor/manifest.json``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "install_docs"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_VENDOR = "/static/vendor"


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and ``/static/`` from files inside the package."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{_VENDOR}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{_VENDOR}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{_VENDOR}/swagger-ui/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            redoc_js_url=f"{_VENDOR}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{_VENDOR}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
