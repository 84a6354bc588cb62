"""Shared fixtures. Server fixtures live in ``tests/server/conftest.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

# Every hub's log, searched for personal data and tokens after each test and at the end.
from tests._logcheck import hub_logs, no_secret_in_new_log_output

__all__ = ["hub_logs", "no_secret_in_new_log_output", "root"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def root() -> Path:
    """The project root."""
    return ROOT
