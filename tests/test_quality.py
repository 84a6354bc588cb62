"""The code gates, run with the tests: ruff (lint and format) and mypy --strict.

mypy cannot follow setuptools' ``package-dir`` mapping (``tongxin.schemas`` lives in
``schemas/``), so the gate lays a tree of links shaped like the installed package and checks
that.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


def test_ruff_lint() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def _package_dirs() -> dict[str, str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return mapping


@pytest.fixture(scope="module")
def typed_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ``tongxin/`` mirrors the installed package, made of links."""
    top = tmp_path_factory.mktemp("typecheck")
    package = top / "tongxin"
    package.mkdir()
    for name, folder in _package_dirs().items():
        if name == "tongxin":
            for entry in (ROOT / folder).iterdir():
                (package / entry.name).symlink_to(entry)
        else:
            (package / name.split(".", 1)[1]).symlink_to(ROOT / folder)
    return top


def test_mypy_strict(typed_tree: Path) -> None:
    config = str(ROOT / "pyproject.toml")
    result = _run(
        sys.executable, "-m", "mypy", "--config-file", config, "-p", "tongxin", cwd=typed_tree
    )
    assert result.returncode == 0, result.stdout + result.stderr
