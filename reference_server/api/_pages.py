"""Page bodies: ``{"items": [...], "next": url | null}`` built from stored JSON bytes."""

from __future__ import annotations

import orjson
from fastapi import Request

from tongxin.server._reads import Page

__all__ = ["page_body"]


def next_url(request: Request, cursor: str | None) -> str | None:
    """The request's URL with ``after`` set to ``cursor``."""
    if cursor is None:
        return None
    hub = request.app.state.hub
    base = hub.settings.public_url.rstrip("/") if hub.settings.public_url else None
    url = request.url.include_query_params(after=cursor)
    return f"{base}{url.path}?{url.query}" if base else str(url)


def page_body(request: Request, page: Page, *, feed: bool = False) -> bytes:
    """The JSON page; a change feed also carries ``cursor`` to poll from later."""
    nxt = next_url(request, page.cursor) if page.more else None
    out = b'{"items":[' + b",".join(page.items) + b'],"next":' + orjson.dumps(nxt)
    if feed:
        out += b',"cursor":' + orjson.dumps(page.cursor)
    if page.total is not None:
        out += b',"total":' + str(page.total).encode()
    return out + b"}"
