"""``spec/conformance.md``, generated from the checks (:data:`CHECKS`, the one source):
``python -m tongxin.adapters.conformance._docs spec/conformance.md``. A test fails when the
committed file differs from a fresh generation."""

from __future__ import annotations

import sys
from pathlib import Path

from ._catalogue import CHECKS
from ._model import LEVELS

__all__ = ["document"]

_HEAD = """\
# Tongxin conformance checks / 一致性检查 (generated)

<!-- generated: python -m tongxin.adapters.conformance._docs spec/conformance.md; do not edit -->

本文件列出一致性检查工具 `tongxin conformance` 的全部检查：
每项检查有固定编号、所检验的规范章节，以及 MUST（必须）或 SHOULD（应当）。
只有所选级别的全部 MUST 检查通过，工具才以状态 0 退出。用法见 `docs/conformance.md`；
数据包的一致性用 `tongxin validate` 检查（`spec/standard.md` §7）。

Every check of the conformance kit `tongxin conformance`: its stable id, the section of `spec/`
it tests, and whether it is a MUST or a SHOULD. The kit exits 0 only when every MUST check of the
chosen level passes (a check that does not apply to the target is skipped, with the reason).
Levels include the ones before them: `read` ⊂ `write` ⊂ `federation` (`spec/standard.md` §7:
hub level 1 is `write`, level 2 `federation`). Usage: `docs/conformance.md`; data packages are
checked by `tongxin validate`.
"""

_LEVEL = {
    "read": "Level `read` / 只读级别 — needs a token with `records:read`; writes nothing "
    "(with `--sandbox-organisation`, one member is written first so lists are not empty).",
    "write": "Level `write` / 写入级别 — needs `records:write` and `--sandbox-organisation`; "
    "writes only members of that organisation with ids `<hub-id>:txc-<run>-…`, deleted at the end.",
    "federation": "Level `federation` / 联邦级别 — `--peer-keys` names the key store of a hub "
    "the target trusts as its parent (checks TXC-FED-005 to 007).",
}


def document() -> str:
    parts = [_HEAD]
    for level in LEVELS:
        parts.append(f"\n## {_LEVEL[level]}\n")
        parts.append("| Id | MUST/SHOULD | Spec | 检查 / Check | The spec requires |")
        parts.append("|---|---|---|---|---|")
        for c in CHECKS:
            if c.level == level:
                kind = "MUST" if c.must else "SHOULD"
                title = f"{c.title_zh} / {c.title_en}"
                parts.append(f"| `{c.id}` | {kind} | {c.spec} | {title} | {c.requires} |")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(document(), encoding="utf-8")
