"""The code gates, run with the tests: ruff (lint and format), mypy --strict, the import rules
(import-linter) and no import of another module's private names.

mypy and import-linter cannot follow setuptools' ``package-dir`` mapping (``tongxin.schemas``
lives in ``schemas/``), so the gates lay a tree of links shaped like the installed package and
check that.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
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


def test_import_rules(typed_tree: Path) -> None:
    """The dependency rules of ``docs/architecture.md``, as import-linter contracts in
    ``pyproject.toml``, hold for the installed shape of the package."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=typed_tree,
        env={**os.environ, "PYTHONPATH": str(typed_tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


#: Imports of another module's private names (``from ._x import _name``) still present, each
#: with its reason; the record store (one writer of ``records``) removes them.
PRIVATE_IMPORTS_ALLOWED: dict[tuple[str, str], str] = {}
SOURCES = ("schemas", "federation", "reference_server", "adapters", "tongxin")


def _private_imports(module: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(module.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level and node.module is None:
                continue  # ``from . import _core``: a sibling module of the same package
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield alias.name


def test_no_module_imports_another_modules_private_names() -> None:
    found = {
        (path.relative_to(ROOT).as_posix(), name)
        for folder in SOURCES
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in _private_imports(path)
    }
    assert found - PRIVATE_IMPORTS_ALLOWED.keys() == set(), "import a public name instead"
    assert PRIVATE_IMPORTS_ALLOWED.keys() - found == set(), "drop the stale allowance"


def test_the_private_import_check_can_fail(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from ._writes import _digest, apply_batch\nfrom os import path\nfrom . import _core\n"
    )
    assert list(_private_imports(module)) == ["_digest"]
