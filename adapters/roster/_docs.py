"""The ROS rule table of ``spec/roster.md``, generated from the catalogue (drift-tested)."""

from __future__ import annotations

from pathlib import Path

from ._rules import ROSTER_RULES

__all__ = ["BEGIN", "END", "rules_table", "update_spec"]

BEGIN = "<!-- generated: roster rules -->"
END = "<!-- end generated -->"


def rules_table() -> str:
    """The Markdown table of every roster rule: id, severity, titles, messages, guidance
    (zh-CN first, the English after it)."""
    lines = [
        "| 编号 Rule | 严重程度 Severity | 标题 / Title | 信息 / Message | 说明 / Guidance |",
        "|---|---|---|---|---|",
    ]
    for r in ROSTER_RULES.values():
        cells = [
            f"`{r.id}`",
            r.severity.value,
            f"{r.title_zh} / {r.title_en}",
            f"{r.message_zh} / {r.message_en}",
            f"{r.guidance_zh} / {r.guidance_en}",
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def update_spec(path: Path) -> None:
    """Rewrite the generated section of ``path`` (``python -m tongxin.adapters.roster._docs
    spec/roster.md``)."""
    text = path.read_text("utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{rules_table()}\n{END}{tail}", "utf-8")


if __name__ == "__main__":
    import sys

    update_spec(Path(sys.argv[1]))
