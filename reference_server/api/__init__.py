"""The hub's HTTP interface (FastAPI): the app factory and the OpenAPI document.

Regenerate ``spec/openapi.json`` with::

    python -c "import tongxin.server.api as a, sys; \\
        sys.stdout.buffer.write(a.openapi_document())" > spec/openapi.json
"""

from ._app import app_from_env, create_app, openapi_document

__all__ = ["app_from_env", "create_app", "openapi_document"]
