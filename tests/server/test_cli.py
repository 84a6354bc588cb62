"""The hub's commands as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests import _logcheck
from tongxin.federation import KeyStore
from tongxin.server import Settings, create_token, open_hub
from tongxin.server._federation import keys_path
from tongxin.server.api import create_app

from .conftest import BACKENDS, Backend, make_backend


def tongxin(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "tongxin")
    done = subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    _logcheck.keep(f"cli-{args[0]}", done.stderr)
    return done


def test_init_then_token_create_prints_only_the_token(backend: Backend) -> None:
    db = ["--database", backend.url]
    key = ["--key-file", str(backend.workdir / "tongxin.key")]
    done = tongxin(
        "init", *db, *key, "--hub-id", "test-hub", "--name", "测试枢纽", cwd=backend.workdir
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    env_db = backend.url
    made = subprocess.run(
        [
            str(Path(sys.executable).parent / "tongxin"),
            "token",
            "create",
            "--scope",
            "records:read",
            "--scope",
            "records:write",
            "--database",
            env_db,
        ],
        cwd=backend.workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "TONGXIN_KEY_FILE": str(backend.workdir / "tongxin.key")},
    )
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("tx_")
    hub = open_hub(backend.settings())
    try:
        principal = hub.tokens.authenticate(f"Bearer {lines[0]}")
        assert principal.scopes == {"records:read", "records:write"}
        assert hub.identity.name == "测试枢纽"
    finally:
        hub.close()


def test_an_invalid_hub_id_fails_naming_the_setting(backend: Backend) -> None:
    done = tongxin("init", "--hub-id", "cd", "--database", backend.url, cwd=backend.workdir)
    assert done.returncode == 1
    assert "hub_id = 'cd'" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_scope_and_organisation_fail_with_a_reason(backend: Backend) -> None:
    db = ["--database", backend.url]
    bad = tongxin("token", "create", "--scope", "everything", *db, cwd=backend.workdir)
    assert bad.returncode == 1
    assert "unknown" in bad.stderr
    assert bad.stdout == ""
    org = tongxin(
        "token",
        "create",
        "--scope",
        "records:read",
        "--organisation",
        "x-y:z",
        *db,
        cwd=backend.workdir,
    )
    assert org.returncode == 1
    assert "does not exist" in org.stderr


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """An empty database of its own (the module's backend is initialised by other tests)."""
    yield from make_backend(request.param, tmp_path / request.param)


def _create_organisation(settings: Settings, record: dict[str, Any]) -> int:
    hub = open_hub(settings)
    try:
        token = create_token(hub.db, ["admin"])
        app = create_app(hub=hub)

        async def post() -> int:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
                headers = {"Authorization": f"Bearer {token}"}
                response = await client.post("/v1/organisations", json=record, headers=headers)
                return response.status_code

        return anyio.run(post)
    finally:
        hub.close()


def test_init_sets_the_hub_id_after_a_zero_configuration_start_until_data_exists(
    fresh: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fresh.workdir)  # where the CLI keeps the key store of a PostgreSQL hub
    key = fresh.workdir / "tongxin.key"
    args = ["--database", fresh.url, "--key-file", str(key)]
    zero_config = Settings(database_url=fresh.url, key_file=key)  # what `tongxin serve` opens
    open_hub(zero_config).close()
    first = tongxin("init", *args, cwd=fresh.workdir)  # keys made under the default id
    assert first.returncode == 0, first.stderr
    hub = open_hub(zero_config)
    try:
        assert hub.hub_id == "local-hub"
        path = keys_path(hub)
        assert KeyStore.load(path).current.kid.startswith("local-hub:")
        fingerprint = KeyStore.load(path).current.fingerprint
    finally:
        hub.close()

    named = tongxin("init", *args, "--hub-id", "cd-wuhou", cwd=fresh.workdir)
    assert named.returncode == 0, named.stderr
    assert "warning" not in named.stderr
    hub = open_hub(zero_config)
    try:
        assert hub.hub_id == "cd-wuhou"
        store = KeyStore.load(keys_path(hub))
        assert store.hub_id == "cd-wuhou"
        assert store.current.kid.startswith("cd-wuhou:")
        assert store.current.fingerprint == fingerprint
    finally:
        hub.close()

    assert (
        _create_organisation(
            zero_config, {"id": "cd-wuhou:o1", "name": "武侯区委", "type": "primary-committee"}
        )
        == 201
    )
    refused = tongxin("init", *args, "--hub-id", "cd-jinjiang", cwd=fresh.workdir)
    assert refused.returncode == 1
    assert "cannot become cd-jinjiang" in refused.stderr
    assert "枢纽标识不能改为 cd-jinjiang" in refused.stderr
    assert "Traceback" not in refused.stderr
    hub = open_hub(zero_config)
    try:
        assert hub.hub_id == "cd-wuhou"
        assert KeyStore.load(keys_path(hub)).hub_id == "cd-wuhou"
    finally:
        hub.close()
