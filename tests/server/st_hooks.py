"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS): how to send an NDJSON body."""

from __future__ import annotations

from typing import Any

import orjson
import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    """Strings are sent as they are; anything else as one JSON line per item."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    items = value if isinstance(value, list) else [value]
    return b"".join(orjson.dumps(item) + b"\n" for item in items)
