"""The table of hub rules in ``spec/api.md`` §9 (titles, messages and guidance, zh-CN first
and the English after), generated from :data:`HUB_RULES`, the one source:
``python -m tongxin.server._hubrule_docs spec/api.md``. A test fails when it is stale."""

from __future__ import annotations

import sys
from pathlib import Path

from tongxin.server._hubrules import HUB_RULES

__all__ = ["HUB_RULES_END", "HUB_RULES_START", "hub_rules_table", "render"]

HUB_RULES_START = (
    "<!-- hub-rules:start (generated: python -m tongxin.server._hubrule_docs spec/api.md) -->"
)
HUB_RULES_END = "<!-- hub-rules:end -->"


def hub_rules_table() -> str:
    """The Markdown table of every hub rule: id, titles, messages and guidance, zh-CN first."""
    rows = [
        "| 编号 Rule | 标题 / Title | 信息 / Message | 说明 / Guidance |",
        "|---|---|---|---|",
    ]
    for r in HUB_RULES.values():
        cells = [
            f"`{r.id}`",
            f"{r.title_zh} / {r.title_en}",
            f"{r.message_zh} / {r.message_en}",
            f"{r.guidance_zh} / {r.guidance_en}",
        ]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    """``text`` with its hub-rules block replaced by the current table."""
    head, rest = text.split(HUB_RULES_START, 1)
    _, tail = rest.split(HUB_RULES_END, 1)
    return f"{head}{HUB_RULES_START}\n{hub_rules_table()}{HUB_RULES_END}{tail}"


if __name__ == "__main__":
    path = Path(sys.argv[1])
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
