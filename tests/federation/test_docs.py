"""The Python example of docs/federation.md runs as written."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_guide_python_example_runs() -> None:
    text = (ROOT / "docs" / "federation.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/federation.md", "exec"), {})
