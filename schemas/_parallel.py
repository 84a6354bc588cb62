"""Validate record arrays on several cores.

The reader (in the calling process) cuts the input into records exactly; batches of their raw
bytes go to worker processes, which decode them again, run the schema and the single-record
rules, and send back the issues and a small digest of each record. The calling process feeds
the digests to the cross-record state in input order, so results are the same as in one
process. At most ``2 × jobs`` batches are in flight, which keeps memory bounded.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import orjson

from ._checks import Digest, PackageState, RecordContext, record_issues
from ._issues import Issue
from ._stream import RecordItem

__all__ = ["BATCH", "validate_parallel"]

BATCH = 2000

Batch = tuple[list[Issue], list[Digest | None]]


def _batch(collection: str, start: int, data: bytes, ctx: RecordContext) -> Batch:
    issues: list[Issue] = []
    digests: list[Digest | None] = []
    for offset, record in enumerate(orjson.loads(data)):
        found, d = record_issues(collection, start + offset, record, ctx)
        issues += found
        digests.append(d)
    return issues, digests


def _context() -> multiprocessing.context.BaseContext:
    # fork starts fastest and shares the loaded schemas; it is unsafe once threads exist.
    method = "fork" if threading.active_count() == 1 else "forkserver"
    if method not in multiprocessing.get_all_start_methods():
        method = "spawn"
    return multiprocessing.get_context(method)


def validate_parallel(
    items: Iterator[tuple[str, Any] | RecordItem],
    ctx: RecordContext,
    state: PackageState,
    jobs: int,
    header: dict[str, Any],
) -> Iterator[Issue]:
    """Like the sequential loop of ``iter_issues`` over ``items``, on ``jobs`` processes.

    Top-level fields are stored into ``header``; the reference date is fixed by the caller.
    """
    window: deque[tuple[str, int, Future[Batch]]] = deque()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_context()) as pool:
        pending: list[bytes] = []
        collection, start = "", 0

        def submit() -> None:
            data = b"[" + b",".join(pending) + b"]"
            window.append((collection, start, pool.submit(_batch, collection, start, data, ctx)))
            pending.clear()

        for item in items:
            if not isinstance(item, RecordItem):
                header[item[0]] = item[1]
                continue
            if pending and (item.collection != collection or len(pending) >= BATCH):
                submit()
            if not pending:
                collection, start = item.collection, item.index
            pending.append(item.raw)
            while len(window) > 2 * jobs:
                yield from _drain(window.popleft(), state)
        if pending:
            submit()
        while window:
            yield from _drain(window.popleft(), state)


def _drain(entry: tuple[str, int, Future[Batch]], state: PackageState) -> Iterator[Issue]:
    collection, start, future = entry
    issues, digests = future.result()
    yield from issues
    add = state.add_digest
    for offset, d in enumerate(digests):
        if d is not None and (found := add(collection, start + offset, d)):
            yield from found
