"""The part of Structured Field Values (RFC 8941) the signature headers use: dictionaries whose
members are items or inner lists, with parameters; strings, tokens, integers, booleans and byte
sequences. Parsing then serialising gives the canonical form RFC 9421 signs.
"""

from __future__ import annotations

import base64
import binascii
import string
from dataclasses import dataclass, field

__all__ = [
    "InnerList",
    "Item",
    "Token",
    "parse_dictionary",
    "serialize_inner_list",
    "serialize_item",
    "serialize_params",
]


class Token(str):
    """An sf-token (serialised without quotes)."""

    __slots__ = ()


BareItem = int | str | bytes | bool
Params = dict[str, BareItem]


@dataclass(frozen=True, slots=True)
class Item:
    value: BareItem
    params: Params = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InnerList:
    items: tuple[Item, ...]
    params: Params = field(default_factory=dict)


_KEY_START = string.ascii_lowercase + "*"
_KEY_CHARS = string.ascii_lowercase + string.digits + "_-.*"
_TOKEN_START = string.ascii_letters + "*"
_TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:/"


class _Parser:
    def __init__(self, text: str) -> None:
        self.s, self.i = text, 0

    def fail(self, what: str) -> ValueError:
        return ValueError(f"structured field: {what} at position {self.i}")

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.i += 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.fail(f"expected {char!r}")
        self.i += 1

    def key(self) -> str:
        if not self.peek() or self.peek() not in _KEY_START:
            raise self.fail("expected a key")
        start = self.i
        while self.peek() and self.peek() in _KEY_CHARS:
            self.i += 1
        return self.s[start : self.i]

    def params(self) -> Params:
        params: Params = {}
        while self.peek() == ";":
            self.i += 1
            self.skip(" ")
            name = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare_item()
            params[name] = value
        return params

    def bare_item(self) -> BareItem:
        c = self.peek()
        if c == '"':
            return self.string()
        if c == ":":
            return self.byte_sequence()
        if c == "?":
            self.i += 1
            flag = self.peek()
            if flag not in ("0", "1"):
                raise self.fail("bad boolean")
            self.i += 1
            return flag == "1"
        if c == "-" or c.isdigit():
            return self.integer()
        if c and c in _TOKEN_START:
            start = self.i
            while self.peek() and self.peek() in _TOKEN_CHARS:
                self.i += 1
            return Token(self.s[start : self.i])
        raise self.fail("expected an item")

    def string(self) -> str:
        self.expect('"')
        out: list[str] = []
        while True:
            c = self.peek()
            if not c:
                raise self.fail("unterminated string")
            self.i += 1
            if c == '"':
                return "".join(out)
            if c == "\\":
                c = self.peek()
                if c not in ('"', "\\"):
                    raise self.fail("bad escape")
                self.i += 1
            elif not " " <= c <= "~":
                raise self.fail("non-ASCII character in string")
            out.append(c)

    def byte_sequence(self) -> bytes:
        self.expect(":")
        end = self.s.find(":", self.i)
        if end < 0:
            raise self.fail("unterminated byte sequence")
        text, self.i = self.s[self.i : end], end + 1
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            raise self.fail("bad base64 in byte sequence") from None

    def integer(self) -> int:
        start = self.i
        if self.peek() == "-":
            self.i += 1
        while self.peek().isdigit():
            self.i += 1
        digits = self.s[start : self.i].lstrip("-")
        if not digits or len(digits) > 15 or self.peek() == ".":
            raise self.fail("bad integer (decimals are not used)")
        return int(self.s[start : self.i])

    def member_value(self) -> Item | InnerList:
        if self.peek() != "(":
            value = self.bare_item()
            return Item(value, self.params())
        self.i += 1
        items: list[Item] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.i += 1
                return InnerList(tuple(items), self.params())
            value = self.bare_item()
            items.append(Item(value, self.params()))
            if self.peek() not in (" ", ")"):
                raise self.fail("expected ' ' or ')' in inner list")


def parse_dictionary(text: str) -> dict[str, Item | InnerList]:
    """Parse an sf-dictionary; raises ValueError on malformed input."""
    p = _Parser(text)
    out: dict[str, Item | InnerList] = {}
    p.skip(" \t")
    while p.peek():
        name = p.key()
        if p.peek() == "=":
            p.i += 1
            out[name] = p.member_value()
        else:
            out[name] = Item(True, p.params())
        p.skip(" \t")
        if not p.peek():
            break
        p.expect(",")
        p.skip(" \t")
        if not p.peek():
            raise p.fail("trailing comma")
    return out


def _bare(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_params(params: Params) -> str:
    return "".join(f";{k}" if v is True else f";{k}={_bare(v)}" for k, v in params.items())


def serialize_item(item: Item) -> str:
    return _bare(item.value) + serialize_params(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    """``("a" "b");p=1`` — the form of a ``Signature-Input`` member and ``@signature-params``."""
    return (
        "("
        + " ".join(serialize_item(i) for i in inner.items)
        + ")"
        + serialize_params(inner.params)
    )
