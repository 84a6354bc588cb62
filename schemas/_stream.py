"""Read a package document in one pass and bounded memory.

The reader walks the top-level object itself and hands each element of a record array to the
C-accelerated ``json`` decoder, so memory holds one buffer (about a megabyte) and one record,
never the whole document. Positions in errors are line and column of the input.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

__all__ = ["PackageSyntaxError", "RecordItem", "iter_package"]

_CHUNK = 1 << 20
_WS = re.compile(r"[ \t\n\r]*")
_decode = json.JSONDecoder().raw_decode


class PackageSyntaxError(ValueError):
    """The input is not a JSON object; carries the line and column of the fault."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.reason, self.line, self.column = message, line, column


@dataclass(frozen=True, slots=True)
class RecordItem:
    """One element of a record array: ``collection``, its index and the decoded value."""

    collection: str
    index: int
    value: Any


class _Buffer:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.text = ""
        self.pos = 0
        self.eof = False
        self.lines_before = 0  # newlines in text already discarded

    def fill(self) -> None:
        """Discard what was consumed and read one more chunk."""
        self.lines_before += self.text.count("\n", 0, self.pos)
        chunk = self.stream.read(_CHUNK)
        self.eof = not chunk
        self.text = self.text[self.pos :] + self.decoder.decode(chunk, final=self.eof)
        self.pos = 0

    def error(self, message: str, pos: int | None = None) -> PackageSyntaxError:
        at = self.pos if pos is None else pos
        line = self.lines_before + self.text.count("\n", 0, at) + 1
        column = at - self.text.rfind("\n", 0, at)
        return PackageSyntaxError(message, line, column)

    def peek(self) -> str:
        """The next non-blank character, or "" at the end of the input."""
        while True:
            self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos : self.pos + 1]
            self.fill()

    def expect(self, chars: str) -> str:
        ch = self.peek()
        if not ch or ch not in chars:
            shown = repr(ch) if ch else "end of input"
            raise self.error(f"expected {' or '.join(repr(c) for c in chars)}, found {shown}")
        self.pos += 1
        return ch

    def value(self) -> Any:
        """Decode the JSON value at the cursor, reading more input while it is cut off."""
        self.peek()
        while True:
            try:
                value, end = _decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise self.error(exc.msg, exc.pos) from None
                self.fill()
                continue
            if end == len(self.text) and not self.eof:  # a number may go on in the next chunk
                self.fill()
                continue
            self.pos = end
            return value


def iter_package(stream: IO[bytes], collections: frozenset[str]) -> Iterator[tuple[str, Any] | RecordItem]:
    """Yield ``(key, value)`` for each top-level field and a :class:`RecordItem` for each
    element of a top-level array named in ``collections``; raise :class:`PackageSyntaxError`."""
    buf = _Buffer(stream)
    buf.fill()
    buf.expect("{")
    if buf.peek() == "}":
        buf.pos += 1
    else:
        while True:
            if buf.peek() != '"':
                raise buf.error("expected a property name in double quotes")
            key = buf.value()
            buf.expect(":")
            if key in collections and buf.peek() == "[":
                buf.pos += 1
                yield from _array(buf, key)
            else:
                yield key, buf.value()
            if buf.expect(",}") == "}":
                break
    if buf.peek():
        raise buf.error("unexpected data after the package object")


def _array(buf: _Buffer, collection: str) -> Iterator[RecordItem]:
    if buf.peek() == "]":
        buf.pos += 1
        return
    index = 0
    while True:
        yield RecordItem(collection, index, buf.value())
        index += 1
        if buf.expect(",]") == "]":
            return
