"""Write the synchronous client from the asynchronous one: ``python -m tongxin.client._unasync``.

``_async.py`` is the one source of the client's surface (every method, signature and
docstring); ``_sync.py`` is its build output, the same code with ``async`` and ``await`` taken
out, committed so that it is read, typed and imported like any module. A test fails when the
committed file differs from a fresh generation; ``--check`` says the same without writing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["unasync"]

HERE = Path(__file__).parent
SOURCE, TARGET = HERE / "_async.py", HERE / "_sync.py"

#: Whole pieces of text, replaced first.
PIECES = (
    (
        '"""The asynchronous client: the same surface as :class:`~tongxin.client.Client`, '
        'awaited."""',
        '"""The synchronous client, written from ``_async.py`` by\n'
        '``python -m tongxin.client._unasync``: edit that file, not this one."""',
    ),
    (
        "import asyncio\nfrom collections.abc import AsyncIterator, Iterable, Mapping\n",
        "import time\nfrom collections.abc import Iterable, Iterator, Mapping\n",
    ),
    ("asyncio.sleep(", "time.sleep("),
    (", awaited", ""),
)
#: Patterns, replaced in order after the pieces.
PATTERNS = (
    (r"\basync (def|with|for)\b", r"\1"),
    (r"\bawait ", ""),
    (r"\bAsync(?=[A-Z])", ""),
    (r"\b__a(enter|exit|iter)__\b", r"__\1__"),
    (r"\.a(close|read|iter_lines)\(", r".\1("),
    (r"\bdef aclose\(", "def close("),
    # An async generator cannot ``yield from``; a plain one says it that way.
    (r"for (\w+) in (.+):\n\s+yield \1\n", r"yield from \2\n"),
)


def unasync(source: str) -> str:
    """The synchronous twin of the asynchronous client's source text."""
    for old, new in PIECES:
        if old not in source:
            raise ValueError(f"_async.py no longer contains {old!r}")
        source = source.replace(old, new)
    for pattern, replacement in PATTERNS:
        source = re.sub(pattern, replacement, source)
    return source


def main(argv: list[str]) -> int:
    fresh = unasync(SOURCE.read_text("utf-8"))
    if argv == ["--check"]:
        stale = TARGET.read_text("utf-8") != fresh
        if stale:
            print(f"{TARGET.name} is stale: run python -m tongxin.client._unasync", file=sys.stderr)
        return int(stale)
    TARGET.write_text(fresh, "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
