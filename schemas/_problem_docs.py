"""The table of problem codes in ``spec/api.md`` §2, generated from the catalogue
(:mod:`tongxin.schemas.problems`, the one source): ``python -m tongxin.schemas._problem_docs
spec/api.md``. A test fails when the committed table differs from a fresh generation."""

from __future__ import annotations

import sys
from pathlib import Path

from .problems import CATALOGUE

__all__ = ["PROBLEMS_END", "PROBLEMS_START", "problems_table", "render"]

PROBLEMS_START = (
    "<!-- problems:start (generated: python -m tongxin.schemas._problem_docs spec/api.md) -->"
)
PROBLEMS_END = "<!-- problems:end -->"


def problems_table() -> str:
    """The Markdown table of every problem code: status, code, title (zh-CN / en), when."""
    rows = ["| Status | `code` | 标题 / Title | When |", "|---|---|---|---|"]
    uses = [
        (status, order, entry)
        for order, entry in enumerate(CATALOGUE.values())
        for status, _ in entry.uses()
    ]
    for status, _, entry in sorted(uses, key=lambda use: (use[0], use[1])):
        title = f"{entry.title_zh} / {entry.title_en}"
        rows.append(f"| {status} | `{entry.code}` | {title} | {entry.description} |")
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    """``text`` with its problems block replaced by the current table."""
    head, rest = text.split(PROBLEMS_START, 1)
    _, tail = rest.split(PROBLEMS_END, 1)
    return f"{head}{PROBLEMS_START}\n{problems_table()}{PROBLEMS_END}{tail}"


if __name__ == "__main__":
    path = Path(sys.argv[1])
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
