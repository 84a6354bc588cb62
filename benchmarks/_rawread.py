"""The physical limit of a single-record read on this machine, for ``bench_hub_reads.py``: the
same uvicorn, the same number of workers, one psycopg connection per worker, one primary-key
``SELECT`` of the stored JSON, the bytes sent as they are; no token, no policy, no metrics.
A request id given by the client is sent back, as the hub does (the benchmark times each
request by it).

    TONGXIN_RAW_DSN=postgresql://... uvicorn _rawread:app --workers 3
"""

from __future__ import annotations

import os
from typing import Any

import psycopg

_conn: psycopg.Connection[Any] | None = None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _conn
    if scope["type"] != "http":
        return
    if _conn is None:
        _conn = psycopg.connect(os.environ["TONGXIN_RAW_DSN"], autocommit=True)
    rid = scope["path"].rsplit("/", 1)[-1]
    echo = [(name, value) for name, value in scope["headers"] if name == b"x-request-id"]
    row = _conn.execute(
        "SELECT version, doc FROM records WHERE collection = 'members' AND id = %s", (rid,)
    ).fetchone()
    if row is None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = row[1].encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"etag", b'"%d"' % row[0]),
                (b"content-length", b"%d" % len(body)),
                *echo,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
