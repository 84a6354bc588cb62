"""Lists with ``count=true`` (a ``total`` counted by the database), ``organisationId`` with
``subtree=true``, ``name=``, and ``POST /v1/members/search`` by name, citizen ID and phone; a
subtree token never learns how many records lie outside its subtree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tongxin.server import create_token, open_hub

from .conftest import Backend, Server, organisation, person


@dataclass
class Tree:
    ids: dict[str, str]
    members: dict[str, list[dict[str, Any]]]
    branch_a: httpx.Client
    reader_a: httpx.Client


@pytest.fixture(scope="module")
def tree(server: Server, backend: Backend) -> Iterator[Tree]:
    """root ─ a ─ a1 (sub-branch), root ─ b; 3 members in a, 2 in a1, 4 in b."""
    admin = server.client()
    root = organisation(name="乡镇党委")
    assert admin.post("/v1/organisations", json=root).status_code == 201
    ids = {"root": root["id"]}
    a = organisation(root["id"], name="甲支部", type="general-branch")
    b = organisation(root["id"], name="乙支部")
    assert admin.post("/v1/organisations", json=a).status_code == 201
    assert admin.post("/v1/organisations", json=b).status_code == 201
    a1 = organisation(a["id"], name="甲一党小组支部")
    assert admin.post("/v1/organisations", json=a1).status_code == 201
    ids.update(a=a["id"], b=b["id"], a1=a1["id"])
    members: dict[str, list[dict[str, Any]]] = {}
    for where, count in (("a", 3), ("a1", 2), ("b", 4)):
        members[where] = []
        for n in range(count):
            record = person(ids[where], name=f"测{where}员{n}")
            made = admin.post("/v1/members", json=record)
            assert made.status_code == 201, made.text
            members[where].append(record)
    hub = open_hub(backend.settings())
    try:
        sensitive = ["records:read", "records:read-sensitive"]
        branch = create_token(hub.db, sensitive, organisation_id=ids["a"])
        reader = create_token(hub.db, ["records:read"], organisation_id=ids["a"])
    finally:
        hub.close()
    with server.client(branch) as branch_a, server.client(reader) as reader_a:
        yield Tree(ids, members, branch_a, reader_a)
    admin.close()


def _ids(body: dict[str, Any]) -> set[str]:
    return {item["id"] for item in body["items"]}


def test_count_and_subtree(tree: Tree, api: httpx.Client) -> None:
    a = tree.ids["a"]
    plain = api.get("/v1/members", params={"organisationId": a}).json()
    assert "total" not in plain
    alone = api.get("/v1/members", params={"organisationId": a, "count": "true"}).json()
    assert alone["total"] == 3
    assert _ids(alone) == {m["id"] for m in tree.members["a"]}
    deep = api.get(
        "/v1/members", params={"organisationId": a, "subtree": "true", "count": "true"}
    ).json()
    expected = {m["id"] for m in tree.members["a"] + tree.members["a1"]}
    assert deep["total"] == 5
    assert _ids(deep) == expected
    # the total does not depend on the page: it counts every match
    first = api.get(
        "/v1/members",
        params={"organisationId": a, "subtree": "true", "count": "true", "limit": 2},
    )
    body = first.json()
    assert body["total"] == 5
    assert len(body["items"]) == 2
    assert body["next"]
    second = api.get(body["next"]).json()
    assert second["total"] == 5
    assert len(second["items"]) == 2
    orgs = api.get(
        "/v1/organisations",
        params={"organisationId": tree.ids["root"], "subtree": "true", "count": "true"},
    ).json()
    assert orgs["total"] == 4  # root, a, a1, b


def test_name_filter(tree: Tree, api: httpx.Client) -> None:
    found = api.get("/v1/members", params={"name": "测a1员", "count": "true"}).json()
    assert _ids(found) == {m["id"] for m in tree.members["a1"]}
    assert found["total"] == 2
    weird = api.get("/v1/members", params={"name": "%_\\", "count": "true"}).json()
    assert weird["total"] == 0
    refused = api.get("/v1/activities", params={"name": "x"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid-parameter"
    lonely = api.get("/v1/members", params={"subtree": "true"})
    assert lonely.status_code == 400


def test_subtree_token_learns_no_count_outside(tree: Tree) -> None:
    """Asked about b (outside), a missing organisation, or root (above it), a token of a
    counts only what lies in a's subtree: the answers for b and for nothing are the same."""
    client = tree.branch_a
    b = client.get(
        "/v1/members", params={"organisationId": tree.ids["b"], "subtree": "true", "count": "1"}
    ).json()
    missing = client.get(
        "/v1/members",
        params={"organisationId": "cd-test:nothing", "subtree": "true", "count": "1"},
    ).json()
    assert b == missing == {"items": [], "next": None, "total": 0}
    flat_b = client.get("/v1/members", params={"organisationId": tree.ids["b"], "count": "1"})
    assert flat_b.json()["total"] == 0
    above = client.get(
        "/v1/members",
        params={"organisationId": tree.ids["root"], "subtree": "true", "count": "1"},
    ).json()
    assert above["total"] == 5
    everything = client.get("/v1/members", params={"count": "true"}).json()
    assert everything["total"] == 5
    search = client.post(
        "/v1/members/search", json={"citizenId": tree.members["b"][0]["citizenId"], "count": True}
    ).json()
    assert search == {"items": [], "after": None, "total": 0}


def test_search_by_citizen_id_phone_and_name(tree: Tree, api: httpx.Client) -> None:
    target = tree.members["b"][1]
    by_id = api.post("/v1/members/search", json={"citizenId": target["citizenId"], "count": True})
    assert by_id.status_code == 200, by_id.text
    assert _ids(by_id.json()) == {target["id"]}
    assert by_id.json()["total"] == 1
    assert "citizenId" not in by_id.json()["items"][0]
    shown = api.post(
        "/v1/members/search", json={"citizenId": target["citizenId"], "include": "sensitive"}
    ).json()
    assert shown["items"][0]["citizenId"] == target["citizenId"]
    by_phone = api.post("/v1/members/search", json={"phone": target["phone"]}).json()
    assert target["id"] in _ids(by_phone)
    mine = tree.members["a1"][0]
    own = tree.branch_a.post("/v1/members/search", json={"citizenId": mine["citizenId"]})
    assert _ids(own.json()) == {mine["id"]}
    paged = api.post(
        "/v1/members/search",
        json={"name": "测b员", "limit": 3, "count": True, "organisationId": tree.ids["b"]},
    ).json()
    assert paged["total"] == 4
    assert len(paged["items"]) == 3
    assert paged["after"]
    rest = api.post(
        "/v1/members/search",
        json={
            "name": "测b员",
            "limit": 3,
            "after": paged["after"],
            "organisationId": tree.ids["b"],
        },
    ).json()
    assert len(rest["items"]) == 1
    assert rest["after"] is None


def test_search_refusals(tree: Tree, api: httpx.Client) -> None:
    target = tree.members["a"][0]
    blind = tree.reader_a.post("/v1/members/search", json={"citizenId": target["citizenId"]})
    assert blind.status_code == 403
    assert blind.json()["code"] == "scope-missing"
    for body in (
        [],
        {"nope": 1},
        {"name": 3},
        {"limit": 0},
        {"limit": 10**9},
        {"organisationId": "no spaces"},
        {"subtree": True},
        {"include": "everything"},
        {"after": "garbage"},
        {"count": "yes"},
    ):
        answer = api.post("/v1/members/search", json=body)
        assert answer.status_code == 400, (body, answer.text)
