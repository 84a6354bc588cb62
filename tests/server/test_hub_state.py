"""The hub's process state and its one way out to other hubs live on the ``Hub`` object: a
test injects the transport (``httpx.MockTransport`` here, real sockets elsewhere) and every
request to a peer goes through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tongxin.federation import KeyStore
from tongxin.server import Hub, Settings, open_hub
from tongxin.server._federation import add_peer, hub_keys, init_keys, list_peers


def _settings(tmp: Path, name: str, hub_id: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp / name}.db", key_file=tmp / f"{name}.key", hub_id=hub_id
    )


@pytest.fixture
def peer_keys(tmp_path: Path) -> KeyStore:
    return KeyStore.create(tmp_path / "peer.keys.json", "cd-jinjiang")


@pytest.fixture
def county(tmp_path: Path, peer_keys: KeyStore) -> Iterator[tuple[Hub, list[str]]]:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.host == "jinjiang.test" and request.url.path.endswith("/keys"):
            return httpx.Response(200, json=peer_keys.document())
        return httpx.Response(404)

    hub = open_hub(_settings(tmp_path, "county", "cd-wuhou"), transport=httpx.MockTransport(answer))
    try:
        yield hub, asked
    finally:
        hub.close()


def test_adding_a_peer_goes_through_the_hubs_transport(
    county: tuple[Hub, list[str]], peer_keys: KeyStore
) -> None:
    hub, asked = county
    pin = sorted(peer_keys.key_set().fingerprints())[0]
    peer = add_peer(hub, "http://jinjiang.test/", "child", pin)
    assert peer.hub_id == "cd-jinjiang"
    assert asked == ["http://jinjiang.test/.well-known/tongxin/keys"]
    assert [p.hub_id for p in list_peers(hub)] == ["cd-jinjiang"]


def test_a_peer_that_does_not_answer_is_an_error(
    county: tuple[Hub, list[str]], peer_keys: KeyStore
) -> None:
    hub, asked = county
    pin = sorted(peer_keys.key_set().fingerprints())[0]
    with pytest.raises(httpx.HTTPStatusError):
        add_peer(hub, "http://nowhere.test", "child", pin)
    assert asked == ["http://nowhere.test/.well-known/tongxin/keys"]
    assert list_peers(hub) == []


def test_each_hub_keeps_its_own_process_state(tmp_path: Path) -> None:
    one = open_hub(_settings(tmp_path, "one", "cd-one"))
    two = open_hub(_settings(tmp_path, "two", "cd-two"))
    try:
        init_keys(one), init_keys(two)
        assert hub_keys(one).hub_id == "cd-one"
        assert hub_keys(two).hub_id == "cd-two"
        assert one.state.key_store is not None
        assert one.state is not two.state
        assert one.state.key_store[1] is hub_keys(one)  # loaded once, then cached on the hub
    finally:
        one.close()
        two.close()
