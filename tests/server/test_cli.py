"""The hub's commands as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tongxin.server import open_hub

from .conftest import Backend


def tongxin(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "tongxin")
    return subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


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
