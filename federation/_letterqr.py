"""The QR code of a printed letter: the whole signed letter in a few hundred characters.

A paper letter carries its own proof: the QR text is the signed envelope (``{"letter",
"signature"}``, plus unsigned hints where the issuer's key set and the letter file are
published), as RFC 8785 canonical JSON, compressed with zlib (RFC 1950) and written in base45
(RFC 9285) after the prefix ``TXL1:``. Base45 uses exactly the QR code's alphanumeric character
set, so the code stays small (the EU digital COVID certificate's ``HC1:`` codes are built the
same way) and every scanner returns the same ASCII text, whatever its guess of the encoding.

Whoever scans it verifies the letter offline against the issuer's key set or fingerprint
(``tongxin verify-letter``); a printed field that was altered no longer agrees with the signed
letter the code holds, and a code that was altered no longer matches its signature.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import orjson

from ._canonical import canonical

__all__ = ["QR_PREFIX", "base45_decode", "base45_encode", "letter_from_qr", "letter_qr_text"]

QR_PREFIX = "TXL1:"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
#: The largest letter a code may unpack to (a letter is about 1 KB): no zlib bomb.
_MAX_UNPACKED = 64 * 1024


def base45_encode(data: bytes) -> str:
    """RFC 9285 base45: each two bytes as three characters, a last odd byte as two."""
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, rest = divmod(n, 45 * 45)
        d, c = divmod(rest, 45)
        out += [_ALPHABET[c], _ALPHABET[d], _ALPHABET[e]]
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += [_ALPHABET[c], _ALPHABET[d]]
    return "".join(out)


def base45_decode(text: str) -> bytes:
    """The bytes of RFC 9285 base45 ``text``; ``ValueError`` when it is not base45."""
    try:
        values = [_VALUE[c] for c in text]
    except KeyError as bad:
        raise ValueError(f"{bad.args[0]!r} is not a base45 character") from None
    if len(values) % 3 == 1:
        raise ValueError("base45 text cannot have a length of 3n + 1")
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        n = sum(v * 45**k for k, v in enumerate(chunk))
        if len(chunk) == 3:
            if n > 0xFFFF:
                raise ValueError("base45 triple beyond two bytes")
            out += n.to_bytes(2, "big")
        else:
            if n > 0xFF:
                raise ValueError("base45 pair beyond one byte")
            out.append(n)
    return bytes(out)


def letter_qr_text(
    envelope: Mapping[str, Any], *, keys_url: str | None = None, letter_url: str | None = None
) -> str:
    """The QR text of a signed letter envelope, with the URLs of the issuer's key set and of
    the letter file as unsigned hints (``keys``, ``url``) when given."""
    content: dict[str, Any] = {
        "letter": envelope["letter"],
        "signature": envelope["signature"],
    }
    if keys_url:
        content["keys"] = keys_url
    if letter_url:
        content["url"] = letter_url
    return QR_PREFIX + base45_encode(zlib.compress(canonical(content), 9))


def letter_from_qr(text: str) -> dict[str, Any]:
    """The signed letter envelope a QR text holds (not yet verified: pass it to
    :func:`verify_letter`). ``ValueError`` when ``text`` is not a letter's QR text."""
    text = text.strip()
    if not text.upper().startswith(QR_PREFIX):
        raise ValueError(f"not the QR text of a Tongxin letter (it starts with {QR_PREFIX})")
    packed = base45_decode(text[len(QR_PREFIX) :])
    unpacker = zlib.decompressobj()
    try:
        data = unpacker.decompress(packed, _MAX_UNPACKED)
    except zlib.error as error:
        raise ValueError(f"the QR text is damaged: {error}") from None
    if unpacker.unconsumed_tail or not unpacker.eof:
        raise ValueError("the QR text is damaged or holds more than a letter")
    try:
        content = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"the QR text holds no JSON letter: {error}") from None
    if not isinstance(content, dict):
        raise ValueError("the QR text holds no JSON letter")
    return content
