"""A reference hub prepared for the conformance kit: a sandbox organisation, a token for the
kit, a parent peer whose key store the kit signs with, and one replica from a child."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from sqlalchemy import insert

from tests.server.conftest import Backend, Server, backend, known_peer, start_server
from tongxin.federation import Change, FeedPage, KeyStore, key_store_path
from tongxin.server import create_token, open_hub
from tongxin.server._federation import apply_page, get_peer
from tongxin.server._tables import peers

__all__ = ["Prepared", "backend", "prepared"]

CHILD = "txc-kid"


@dataclass
class Prepared:
    server: Server
    token: str
    sandbox: str
    peer_keys: Path
    workdir: Path

    @property
    def url(self) -> str:
        return self.server.url


def prepare(server: Server, backend: Backend) -> Prepared:
    sandbox = "test-hub:sandbox"
    with server.client() as api:
        record = {"id": sandbox, "name": "一致性测试党委", "type": "primary-committee"}
        assert api.post("/v1/organisations", json=record).status_code == 201
    store = KeyStore.create(backend.workdir / "parent.keys.json", "txc-parent")
    hub = open_hub(backend.settings())
    try:
        keys = key_store_path(backend.url)  # relative on PostgreSQL: the server's directory
        keys = keys if keys.is_absolute() else backend.workdir / keys
        if not keys.exists():
            KeyStore.create(keys, hub.hub_id)
        token = create_token(hub.db, ["records:read", "records:write"], name="conformance")
        with hub.db.write() as conn:
            conn.execute(
                insert(peers).values(
                    hub_id="txc-parent",
                    url="http://127.0.0.1:9",
                    relation="parent",
                    pins=orjson.dumps(sorted(store.key_set().fingerprints())).decode(),
                    key_set=orjson.dumps(store.document()).decode(),
                    policy=orjson.dumps({"types": None}).decode(),
                    created_at=datetime.now(UTC),
                )
            )
        known_peer(hub, CHILD)
        peer = get_peer(hub, CHILD)
        assert peer is not None
        org = {"id": f"{CHILD}:o1", "name": "下级支部", "type": "branch"}
        apply_page(
            hub,
            peer,
            FeedPage((Change("organisations", org["id"], 1, CHILD, False, org),), "c1", False),
        )
    finally:
        hub.close()
    return Prepared(server, token, sandbox, store.path, backend.workdir)


@pytest.fixture(scope="module")
def prepared(backend: Backend) -> Iterator[Prepared]:
    server = start_server(backend)
    try:
        yield prepare(server, backend)
    finally:
        server.stop()
