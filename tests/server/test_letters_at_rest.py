"""Letters are personal data: stored sealed with the hub's key, read back byte for byte, and the
upgrade to 0008 seals the letters a hub stored in clear before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tongxin.server import open_hub
from tongxin.server._db import migrate
from tongxin.server._security import Principal
from tongxin.server._transfers import read_letter

from .conftest import BACKENDS, Backend, make_backend

LETTER = '{"letter":{"format":"tongxin-letter/1","member":{"name":"测试甲"}},"signature":{}}'
ADMIN = Principal("tk_test", frozenset({"admin"}))


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from make_backend(request.param, tmp_path / request.param)


def test_the_upgrade_seals_letters_stored_in_clear(fresh: Backend) -> None:
    engine = create_engine(fresh.url)
    try:
        migrate(engine, "0005")
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO transfer_letters (transfer_id, role, peer_hub, member_id, letter,"
                    " letter_digest, state, history, member_sealed, member_version, delivered,"
                    " created_at, updated_at) VALUES ('test-hub:t1', 'sender', 'cd-other',"
                    " 'test-hub:m1', :letter, 'sha-256:00', 'issued', '[]', :sealed, 1, true,"
                    " :now, :now)"
                ),
                {"letter": LETTER, "sealed": b"\x01", "now": now},
            )
    finally:
        engine.dispose()
    hub = open_hub(fresh.settings())
    try:
        with hub.db.read() as conn:
            stored = conn.execute(text("SELECT letter FROM transfer_letters")).scalar_one()
        assert stored.startswith("sealed:")
        assert "测试甲" not in stored
        assert read_letter(hub, "test-hub:t1", ADMIN) == LETTER.encode()
    finally:
        hub.close()
