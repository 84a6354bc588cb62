"""Published files are generated from the models, codelists and rules: none may be stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from tongxin.schemas._docs import generated_files

FILES = generated_files()


@pytest.mark.parametrize("name", sorted(FILES))
def test_committed_file_is_fresh(root: Path, name: str) -> None:
    path = root / name
    assert path.exists(), f"{name} is missing: run python -m tongxin.schemas._docs"
    assert path.read_bytes() == FILES[name], f"{name} is stale: run python -m tongxin.schemas._docs"


def test_no_orphan_examples(root: Path) -> None:
    on_disk = {str(p.relative_to(root)) for p in (root / "spec" / "examples").rglob("*.json")}
    assert on_disk == {n for n in FILES if n.startswith("spec/examples/")}
