"""``/console/tokens`` against a real hub: an administrator makes a token (its secret shown
once), lists and revokes tokens of its subtree only; forms need the CSRF token; other roles are
refused; every change is in the audit log."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import closing

import httpx
import orjson
import pytest

from ._console_world import World, csrf, signed_in, two_branches
from .conftest import Backend, Server


@pytest.fixture(scope="module")
def world(server: Server, backend: Backend) -> World:
    return two_branches(
        server,
        backend,
        {
            "chief": ("root", "admin"),
            "admin-a": ("a", "admin"),
            "sec-b": ("b", "secretary"),
        },
        root_name="县委",
        branches=(("a", "a支部", 1), ("b", "b支部", 1)),
    )


@pytest.fixture(scope="module")
def chief(server: Server, world: World) -> Iterator[httpx.Client]:
    with closing(signed_in(server, world, "chief")) as client:
        yield client


def _create(client: httpx.Client, org: str, name: str, *scopes: str) -> httpx.Response:
    page = client.get("/console/tokens")
    assert page.status_code == 200, page.text[:300]
    data = {"csrf": csrf(page.text), "organisationId": org, "name": name, "scope": list(scopes)}
    return client.post("/console/tokens", data=data)


def _secret(html: str) -> str:
    found = re.search(r'<code id="secret">(tx_[^<]+)</code>', html)
    assert found, html[:800]
    return found.group(1)


def _audit(server: Server) -> list[dict[str, object]]:
    with server.client() as admin:
        body = admin.get("/v1/audit", params={"limit": 1000}).json()
    return [item for item in body["items"] if item["type"] == "tokens"]


def test_create_list_and_revoke(server: Server, world: World, chief: httpx.Client) -> None:
    made = _create(chief, world.ids["a"], "报表系统", "records:read")
    assert made.status_code == 201, made.text[:500]
    secret = _secret(made.text)
    # the secret works, limited to branch a
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}) as api:
        listed = api.get("/v1/members", params={"count": "true"}).json()
        assert listed["total"] == 1
        outside = api.get("/v1/members", params={"organisationId": world.ids["b"], "count": "1"})
        assert outside.json()["total"] == 0
    # the list shows it, never its secret
    page = chief.get("/console/tokens")
    assert "报表系统" in page.text
    assert secret not in page.text
    assert secret[3:20] not in page.text
    token_id = re.findall(r'<tr data-id="(tk_[0-9a-f]+)">', page.text)[-1]
    revoked = chief.post(f"/console/tokens/{token_id}/revoke", data={"csrf": csrf(page.text)})
    assert revoked.status_code == 200
    assert revoked.url.path == "/console/tokens"
    row = re.search(rf'<tr data-id="{token_id}">.*?</tr>', revoked.text, re.S)
    assert row
    assert "已吊销" in row.group(0)
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}) as api:
        while api.get("/v1/members").status_code != 401:
            assert time.monotonic() < deadline, "a revoked token still works"
            time.sleep(0.5)
    entries = [e for e in _audit(server) if e["id"] == token_id]
    assert [e["action"] for e in entries] == ["token-create", "token-revoke"]
    assert all(e["tokenId"] == "user:chief" for e in entries)
    assert secret not in orjson.dumps(_audit(server)).decode()


def test_an_admin_manages_only_its_subtree(
    server: Server, world: World, chief: httpx.Client
) -> None:
    made = _create(chief, world.ids["b"], "乙支部对接", "records:read")
    assert made.status_code == 201
    secret = _secret(made.text)
    token_b = re.findall(r'<tr data-id="(tk_[0-9a-f]+)">', made.text)[-1]
    with closing(signed_in(server, world, "admin-a")) as admin_a:
        page = admin_a.get("/console/tokens")
        assert page.status_code == 200
        assert token_b not in page.text
        refused = admin_a.post(f"/console/tokens/{token_b}/revoke", data={"csrf": csrf(page.text)})
        assert refused.status_code == 404
        outside = _create(admin_a, world.ids["b"], "越权", "admin")
        assert outside.status_code == 404
        assert "tx_" not in outside.text
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}) as api:
        assert api.get("/v1/members").status_code == 200


def test_forms_need_csrf_and_a_scope(world: World, chief: httpx.Client) -> None:
    before = chief.get("/console/tokens").text.count("<tr data-id=")
    forged = chief.post(
        "/console/tokens",
        data={"csrf": "forged", "organisationId": world.ids["a"], "scope": "admin"},
    )
    assert forged.status_code == 403
    assert "tx_" not in forged.text
    page = chief.get("/console/tokens")
    none = chief.post(
        "/console/tokens", data={"csrf": csrf(page.text), "organisationId": world.ids["a"]}
    )
    assert none.status_code == 400
    past = chief.post(
        "/console/tokens",
        data={
            "csrf": csrf(page.text),
            "organisationId": world.ids["a"],
            "scope": "records:read",
            "expires": "2001-01-01",
        },
    )
    assert past.status_code == 400
    assert chief.get("/console/tokens").text.count("<tr data-id=") == before
    token_id = re.findall(r'<tr data-id="(tk_[0-9a-f]+)">', page.text)
    if token_id:
        kept = chief.post(f"/console/tokens/{token_id[0]}/revoke", data={"csrf": "forged"})
        assert kept.status_code == 403


def test_other_roles_and_strangers_are_refused(server: Server, world: World) -> None:
    stranger = httpx.get(server.url + "/console/tokens")
    assert stranger.status_code == 303
    assert stranger.headers["location"].startswith("/console/login")
    with closing(signed_in(server, world, "sec-b")) as secretary:
        page = secretary.get("/console/tokens")
        assert page.status_code == 403
        refused = secretary.post(
            "/console/tokens",
            data={"csrf": "x", "organisationId": world.ids["b"], "scope": "records:read"},
        )
        assert refused.status_code == 403
        assert "tx_" not in refused.text
