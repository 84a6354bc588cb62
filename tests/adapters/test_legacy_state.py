"""The legacy agent's state file (the hashes of acknowledged rows) is private: 0600 from the
moment it exists, whatever the umask, and it stays so as the agent writes to it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tongxin.adapters.legacy import load_mapping
from tongxin.adapters.legacy._state import State


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_the_state_file_is_created_0600_and_stays_so(tmp_path: Path) -> None:
    path = tmp_path / "legacy.state"
    state = State(path)
    assert _mode(path) == 0o600
    state.acknowledge("members", [("cd-wuhou:m1", "h1")])
    state.set_cursor("members", 7)
    state.close()
    reopened = State(path)
    assert reopened.known("members", ["cd-wuhou:m1"]) == {"cd-wuhou:m1": "h1"}
    reopened.close()
    assert _mode(path) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_the_mapping_s_state_file_is_private(tmp_path: Path) -> None:
    mapping_path = tmp_path / "legacy.toml"
    mapping_path.write_text(
        'hub-id = "cd-wuhou"\n[source]\nurl = "sqlite:///x.db"\n'
        '[organisations]\nquery = "SELECT id, name, kind AS type FROM org"\n',
        encoding="utf-8",
    )
    mapping = load_mapping(mapping_path)
    State(mapping.state_path).close()
    assert _mode(mapping.state_path) == 0o600
