"""Push is only a hint (``spec/federation.md`` §4.2): a county hints its city "pull now" when
its feed grows, and the city pulls at once although its own interval is a minute away."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.federation._network import Node, seed, wait_for
from tongxin.federation import KeyStore, SigningAuth


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    root = tmp_path_factory.mktemp("hints")
    city = Node("cd-city", root / "city", sync_interval=60)
    county = Node("cd-wuhou", root / "wuhou", sync_interval=60)
    for node in (city, county):
        node.init()
        node.start()
    try:
        city.peer(county, "child")
        county.peer(city, "parent")
        yield city, county
    finally:
        city.close()
        county.close()


def test_a_hint_makes_the_parent_pull_within_seconds(pair: tuple[Node, Node]) -> None:
    city, county = pair
    _, (member_id,) = seed(county, 1, 100)
    wait_for("the member at the city", lambda: ("members", member_id) in city.rows(), 10)


def test_only_a_child_may_hint(pair: tuple[Node, Node]) -> None:
    city, county = pair
    signer = KeyStore.load(city.workdir / "hub.keys.json").signer()
    with httpx.Client(auth=SigningAuth(signer)) as client:
        response = client.post(county.url + "/v1/federation/hints", json={"seq": 1})
    assert response.status_code == 403
    problem = response.json()
    assert (problem["code"], problem["relation"], problem["action"]) == (
        "relation-not-allowed",
        "parent",
        "hint",
    )
