"""The settings table of ``docs/hub.md``, generated from :class:`Settings` (its field
docstrings are the one source): ``python -m tongxin.server._settings_docs docs/hub.md``."""

from __future__ import annotations

import sys
from pathlib import Path

from tongxin.server._settings import Settings

__all__ = ["SETTINGS_END", "SETTINGS_START", "render", "settings_table"]

SETTINGS_START = (
    "<!-- settings:start (generated: python -m tongxin.server._settings_docs docs/hub.md) -->"
)
SETTINGS_END = "<!-- settings:end -->"


def settings_table() -> str:
    """The Markdown table of every setting: variable, default, meaning."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "—" if default is None else f"`{default}`"
        meaning = " ".join((field.description or "").split())
        rows.append(f"| `TONGXIN_{name.upper()}` | {shown} | {meaning} |")
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    """``text`` with its settings block replaced by the current table."""
    head, rest = text.split(SETTINGS_START, 1)
    _, tail = rest.split(SETTINGS_END, 1)
    return f"{head}{SETTINGS_START}\n{settings_table()}{SETTINGS_END}{tail}"


if __name__ == "__main__":
    path = Path(sys.argv[1])
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
