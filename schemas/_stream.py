"""Read a package document in one pass and bounded memory.

The reader walks the top-level object itself and decodes each element of a record array on
its own, so memory holds one buffer (about a megabyte) and one record, never the whole
document. An element is cut at the next ``}`` that is followed by ``,`` or ``]`` and decoded
with orjson; a JSON value is never a proper prefix of another, so a cut that decodes is the
element. When the cut falls inside the element (nested objects, or ``},`` inside a string) the
next cut is tried, and after a few the standard library's incremental decoder takes over.
Positions in errors are the line and column (in characters) of the input.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import IO, Any

import orjson

from . import problems
from ._errors import TongxinError

__all__ = ["PackageSyntaxError", "RecordItem", "iter_package"]

_CHUNK = 1 << 20
_TRIES = 32
_WINDOW = 1 << 16
_WS = re.compile(rb"[ \t\n\r]*")
_CUT = re.compile(rb"\}[ \t\n\r]*[,\]]")
_BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\n\r"
_raw_decode = json.JSONDecoder().raw_decode


class PackageSyntaxError(TongxinError, ValueError):
    """The input is not a JSON object; carries the line and column of the fault
    (``package-syntax``)."""

    status = 400

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(
            problems.PACKAGE_SYNTAX,
            f"{message} (line {line}, column {column})",
            f"JSON 语法错误（第 {line} 行第 {column} 列）",
            line=line,
            column=column,
            reason=message,
        )

    def __str__(self) -> str:
        return self.detail_en

    @property
    def reason(self) -> str:
        return str(self.extra.get("reason", ""))

    @property
    def line(self) -> int:
        return int(self.extra.get("line", 0))

    @property
    def column(self) -> int:
        return int(self.extra.get("column", 0))


@dataclass(slots=True)  # not frozen: a frozen dataclass is built 2-3 times slower, per record
class RecordItem:
    """One element of a record array: ``collection``, its index, the decoded value and the
    element's bytes as they stand in the input."""

    collection: str
    index: int
    value: Any
    raw: bytes


class _Buffer:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.data = b""
        self.pos = 0
        self.eof = False
        self.lines_before = 0  # newlines in the data already discarded
        self.column_before = 0  # characters of the current line already discarded
        self.last_raw = b""  # the bytes of the last value decoded by value()

    def fill(self) -> None:
        """Discard what was consumed and read one more chunk (the chunk doubles while one
        element is longer than the buffer)."""
        gone = self.data[: self.pos]
        newline = gone.rfind(b"\n")
        if newline >= 0:
            self.lines_before += gone.count(b"\n")
            self.column_before = 0
        self.column_before += len(gone[newline + 1 :].decode("utf-8", "replace"))
        chunk = self.stream.read(max(_CHUNK, len(self.data) - self.pos))
        self.eof = not chunk
        self.data = self.data[self.pos :] + chunk
        self.pos = 0

    def skip_bom(self) -> None:
        """Step over a UTF-8 byte order mark at the start of the input."""
        while len(self.data) < len(_BOM) and not self.eof:
            self.fill()
        if self.data.startswith(_BOM):
            self.pos = len(_BOM)

    def error(self, message: str, at: int | None = None) -> PackageSyntaxError:
        at = self.pos if at is None else at
        start = self.data.rfind(b"\n", 0, at) + 1
        line = self.lines_before + self.data.count(b"\n", 0, at) + 1
        column = len(self.data[start:at].decode("utf-8", "replace")) + 1
        if start == 0:
            column += self.column_before
        return PackageSyntaxError(message, line, column)

    def peek(self) -> int:
        """The next non-blank byte, or -1 at the end of the input."""
        while True:
            self.pos = _WS.match(self.data, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.data):
                return self.data[self.pos]
            if self.eof:
                return -1
            self.fill()

    def expect(self, chars: bytes) -> int:
        ch = self.peek()
        if ch < 0 or ch not in chars:
            shown = repr(chr(ch)) if ch >= 0 else "end of input"
            wanted = " or ".join(repr(chr(c)) for c in chars)
            raise self.error(f"expected {wanted}, found {shown}")
        self.pos += 1
        return ch

    def element(self, decode: bool = True) -> tuple[Any, bytes, int]:
        """Decode the array element at the cursor (see the module docstring); return it, its
        bytes, and the separator after it (``,`` or ``]``) when that was consumed too, else -1.

        Without ``decode``, an object whose first cut holds no other ``{`` or ``}`` is returned
        undecoded (value ``None``): its bytes are the first cut, which the caller must decode
        to confirm (a cut that decodes is the one this method would have taken).
        """
        if self.peek() == 0x7B:  # "{"
            start, tries = self.pos, 0
            while tries < _TRIES:
                cut = _CUT.search(self.data, start)
                if cut is None:
                    if self.eof:
                        break
                    self.fill()
                    start = self.pos
                    continue
                raw = self.data[self.pos : cut.start() + 1]
                # no other brace: not nested (where the first cut is too short)
                if (
                    not decode
                    and not tries
                    and raw.find(b"}") == len(raw) - 1
                    and raw.find(b"{", 1) < 0
                ):
                    self.pos = cut.end()
                    return None, raw, self.data[self.pos - 1]
                try:
                    value = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    start, tries = cut.end(), tries + 1
                    continue
                self.pos = cut.end()
                return value, raw, self.data[self.pos - 1]
        value = self.value()
        return value, self.last_raw, -1

    def value(self) -> Any:
        """Decode any JSON value at the cursor with the standard library's decoder, over a
        window of the buffer that grows (and reads more input) while the value is cut off."""
        self.peek()
        size = _WINDOW
        while True:
            window = self.data[self.pos : self.pos + size]
            whole = self.pos + size >= len(self.data) and self.eof
            text = codecs.getincrementaldecoder("utf-8")().decode(window, final=whole)
            try:
                value, end = _raw_decode(text)
                if end == len(text) and not whole:  # a number may go on after the window
                    raise json.JSONDecodeError("cut off", text, end)
            except json.JSONDecodeError as exc:
                if whole:
                    raise self.error(exc.msg, self.pos + len(text[: exc.pos].encode())) from None
                size *= 4
                if self.pos + size > len(self.data) and not self.eof:
                    self.fill()
                continue
            length = len(text[:end].encode())
            self.last_raw = self.data[self.pos : self.pos + length]
            self.pos += length
            return value


def iter_package(
    stream: IO[bytes], collections: AbstractSet[str], *, decode: bool = True
) -> Iterator[tuple[str, Any] | RecordItem]:
    """Yield ``(key, value)`` for each top-level field and a :class:`RecordItem` for each
    element of a top-level array named in ``collections``; raise :class:`PackageSyntaxError`.

    Without ``decode``, most objects in the arrays come undecoded (value ``None``, see
    :meth:`_Buffer.element`): whoever decodes them confirms the cut, and must read the input
    again with ``decode`` from the first element that does not decode, since everything the
    reader yielded after it may be wrong."""
    buf = _Buffer(stream)
    buf.skip_bom()
    buf.expect(b"{")
    if buf.peek() == 0x7D:
        buf.pos += 1
    else:
        while True:
            if buf.peek() != 0x22:
                raise buf.error("expected a property name in double quotes")
            key = buf.value()
            buf.expect(b":")
            if key in collections and buf.peek() == 0x5B:
                buf.pos += 1
                yield from _array(buf, key, decode)
            else:
                yield key, buf.value()
            if buf.expect(b",}") == 0x7D:
                break
    if buf.peek() >= 0:
        raise buf.error("unexpected data after the package object")


def _array(buf: _Buffer, collection: str, decode: bool) -> Iterator[RecordItem]:
    if buf.peek() == 0x5D:
        buf.pos += 1
        return
    index = 0
    while True:
        if not decode:  # what element(decode=False) returns, found faster (memchr, no regex)
            data, pos = buf.data, buf.pos
            size = len(data)
            while pos < size and data[pos] in _BLANK:
                pos += 1
            end = data.find(b"}", pos) if pos < size and data[pos] == 0x7B else -1
            if end > 0 and data.find(b"{", pos + 1, end) < 0:
                after = end + 1
                while after < size and data[after] in _BLANK:
                    after += 1
                if after < size and data[after] in b",]":
                    buf.pos = after + 1
                    yield RecordItem(collection, index, None, data[pos : end + 1])
                    index += 1
                    if data[after] == 0x5D:
                        return
                    continue
        value, raw, separator = buf.element(decode)
        yield RecordItem(collection, index, value, raw)
        index += 1
        if separator < 0:
            separator = buf.expect(b",]")
        if separator == 0x5D:
            return
