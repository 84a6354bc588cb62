"""Console accounts as an operator makes them: ``tongxin user create|list|disable|reset-password``
(argon2id, one-time passwords, refusals with a reason)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tongxin.cli import app
from tongxin.server import open_hub
from tongxin.server._accounts import users

from .conftest import Backend, Server, organisation


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def tongxin(backend: Backend, *args: str) -> Done:
    """The command run in this process (the key file is found like the server finds it)."""
    env = {"TONGXIN_KEY_FILE": str(backend.workdir / "tongxin.key"), "TONGXIN_HUB_ID": "test-hub"}
    result = CliRunner().invoke(app, [*args, "--database", backend.url], env=env)
    return Done(result.exit_code, result.stdout, result.stderr)


def _users(backend: Backend) -> dict[str, dict[str, object]]:
    listed = tongxin(backend, "user", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return {u["username"]: u for u in orjson.loads(listed.stdout)}


@pytest.fixture(scope="module")
def branch(server: Server) -> str:
    with server.client() as admin:
        record = organisation()
        assert admin.post("/v1/organisations", json=record).status_code == 201
    return str(record["id"])


def test_create_prints_only_a_one_time_password_stored_as_argon2id(
    server: Server, backend: Backend, branch: str
) -> None:
    made = tongxin(
        backend, "user", "create", "li.ming", "--organisation", branch, "--role", "viewer"
    )
    assert made.returncode == 0, made.stderr
    (password,) = made.stdout.splitlines()
    assert len(password) >= 16
    hub = open_hub(backend.settings())
    try:
        with hub.db.read() as conn:
            stored = conn.execute(
                select(users.c.password_hash).where(users.c.username == "li.ming")
            ).scalar_one()
    finally:
        hub.close()
    assert stored.startswith("$argon2id$")
    assert password not in stored
    listed = _users(backend)["li.ming"]
    assert listed["state"] == "must-change-password"
    assert listed["role"] == "viewer"
    assert listed["organisationId"] == branch


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("BadName", "--role", "viewer"), "username"),
        (("wang", "--role", "king"), "unknown role"),
        (("wang", "--role", "viewer", "--organisation", "test-hub:nowhere"), "does not exist"),
    ],
)
def test_create_refuses_with_a_reason(
    server: Server, backend: Backend, branch: str, args: tuple[str, ...], reason: str
) -> None:
    org = () if "--organisation" in args else ("--organisation", branch)
    refused = tongxin(backend, "user", "create", *args, *org)
    assert refused.returncode == 1
    assert reason in refused.stderr
    assert refused.stdout == ""


def test_a_second_user_of_the_same_name_is_refused(
    server: Server, backend: Backend, branch: str
) -> None:
    args = ("user", "create", "zhao", "--organisation", branch, "--role", "secretary")
    assert tongxin(backend, *args).returncode == 0
    again = tongxin(backend, *args)
    assert again.returncode == 1
    assert "exists" in again.stderr


def test_disable_and_reset_password(server: Server, backend: Backend, branch: str) -> None:
    made = tongxin(backend, "user", "create", "qian", "--organisation", branch, "--role", "admin")
    first = made.stdout.strip()
    assert tongxin(backend, "user", "disable", "qian").returncode == 0
    assert _users(backend)["qian"]["state"] == "disabled"
    reset = tongxin(backend, "user", "reset-password", "qian")
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.strip() not in ("", first)
    assert tongxin(backend, "user", "disable", "nobody").returncode == 1
    assert tongxin(backend, "user", "reset-password", "nobody").returncode == 1


def test_user_and_token_commands_share_one_frame(backend: Backend) -> None:
    """Opening the hub, settings and refusals: the same exit and message for every command."""
    for args in (("user", "disable", "nobody"), ("token", "revoke", "tk_nobody")):
        refused = tongxin(backend, *args)
        assert refused.returncode == 1, args
        assert refused.stderr.startswith("error: "), args
        assert refused.stdout == ""
    env = {"TONGXIN_KEY_FILE": str(backend.workdir / "tongxin.key"), "TONGXIN_HUB_ID": "cd"}
    for group in ("user", "token"):
        result = CliRunner().invoke(app, [group, "list", "--database", backend.url], env=env)
        assert result.exit_code == 1, group
        assert "hub_id = 'cd'" in result.stderr
        assert result.stdout == ""
