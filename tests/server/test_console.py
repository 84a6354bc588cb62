"""The console over HTTP against a real hub: login, the session cookie, CSRF, the lock after
five failures, the audit of every login, and a branch secretary who never sees another branch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import anyio
import httpx
import pytest

from tongxin.server import open_hub
from tongxin.server._accounts import create_user

from ._console_world import World, csrf, login, signed_in, two_branches
from .conftest import Backend, Server


def _total(html: str) -> int:
    found = re.search(r'data-total="(\d+)"', html)
    assert found, html[:500]
    return int(found.group(1))


@pytest.fixture(scope="module")
def world(server: Server, backend: Backend) -> World:
    return two_branches(
        server,
        backend,
        {
            "sec-a": ("a", "secretary"),
            "county": ("root", "organiser"),
            "locked": ("root", "viewer"),
            "boss": ("root", "admin"),
        },
    )


@pytest.fixture(scope="module")
def secretary(server: Server, world: World) -> Iterator[httpx.Client]:
    with closing(signed_in(server, world, "sec-a")) as client:
        yield client


def test_pages_need_a_session(server: Server) -> None:
    for path in ("/console/", "/console/members", "/console/password"):
        response = httpx.get(server.url + path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/login")


def test_the_session_cookie_is_http_only_and_same_site(server: Server, world: World) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        response = login(client, "county", world.passwords["county"])
        assert response.status_code == 303
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("tongxin_session=")
        )
        assert "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        assert "Secure" not in cookie  # plain http on loopback; https sets it
        assert response.headers["location"] == "/console/"
        first = client.get("/console/")
        assert first.status_code == 303
        assert first.headers["location"] == "/console/password"  # a one-time password


def test_forms_without_the_csrf_token_are_refused(server: Server, world: World) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        client.get("/console/login")
        refused = client.post(
            "/console/login",
            data={"csrf": "forged", "username": "sec-a", "password": world.passwords["sec-a"]},
        )
        assert refused.status_code == 403
        assert "tongxin_session" not in refused.headers.get("set-cookie", "")
    with closing(signed_in(server, world, "county")) as client:
        assert client.post("/console/logout", data={"csrf": "forged"}).status_code == 403
        search = client.post("/console/members", data={"name": "x"})
        assert search.status_code == 403
        assert client.get("/console/").status_code == 200  # still signed in


def _nav(html: str) -> dict[str, str]:
    """The navigation's links: href -> label."""
    nav = html[html.index("<nav>") : html.index("</nav>")]
    return dict(re.findall(r'<a href="([^"]+)"[^>]*>([^<]*)</a>', nav))


def test_the_navigation_is_in_both_languages_and_tokens_are_for_admins(
    server: Server, world: World, secretary: httpx.Client
) -> None:
    from tongxin.server.console._text import TEXT

    keys = {
        "/console/": "dashboard",
        "/console/members": "members",
        "/console/orgs": "orgs",
        "/console/transfers": "transfers",
        "/console/stats": "nav-stats",
        "/console/feedback": "feedback",
        "/console/meetings": "meetings",
        "/console/password": "change-password",
    }
    assert TEXT["nav-stats"][0] == "统计"
    assert TEXT["nav-tokens"][0] == "令牌管理"
    for path in ("/console/", "/console/stats", "/console/meetings", "/console/feedback"):
        nav = _nav(secretary.get(path).text)
        assert nav == {href: TEXT[key][0] for href, key in keys.items()}, path
    with closing(signed_in(server, world, "boss")) as admin:
        zh = _nav(admin.get("/console/orgs").text)
        assert zh["/console/tokens"] == "令牌管理"
        admin.get("/console/lang", params={"to": "en", "next": "/console/orgs"})
        en = _nav(admin.get("/console/orgs").text)
        wanted = {**keys, "/console/tokens": "nav-tokens"}
        assert en == {href: TEXT[key][1] for href, key in wanted.items()}


def _audit(server: Server) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    url: str | None = "/v1/audit?limit=1000"
    with server.client() as admin:
        while url:
            page = admin.get(url).json()
            rows += page["items"]
            url = page["next"]
    return [r for r in rows if r["type"] == "console-users"]


def test_five_wrong_passwords_lock_the_account_and_every_attempt_is_audited(
    server: Server, world: World
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for attempt in range(1, 6):
            wrong = login(client, "locked", f"wrong-{attempt}")
            assert wrong.status_code == 401
        assert "锁定" in wrong.text
        right = login(client, "locked", world.passwords["locked"])
        assert right.status_code == 401
        assert "tongxin_session" not in right.headers.get("set-cookie", "")
    rows = [r for r in _audit(server) if r["id"] == "locked"]
    actions = [r["action"] for r in rows]
    assert actions.count("login-failed") == 5
    assert actions.count("locked") == 1
    assert actions[-1] == "login-refused"
    assert rows[0]["action"] == "user-create"
    assert rows[0]["requestId"].startswith("cli:")
    assert all(r["requestId"].startswith("console:") for r in rows[1:])


def test_login_and_logout_are_audited_and_logout_ends_the_session(
    server: Server, world: World
) -> None:
    with closing(signed_in(server, world, "county")) as client:
        page = client.get("/console/")
        assert client.post("/console/logout", data={"csrf": csrf(page.text)}).status_code == 200
        after = client.get("/console/", follow_redirects=False)
        assert after.status_code == 303
    actions = [(r["action"], r["tokenId"]) for r in _audit(server) if r["id"] == "county"]
    assert ("login", "user:county") in actions
    assert ("logout", "user:county") in actions


def test_a_branch_secretary_never_sees_another_branch(
    server: Server, world: World, secretary: httpx.Client
) -> None:
    dashboard = secretary.get("/console/")
    assert 'data-key="members.total">3<' in dashboard.text
    assert world.ids["b"] not in dashboard.text
    for other in (world.ids["b"], world.ids["root"]):
        assert secretary.get("/console/", params={"organisationId": other}).status_code == 404
        assert secretary.get("/console/members", params={"organisationId": other}).status_code == (
            404
        )
    token = csrf(dashboard.text)
    listed = secretary.post("/console/members", data={"csrf": token})
    assert _total(listed.text) == len(world.members["a"])
    stranger = world.members["b"][0]
    for field, value in (
        ("name", stranger["name"]),
        ("citizenId", stranger["citizenId"]),
        ("phone", stranger["phone"]),
    ):
        found = secretary.post("/console/members", data={"csrf": token, field: value})
        assert stranger["id"] not in found.text, field
    mine = world.members["a"][1]
    for field, value in (("citizenId", mine["citizenId"]), ("phone", mine["phone"])):
        found = secretary.post("/console/members", data={"csrf": token, field: value})
        assert _total(found.text) == 1, field
        assert mine["id"] in found.text, field


def test_search_does_not_put_a_citizen_id_in_a_url(
    server: Server, world: World, secretary: httpx.Client
) -> None:
    token = csrf(secretary.get("/console/members").text)
    mine = world.members["a"][0]
    found = secretary.post("/console/members", data={"csrf": token, "citizenId": mine["citizenId"]})
    assert mine["citizenId"] not in str(found.url)
    assert _total(found.text) == 1


def test_a_viewer_finds_by_name_only_and_is_refused_a_citizen_id_or_phone_search(
    server: Server, backend: Backend, world: World
) -> None:
    """A viewer cannot read citizen IDs or phones, so it may not use them as search keys: an
    answer of one or none would confirm a guessed number."""
    hub = open_hub(backend.settings())
    try:
        world.passwords["viewer-a"] = create_user(hub.db, "viewer-a", world.ids["a"], "viewer")
    finally:
        hub.close()
    mine = world.members["a"][0]
    with closing(signed_in(server, world, "viewer-a")) as viewer:
        page = viewer.get("/console/members")
        assert 'id="q-name"' in page.text
        assert 'id="q-citizen"' not in page.text
        assert 'id="q-phone"' not in page.text
        token = csrf(page.text)
        by_name = viewer.post("/console/members", data={"csrf": token, "name": mine["name"]})
        assert mine["id"] in by_name.text
        for field in ("citizenId", "phone"):
            for value in (mine[field], mine[field][:-1] + "0"):
                refused = viewer.post("/console/members", data={"csrf": token, field: value})
                assert refused.status_code == 403, field
                assert "敏感信息" in refused.text
                assert mine["id"] not in refused.text


def test_the_county_sees_every_branch_and_english_is_a_click_away(
    server: Server, world: World
) -> None:
    with closing(signed_in(server, world, "county")) as client:
        page = client.get("/console/")
        total = len(world.members["a"]) + len(world.members["b"])
        assert f'data-key="members.total">{total}<' in page.text
        assert "统计概览" in page.text
        english = client.get("/console/lang", params={"to": "en", "next": "/console/"})
        assert "Dashboard" in english.text
        assert english.url.path == "/console/"


def test_the_cookie_is_secure_when_the_public_url_is_https(backend: Backend, world: World) -> None:
    from tongxin.server.api import create_app

    hub = open_hub(backend.settings(public_url="https://hub.example.cn"))
    try:
        password = create_user(hub.db, "tls-user", world.ids["root"], "viewer")
        app = create_app(hub=hub)

        async def attempt() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="https://hub") as client:
                form = await client.get("/console/login")
                return await client.post(
                    "/console/login",
                    data={"csrf": csrf(form.text), "username": "tls-user", "password": password},
                )

        response = anyio.run(attempt)
    finally:
        hub.close()
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("tongxin_session=")
    )
    assert "Secure" in cookie
