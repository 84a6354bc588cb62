"""Validate record arrays on several cores.

The reader (in the calling process) cuts the input into records exactly; batches of their raw
bytes go to worker processes, which decode them again, run the schema and the single-record
rules, and send back the issues of each record and what the cross-record bookkeeping needs of
it: a small digest per record, or for a batch of members the digests in columns
(:class:`MemberColumns`), which the calling process adds with a few set operations. The
calling process feeds the bookkeeping in input order and yields every issue where one process
would, so results are the same as in one process, in the same order. At most ``2 × jobs + 1``
batches are in flight, which keeps memory bounded; the first batches are small, so the
workers start while the reader is still near the start of the input.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import orjson

from ._checks import (
    Digest,
    MemberColumns,
    PackageState,
    RecordContext,
    member_columns,
    record_issues,
)
from ._issues import Issue
from ._stream import RecordItem

__all__ = ["BATCH", "FIRST_BATCH", "validate_parallel"]

BATCH = 2000
FIRST_BATCH = 250

#: (offset in the batch, issues of that record) for the records with issues; the bookkeeping
Batch = tuple[list[tuple[int, list[Issue]]], list[Digest | None] | MemberColumns]


def _batch(collection: str, start: int, data: bytes, ctx: RecordContext) -> Batch:
    issues: list[tuple[int, list[Issue]]] = []
    digests: list[Digest | None] = []
    for offset, record in enumerate(orjson.loads(data)):
        found, d = record_issues(collection, start + offset, record, ctx)
        if found:
            issues.append((offset, found))
        digests.append(d)
    if collection == "members":
        columns = member_columns(digests)
        if columns is not None:
            return issues, columns
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
        collection, start, size = "", 0, FIRST_BATCH

        def submit() -> None:
            nonlocal size
            data = b"[" + b",".join(pending) + b"]"
            window.append((collection, start, pool.submit(_batch, collection, start, data, ctx)))
            pending.clear()
            size = min(size * 2, BATCH)

        for item in items:
            if not isinstance(item, RecordItem):
                header[item[0]] = item[1]
                continue
            if pending and (item.collection != collection or len(pending) >= size):
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
    if isinstance(digests, MemberColumns):
        if state.add_members(start, digests):  # no duplicate: only the records' own issues
            for _, found in issues:
                yield from found
            return
        digests = list(digests.digests())
    records = iter(issues)
    at, found = next(records, (-1, []))
    add = state.add_digest
    for offset, d in enumerate(digests):
        if offset == at:
            yield from found
            at, found = next(records, (-1, []))
        if d is not None and (duplicates := add(collection, start + offset, d)):
            yield from duplicates
