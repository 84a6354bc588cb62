"""Relations decide what a peer may do (``spec/federation.md`` §0): only a parent pulls a change
feed, and only through its minimising policy; siblings and children are refused with 403
``relation-not-allowed``. A parent fixes each record's owner at first arrival and refuses, logs
and lists another child's change to it. Three live hubs: a city and two counties."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.federation._network import Node, new_member, seed
from tongxin.federation import KeyStore, SigningAuth


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Node]]:
    root = tmp_path_factory.mktemp("relations")
    nodes = {
        "city": Node("cd-city", root / "city"),
        "a": Node("cd-wuhou", root / "wuhou"),
        "b": Node("cd-jinjiang", root / "jinjiang"),
    }
    for node in nodes.values():
        node.init()
        node.start()
    try:
        city, a, b = nodes["city"], nodes["a"], nodes["b"]
        for county in (a, b):
            city.peer(county, "child")
            county.peer(city, "parent")
        a.peer(b, "sibling", "cd-city")  # through the city's certificate
        b.peer(a, "sibling")  # directly, by fingerprint
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()


def _signed(node: Node) -> httpx.Client:
    """A client signing as ``node`` (its own key store)."""
    signer = KeyStore.load(node.workdir / "hub.keys.json").signer()
    return httpx.Client(auth=SigningAuth(signer), timeout=60)


def _refused(response: httpx.Response, relation: str, action: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["relation"], problem["action"]) == (
        "relation-not-allowed",
        relation,
        action,
    )
    assert "citizenId" not in response.text
    assert problem["detailZh"]


def test_siblings_and_children_cannot_pull_a_feed_or_hint(net: dict[str, Node]) -> None:
    city, a, b = net["city"], net["a"], net["b"]
    seed(a, 2, 8000)
    seed(b, 2, 8100)
    with _signed(b) as as_b:
        # B is A's sibling through the city's certificate
        _refused(as_b.get(a.url + "/v1/changes"), "sibling", "pull-feed")
        members = as_b.get(a.url + "/v1/changes", params={"types": "members"})
        _refused(members, "sibling", "pull-feed")
        _refused(as_b.post(a.url + "/v1/federation/hints", json={"seq": 1}), "sibling", "hint")
        # and the city's child
        _refused(as_b.get(city.url + "/v1/changes"), "child", "pull-feed")
    with _signed(a) as as_a:
        # A is B's sibling by fingerprint
        _refused(as_a.get(b.url + "/v1/changes"), "sibling", "pull-feed")
        _refused(as_a.get(city.url + "/v1/changes"), "child", "pull-feed")
    with _signed(city) as as_city:
        _refused(as_city.post(a.url + "/v1/federation/hints", json={"seq": 1}), "parent", "hint")


def _pulled_by_city(city: Node, county: Node) -> list[dict[str, Any]]:
    with _signed(city) as as_city:
        response = as_city.get(county.url + "/v1/changes", params={"types": "members"})
    assert response.status_code == 200, response.text
    assert "signature" in response.headers
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_the_parent_pulls_through_a_minimising_policy(net: dict[str, Node]) -> None:
    city, a = net["city"], net["a"]
    _, ids = seed(a, 2, 8200)
    with a.api() as api:
        clear = api.get(f"/v1/members/{ids[0]}", params={"include": "sensitive"}).json()
    assert clear["citizenId"]
    assert clear["phone"]
    items = {i["id"]: i for i in _pulled_by_city(city, a)}
    assert clear["citizenId"] not in json.dumps(items)
    assert clear["phone"] not in json.dumps(items)
    assert items[ids[0]]["hashed"]["citizenId"].startswith("hmac-sha256:")
    assert "phone" not in items[ids[0]]["record"]
    # an existing peer row from before, whose policy said {"types": null} and nothing else,
    # is minimised as well
    _set_policy(a, "cd-city", {"types": None})
    again = {i["id"]: i for i in _pulled_by_city(city, a)}
    assert clear["citizenId"] not in json.dumps(again)
    assert clear["phone"] not in json.dumps(again)
    assert again[ids[0]]["hashed"] == items[ids[0]]["hashed"]
    done = city.cli("sync", "--once")
    assert "cd-wuhou: ok" in done.stderr


def _set_policy(node: Node, peer: str, policy: dict[str, Any]) -> None:
    conn = sqlite3.connect(node.workdir / "hub.db")
    try:
        with conn:
            conn.execute(
                "UPDATE peers SET policy = ? WHERE hub_id = ?", (orjson.dumps(policy), peer)
            )
    finally:
        conn.close()


def _forge(node: Node, template: str, forged: dict[str, Any], version: int) -> None:
    """Put a row for ``forged`` (another hub's id) straight into ``node``'s records, owned by
    ``node`` at ``version``, as a hub whose origin checks failed would hold it."""
    conn = sqlite3.connect(node.workdir / "hub.db")
    try:
        with conn:
            (seq,) = conn.execute("UPDATE hub_state SET last_seq = last_seq + 1 RETURNING last_seq")
            conn.execute(
                "INSERT INTO records (collection, id, owner, scope_org, scope_org2, version, "
                "updated_us, seq, deleted, doc, sealed, citizen_hash, digest) "
                "SELECT collection, ?, owner, scope_org, NULL, ?, updated_us, ?, 0, ?, NULL, "
                "NULL, '' FROM records WHERE collection = 'members' AND id = ?",
                (forged["id"], version, seq[0], orjson.dumps(forged).decode(), template),
            )
    finally:
        conn.close()


def test_the_parent_refuses_a_childs_change_to_another_childs_record(
    net: dict[str, Node],
) -> None:
    city, a, b = net["city"], net["a"], net["b"]
    org_a, (template,) = seed(a, 1, 8300)
    org_b, (victim,) = seed(b, 1, 8400)
    city.cli("sync", "--once")
    with b.api() as api:
        original = api.get(f"/v1/members/{victim}").json()
    # A's feed now carries B's member (a higher version, owned by A) and a record under B's
    # prefix the city has never seen
    _forge(a, template, {**original, "name": "冒名", "organisationId": org_a}, 50)
    unseen = {**new_member(b.hub_id, org_a, 8401), "name": "冒名"}
    _forge(a, template, unseen, 1)
    done = city.cli("sync", "--once")
    assert "cd-wuhou: ok" in done.stderr
    with city.api() as api:
        held = api.get(f"/v1/members/{victim}")
        assert (held.json()["name"], held.json()["version"]) == (original["name"], 1)
        assert api.get(f"/v1/members/{unseen['id']}").status_code == 404
        listed = {p["hubId"]: p for p in api.get("/v1/peers").json()["items"]}
    assert listed["cd-wuhou"]["refused"] == 2
    assert listed["cd-wuhou"]["lastRefused"]["id"] in {victim, unseen["id"]}
    assert listed["cd-wuhou"]["lastRefused"]["reason"] == "not-authoritative"
    assert listed["cd-jinjiang"]["refused"] == 0
    text = city.cli("peer", "list").stdout
    assert "2 refused" in text
    assert "refused" not in next(line for line in text.splitlines() if "cd-jinjiang" in line)
    assert "refused" in (city.workdir / "serve.log").read_text() + done.stderr
    # the owner's next update still reaches the city, below the forged version
    with b.api() as api:
        renamed = {**original, "name": "李梅改"}
        response = api.put(f"/v1/members/{victim}", json=renamed, headers={"If-Match": '"1"'})
        assert response.status_code == 200, response.text
    city.cli("sync", "--once")
    with city.api() as api:
        held = api.get(f"/v1/members/{victim}").json()
    assert (held["name"], held["version"], held["organisationId"]) == ("李梅改", 2, org_b)
