"""A hub with two branches under one committee, its console users, and a browser-like client
signed in to the console: the world the console tests share."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tongxin.server import open_hub
from tongxin.server._accounts import create_user

from .conftest import Backend, Server, organisation, person

__all__ = ["NEW_PASSWORD", "World", "csrf", "login", "sign_in", "signed_in", "two_branches"]

NEW_PASSWORD = "correct horse battery"


def csrf(html: str) -> str:
    """The CSRF token of the form in ``html``."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    form = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"csrf": csrf(form.text), "username": username, "password": password},
    )


@dataclass
class World:
    #: Organisation ids: ``root`` and one per branch key (``a``, ``b``).
    ids: dict[str, str]
    #: The member records created in each branch, by branch key.
    members: dict[str, list[dict[str, Any]]]
    #: Each console user's current password (replaced on the first sign-in).
    passwords: dict[str, str]


def two_branches(
    server: Server,
    backend: Backend,
    users: Mapping[str, tuple[str, str]],
    *,
    root_name: str | None = None,
    branches: Sequence[tuple[str, str, int]] = (("a", "第a支部", 3), ("b", "第b支部", 4)),
    member: Callable[[str], dict[str, Any]] = person,
    more: Callable[[httpx.Client, World], None] | None = None,
) -> World:
    """A committee (named ``root_name``) with ``branches`` (key, name, how many members), each
    member made by ``member(branch_id)``; ``more`` adds records through the admin client; then
    the console ``users`` by name: (organisation key, role)."""
    world = World({}, {key: [] for key, _, _ in branches}, {})
    with server.client() as admin:
        root = organisation() if root_name is None else organisation(name=root_name)
        assert admin.post("/v1/organisations", json=root).status_code == 201
        world.ids["root"] = root["id"]
        for key, name, count in branches:
            branch = organisation(root["id"], name=name)
            assert admin.post("/v1/organisations", json=branch).status_code == 201
            world.ids[key] = branch["id"]
            for _ in range(count):
                record = member(branch["id"])
                assert admin.post("/v1/members", json=record).status_code == 201
                world.members[key].append(record)
        if more is not None:
            more(admin, world)
    hub = open_hub(backend.settings())
    try:
        for username, (org, role) in users.items():
            world.passwords[username] = create_user(hub.db, username, world.ids[org], role)
    finally:
        hub.close()
    return world


def sign_in(url: str, username: str, password: str) -> tuple[httpx.Client, str]:
    """A browser-like client logged in to the console at ``url``, and the user's password
    after the sign-in (a one-time password is replaced by :data:`NEW_PASSWORD`)."""
    client = httpx.Client(base_url=url, timeout=60, follow_redirects=True)
    first = login(client, username, password)
    if first.url.path == "/console/password":
        changed = client.post(
            "/console/password",
            data={"csrf": csrf(first.text), "old": password, "new": NEW_PASSWORD},
        )
        assert changed.url.path == "/console/", changed.text[:300]
        return client, NEW_PASSWORD
    assert first.url.path == "/console/", first.text[:300]
    return client, password


def signed_in(server: Server, world: World, username: str) -> httpx.Client:
    """A client logged in as ``username`` of ``world``, whose password it keeps current."""
    client, world.passwords[username] = sign_in(server.url, username, world.passwords[username])
    return client
