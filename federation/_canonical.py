"""Canonical bytes for signed documents: the JSON Canonicalization Scheme (RFC 8785).

Why JCS and not "orjson with sorted keys": JCS is a published standard with implementations in
Java, Go, JavaScript and .NET, so any vendor can rebuild the exact bytes a letter was signed over;
sorted-key output of one library is a habit, not a contract (key order by UTF-16 code units,
string escapes and number forms all differ between libraries).

Signed Tongxin documents hold only objects, arrays, strings, integers, booleans and null, so this
implementation covers that subset exactly and refuses floats and integers beyond ±2^53 (where
JCS's IEEE-754 number form would change the value).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

__all__ = ["b64url", "b64url_decode", "canonical", "sha256_hex"]

_MAX_SAFE = 2**53 - 1


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``value``."""
    return "".join(_emit(value)).encode("utf-8")


def _emit(value: Any) -> list[str]:
    if isinstance(value, dict):
        parts = ["{"]
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            parts += [("," if i else "") + _string(key) + ":", *_emit(value[key])]
        return [*parts, "}"]
    if isinstance(value, list | tuple):
        parts = ["["]
        for i, item in enumerate(value):
            parts += [",", *_emit(item)] if i else _emit(item)
        return [*parts, "]"]
    return [_scalar(value)]


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE:
            raise ValueError(f"integer {value} is outside the range JCS keeps exact")
        return str(value)
    raise TypeError(f"cannot canonicalise {type(value).__name__} (floats are not used)")


def _string(text: str) -> str:
    # json.dumps with ensure_ascii=False escapes exactly what RFC 8785 §3.2.2.2 requires:
    # '"', '\\', \b \f \n \r \t in short form and other controls as lower-case \u00xx.
    return json.dumps(text, ensure_ascii=False)


def _utf16_key(key: str) -> bytes:
    """RFC 8785 §3.2.3: properties sort by their UTF-16 code units."""
    return key.encode("utf-16-be", "surrogatepass")


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5), as in JWK ``x`` and signature values."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url`; raises ValueError on anything but base64url."""
    if not isinstance(text, str) or any(c in text for c in "+/= \n"):
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256."""
    return hashlib.sha256(data).hexdigest()
