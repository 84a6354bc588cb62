"""Commands of the federation: ``keys``, ``peer``, ``sync`` and ``verify-letter``."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the federation's commands to ``app``."""
