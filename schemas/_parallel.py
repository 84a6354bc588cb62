"""Validate record arrays on several cores.

The reader (in the calling process) cuts the input into records; batches of their raw bytes go
to worker processes, which decode them, run the schema and the single-record rules, and send
back the issues of each record and what the cross-record bookkeeping needs of it: a small
digest per record, or for a batch of members the digests in columns (:class:`MemberColumns`),
which the calling process adds with a few set operations. The calling process feeds the
bookkeeping in input order and yields every issue where one process would, so results are the
same as in one process, in the same order. At most ``2 × jobs + 1`` batches are in flight,
which keeps memory bounded; the first batches are small, so the workers start while the reader
is still near the start of the input.

When the input can be read twice, the reader does not decode the records it cuts (see
``iter_package(decode=False)``): the worker's decode confirms each cut. A record that does not
decode ends the batch there; the calling process keeps everything before it, drops what came
after, and reads the input again from that record with every record decoded, exactly as one
process would (same records, same syntax error at the same place).
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
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

#: (offset in the batch, issues of that record) for the records with issues; the bookkeeping;
#: the offset of the first record that did not decode (the batch ends before it), else -1
Batch = tuple[list[tuple[int, list[Issue]]], list[Digest | None] | MemberColumns, int]
#: collection, index of its first record, position of that record among the reader's items
Entry = tuple[str, int, int, "Future[Batch]"]
#: read the input again, decoding every record, from the item at this position
Reread = Callable[[int], Iterator[tuple[str, Any] | RecordItem]]


def _batch(collection: str, start: int, raws: list[bytes], ctx: RecordContext) -> Batch:
    issues: list[tuple[int, list[Issue]]] = []
    digests: list[Digest | None] = []
    failed = -1
    loads = orjson.loads
    for offset, raw in enumerate(raws):
        try:
            record = loads(raw)
        except ValueError:  # orjson.JSONDecodeError, or not UTF-8
            failed = offset
            break
        found, d = record_issues(collection, start + offset, record, ctx)
        if found:
            issues.append((offset, found))
        digests.append(d)
    if collection == "members":
        columns = member_columns(digests)
        if columns is not None:
            return issues, columns, failed
    return issues, digests, failed


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep the garbage collector off the objects that exist before the workers are forked:
    a collection in a worker would otherwise write to every inherited object and copy its
    page (1,000,000 members: 342 MB with two workers, 295 MB frozen). Nothing is frozen when
    the caller has frozen objects already (a hub after its start), and all is unfrozen after."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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
    reread: Reread | None = None,
) -> Iterator[Issue]:
    """Like the sequential loop of ``iter_issues`` over ``items``, on ``jobs`` processes.

    Top-level fields are stored into ``header``; the reference date is fixed by the caller.
    With ``reread``, the records of ``items`` may be undecoded (``iter_package(decode=False)``)
    and ``reread(n)`` gives the items again, all decoded, from the ``n``-th of ``items``.
    """
    with _frozen_heap(), ProcessPoolExecutor(max_workers=jobs, mp_context=_context()) as pool:
        at = 0
        while True:
            failed = yield from _run(items, at, pool, ctx, state, jobs, header, reread is not None)
            if failed < 0 or reread is None:
                return
            items, at, reread = reread(failed), failed, None


def _run(
    items: Iterator[tuple[str, Any] | RecordItem],
    at: int,
    pool: ProcessPoolExecutor,
    ctx: RecordContext,
    state: PackageState,
    jobs: int,
    header: dict[str, Any],
    confirm: bool,
) -> Generator[Issue, None, int]:
    """Validate ``items``, the first of them at position ``at``; return -1, or with ``confirm``
    the position of the first record that did not decode (``header`` as it stood there)."""
    window: deque[Entry] = deque()
    pending: list[bytes] = []
    collection, start, first, size = "", 0, 0, FIRST_BATCH
    written: list[tuple[int, str, Any]] = []  # header fields set: position, key, old value

    def submit() -> None:
        nonlocal pending, size
        future = pool.submit(_batch, collection, start, pending, ctx)
        window.append((collection, start, first, future))
        pending = []
        size = min(size * 2, BATCH)

    def rewind(failed: int) -> int:
        for entry in window:
            entry[3].cancel()
        for position, key, old in reversed(written):
            if position < failed:
                break
            if old is _MISSING:
                header.pop(key, None)
            else:
                header[key] = old
        return failed

    n = at - 1
    while True:
        try:
            item = next(items)
        except StopIteration:
            break
        except Exception:
            if not confirm:
                raise
            # a wrong cut before this point may have caused the error: check every cut first
            if pending:
                submit()
            held: list[Issue] = []
            while window:
                failed = _held(_drain(window.popleft(), state), held)
                if failed >= 0:
                    yield from held
                    return rewind(failed)
            raise
        n += 1
        if not isinstance(item, RecordItem):
            if confirm:
                written.append((n, item[0], header.get(item[0], _MISSING)))
            header[item[0]] = item[1]
            continue
        if pending and (
            item.collection != collection
            or item.index != start + len(pending)
            or len(pending) >= size
        ):
            submit()
        if not pending:
            collection, start, first = item.collection, item.index, n
        pending.append(item.raw)
        while len(window) > 2 * jobs:
            failed = yield from _drain(window.popleft(), state)
            if failed >= 0:
                return rewind(failed)
    if pending:
        submit()
    while window:
        failed = yield from _drain(window.popleft(), state)
        if failed >= 0:
            return rewind(failed)
    return -1


_MISSING = object()


def _held(drain: Generator[Issue, None, int], held: list[Issue]) -> int:
    """Run ``drain``, collecting its issues into ``held``; return what it returns."""
    while True:
        try:
            held.append(next(drain))
        except StopIteration as stop:
            return int(stop.value)


def _drain(entry: Entry, state: PackageState) -> Generator[Issue, None, int]:
    """Yield the issues of a batch in input order; return the position of the record that did
    not decode, else -1."""
    collection, start, first, future = entry
    issues, digests, failed = future.result()
    if failed >= 0:
        failed += first
    if isinstance(digests, MemberColumns):
        if state.add_members(start, digests):  # no duplicate: only the records' own issues
            for _, found in issues:
                yield from found
            return failed
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
    return failed
