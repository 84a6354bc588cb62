"""The hub's HTTP interface (FastAPI): the app factory and nothing else public."""

from ._app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
