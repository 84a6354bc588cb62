"""Change-feed catch-up against the bulk ingest of the same rows, in one run.

    python benchmarks/bench_changes.py [--members 200000] [--backends postgresql,sqlite]

Ingests ``--members`` members through ``/v1/bulk`` (timed), then reads the whole change feed from
the beginning, page by page (``limit`` 10,000), as a replicating hub would (timed, every item
parsed). Prints both times and the ratio (goal: catch-up within 2x of the ingest).
"""

from __future__ import annotations

import time

import httpx
import orjson
from _hubbench import database, main_over_backends, ndjson_file, post_bulk, server


def catch_up(base: str, token: str) -> tuple[float, int]:
    start = time.perf_counter()
    items = 0
    url: str | None = base + "/v1/changes?limit=10000"
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
        while url:
            response = client.get(url)
            response.raise_for_status()
            page = orjson.loads(response.content)
            items += len(page["items"])
            url = page["next"]
    return time.perf_counter() - start, items


def run(kind: str, members: int) -> None:
    with database(kind) as url, server(url) as (base, token):
        ingest, counts = post_bulk(base, token, ndjson_file(members))
        feed, items = catch_up(base, token)
    print(
        f"{kind}: bulk ingest of {sum(counts.values()):,} records in {ingest:.1f} s; change-feed "
        f"catch-up of {items:,} changes in {feed:.1f} s = {items / feed:,.0f} changes/s; "
        f"catch-up / ingest = {feed / ingest:.2f} (goal <= 2)"
    )


if __name__ == "__main__":
    main_over_backends(run, __doc__)
