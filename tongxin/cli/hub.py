"""Commands of the reference hub: ``serve``, ``init`` and ``token``."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the hub's commands to ``app``."""
