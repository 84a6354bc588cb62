"""Tokens are listed, revoked and expire; the hub's secrets and database are private files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests import _logcheck
from tongxin.cli.hub import parse_expiry
from tongxin.server import HubError, create_token, list_tokens, open_hub, revoke_token

from .conftest import Backend, Server, free_port, person


def tongxin(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "tongxin")
    base = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN_")}
    done = subprocess.run(
        [exe, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**base, **(env or {})},
    )
    _logcheck.keep(f"tokens-{args[0]}", done.stderr)
    return done


def token_cli(backend: Backend, *args: str) -> subprocess.CompletedProcess[str]:
    """``tongxin token …`` against the backend's database."""
    return tongxin(
        "token",
        *args,
        "--database",
        backend.url,
        cwd=backend.workdir,
        env={"TONGXIN_KEY_FILE": str(backend.workdir / "tongxin.key")},
    )


def _refused_within(server: Server, token: str, seconds: float = 15) -> bool:
    """True once the hub answers 401 to ``token`` (the token cache lives five seconds)."""
    deadline = time.monotonic() + seconds
    with server.client(token) as client:
        while time.monotonic() < deadline:
            if client.get("/v1/organisations").status_code == 401:
                return True
            time.sleep(0.2)
    return False


def test_token_list_shows_every_token_without_its_secret(server: Server, backend: Backend) -> None:
    done = token_cli(backend, "list", "--format", "json")
    assert done.returncode == 0, done.stderr
    listed = orjson.loads(done.stdout)
    assert {"admin"} <= {s for t in listed for s in t["scopes"]}
    assert all(t["state"] == "active" for t in listed)
    for secret in server.tokens.values():
        assert secret not in done.stdout
    text = token_cli(backend, "list")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0].startswith("id\tstate")
    assert len(text.stdout.splitlines()) == len(listed) + 1


def test_a_revoked_token_is_refused(server: Server, backend: Backend) -> None:
    hub = open_hub(backend.settings())
    try:
        token = create_token(hub.db, ["records:read"], name="to revoke")
        token_id = hub.tokens.authenticate(f"Bearer {token}").token_id
    finally:
        hub.close()
    with server.client(token) as client:
        assert client.get("/v1/organisations").status_code == 200
    done = token_cli(backend, "revoke", token_id)
    assert done.returncode == 0, done.stderr
    assert _refused_within(server, token)
    with server.client(token) as client:
        problem = client.get("/v1/organisations").json()
    assert problem["code"] == "unauthorized"
    assert "吊销" in problem["detailZh"]
    hub = open_hub(backend.settings())
    try:
        (info,) = [t for t in list_tokens(hub.db) if t.id == token_id]
        assert info.state == "revoked"
        again = revoke_token(hub.db, token_id)  # idempotent
        assert again.revoked_at == info.revoked_at
        with pytest.raises(HubError) as unknown:
            revoke_token(hub.db, "tk_000000000000")
        assert unknown.value.code == "token-unknown"
    finally:
        hub.close()


def test_an_expired_token_is_refused(server: Server, backend: Backend) -> None:
    hub = open_hub(backend.settings())
    try:
        token = create_token(
            hub.db, ["records:read"], expires_at=datetime.now(UTC) + timedelta(seconds=3)
        )
        with server.client(token) as client:
            assert client.get("/v1/organisations").status_code == 200
        assert _refused_within(server, token)
        (info,) = [
            t for t in list_tokens(hub.db) if t.expires_at is not None and t.state == "expired"
        ]
        assert info.revoked_at is None
        with pytest.raises(HubError) as past:
            create_token(hub.db, ["records:read"], expires_at=datetime.now(UTC) - timedelta(1))
        assert past.value.code == "invalid-expiry"
    finally:
        hub.close()


def test_token_create_takes_an_expiry(backend: Backend) -> None:
    made = token_cli(backend, "create", "--scope", "records:read", "--expires", "30d")
    assert made.returncode == 0, made.stderr
    bad = token_cli(backend, "create", "--scope", "records:read", "--expires", "soon")
    assert bad.returncode == 1
    assert "--expires" in bad.stderr
    assert bad.stdout == ""
    listed = orjson.loads(token_cli(backend, "list", "--format", "json").stdout)
    expiring = [t for t in listed if t["expiresAt"]]
    assert expiring
    assert datetime.fromisoformat(expiring[-1]["expiresAt"]) > datetime.now(UTC) + timedelta(29)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", datetime(2026, 4, 1, 12, tzinfo=UTC)),
        ("12h", datetime(2026, 1, 2, tzinfo=UTC)),
        ("30m", datetime(2026, 1, 1, 12, 30, tzinfo=UTC)),
        ("2026-07-01", datetime(2026, 7, 1, tzinfo=timezone(timedelta(hours=8)))),
        ("2026-07-01T08:00:00+08:00", datetime(2026, 7, 1, tzinfo=UTC)),
    ],
)
def test_expiry_forms(text: str, expected: datetime) -> None:
    assert parse_expiry(text, now=datetime(2026, 1, 1, 12, tzinfo=UTC)) == expected


@pytest.mark.parametrize("text", ["", "d", "-3d", "3w", "tomorrow", "2026-13-01"])
def test_expiry_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="--expires"):
        parse_expiry(text)


# -- files ---------------------------------------------------------------------------------------
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_private_files(tmp_path: Path) -> None:
    done = tongxin("init", "--hub-id", "file-hub", "--name", "文件", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("tongxin.db", "tongxin.key", "tongxin.keys.json"):
        assert _mode(tmp_path / name) == 0o600, name
    for extra in tmp_path.glob("tongxin.db-*"):  # SQLite's -wal and -shm follow the database
        assert _mode(extra) == 0o600, extra.name


def _serve_refuses(workdir: Path) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "tongxin")
    base = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN_")}
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(free_port())],
        cwd=workdir,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the hub started instead of refusing:\n{err}")
    _logcheck.keep("serve-refused", err)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("secret", ["tongxin.key", "tongxin.keys.json"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_the_hub_refuses_to_start_on_a_shared_secret_file(
    tmp_path: Path, secret: str, mode: int
) -> None:
    assert tongxin("init", "--hub-id", "file-hub", cwd=tmp_path).returncode == 0
    (tmp_path / secret).chmod(mode)
    done = _serve_refuses(tmp_path)
    assert done.returncode != 0
    assert f"chmod 600 {secret}" in done.stderr
    assert "Traceback" not in done.stderr
    (tmp_path / secret).chmod(0o600)


def test_a_busy_token_is_refused_after_revocation(
    server: Server, backend: Backend, api: Any, tree: dict[str, str]
) -> None:
    """Single-record reads keep their token loaded ahead of its cache expiry; a token in
    constant use is still refused once revoked (the cache entry never outlives a read of the
    database by more than five seconds)."""
    record = person(tree["a"])
    assert api.post("/v1/members", json=record).status_code == 201
    hub = open_hub(backend.settings())
    try:
        token = create_token(hub.db, ["records:read"], name="busy")
        token_id = hub.tokens.authenticate(f"Bearer {token}").token_id
    finally:
        hub.close()
    with server.client(token) as client:
        for _ in range(50):  # warm: loaded once, then served from the cache
            assert client.get(f"/v1/members/{record['id']}").status_code == 200
        done = token_cli(backend, "revoke", token_id)
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 15
        status = 200
        while status == 200 and time.monotonic() < deadline:
            status = client.get(f"/v1/members/{record['id']}").status_code
        assert status == 401
