"""``POST /v1/bulk``: NDJSON operations in, one result per line out, in bounded memory.

The body is read line by line and written in batches, one database transaction each. A result
exists only once its batch has committed; results go to a spool file (memory first, disk beyond
16 MiB) and are streamed back once the whole body has been read.

With an ``Idempotency-Key`` each batch's results are stored in the same transaction as its writes,
with a hash of its lines. A retry replays the stored batches (writing nothing), continues with the
lines never committed, and is refused with 422 when its lines differ from the first request's:
a stored batch with other lines, a body that ends before the last stored batch, or — once the
first request completed — any other body (whole-body hash).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from anyio import to_thread
from sqlalchemy import exc, insert, select, update

from tongxin.schemas import RECORD_TYPES, Issue, Severity, problems
from tongxin.schemas._fields import ID_PATTERN
from tongxin.schemas._issues import escape_pointer
from tongxin.schemas.problems import ProblemCode

from ._errors import BadRequest, Conflict, HubError, PayloadTooLarge, Unprocessable, issue_to_error
from ._hub import Hub, now_stamp
from ._security import Principal
from ._tables import idempotency_batches, idempotency_keys
from ._writes import Op, Outcome, apply_batch, failed, keep_unseen, prepare

__all__ = ["BulkResult", "nul_pointer", "run_bulk"]

COLLECTIONS = frozenset(m.collection for m in RECORD_TYPES)
_ID = re.compile(ID_PATTERN)
_LINE_FIELDS = frozenset({"op", "type", "record", "id", "ifMatch"})
_SPOOL_BYTES = 16 * 1_048_576


@dataclass(slots=True)
class BulkResult:
    """The spooled NDJSON results and counts by outcome."""

    spool: IO[bytes]
    counts: dict[str, int] = field(default_factory=dict)
    replayed: bool = False


@dataclass(slots=True)
class _Staged:
    """A batch ready to write: prepared operations and early results, or stored results."""

    batch_no: int
    lines_hash: str
    ops: list[Op]
    results: list[Outcome | None]
    stored: bytes | None


@dataclass(slots=True)
class _Key:
    token_id: str
    key: str
    batch_lines: int
    done: bool
    lines: int | None
    body_hash: str | None
    stored: int


def nul_pointer(value: Any, at: str = "") -> str | None:
    """The JSON Pointer of the first string (value or member name) holding NUL, else None."""
    if isinstance(value, str):
        return at if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{at}/{escape_pointer(key)}"
            if "\x00" in key:
                return here
            found = nul_pointer(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_pointer(item, f"{at}/{index}")
            if found is not None:
                return found
    return None


def _line_error(
    index: int, pointer: str, zh: str, en: str, code: ProblemCode = problems.INVALID_LINE
) -> Outcome:
    issue = Issue("SCH-001", Severity.ERROR, pointer, zh, en)
    return failed(index, "", None, Unprocessable(code, en, zh, issues=[issue]))


@dataclass(slots=True)
class _Upsert:
    """A well-formed upsert line, before its record is validated."""

    index: int
    collection: str
    record: Any
    if_match: int | None


def _parse(hub: Hub, index: int, raw: bytes, stamp: str) -> Op | Outcome | _Upsert:
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return failed(
            index,
            "",
            None,
            BadRequest(
                problems.INVALID_JSON, f"line is not JSON: {error}", f"该行不是有效的 JSON：{error}"
            ),
        )
    if not isinstance(line, dict):
        return _line_error(index, "", "每行必须是 JSON 对象", "each line must be a JSON object")
    pointer = nul_pointer(line) if b"\\u0000" in raw else None
    if pointer is not None:
        return _line_error(index, pointer, "含有空字符", "holds a NUL character (\\u0000)")
    for name in sorted(set(line) - _LINE_FIELDS):
        return _line_error(index, f"/{name}", f"不允许的字段 {name}", f"unknown field {name}")
    action, collection, if_match = line.get("op"), line.get("type"), line.get("ifMatch")
    if action not in ("upsert", "delete"):
        return _line_error(
            index, "/op", "op 必须是 upsert 或 delete", "op must be upsert or delete"
        )
    if collection not in COLLECTIONS:
        return _line_error(
            index,
            "/type",
            f"type 必须是 {'、'.join(sorted(COLLECTIONS))} 之一",
            f"type must be one of {', '.join(sorted(COLLECTIONS))}",
        )
    if if_match is not None and (type(if_match) is not int or not 1 <= if_match < 1 << 63):
        return _line_error(
            index, "/ifMatch", "ifMatch 必须是正整数", "ifMatch must be a positive integer"
        )
    record = line.get("record")
    if action == "delete":
        rid = line.get("id") or (record.get("id") if isinstance(record, dict) else None)
        if not isinstance(rid, str):
            return _line_error(index, "/id", "删除操作需要 id", "a delete needs an id")
        if not _ID.fullmatch(rid):
            return _line_error(
                index,
                "/id",
                "id 不符合标准的标识格式",
                "the id does not follow the id pattern of the standard",
            )
        return prepare(
            hub,
            index,
            "delete",
            collection,
            None,
            record_id=rid,
            expected_version=if_match,
            stamp=stamp,
        )
    if record is None:
        return _line_error(index, "/record", "upsert 需要 record", "an upsert needs a record")
    return _Upsert(index, collection, record, if_match)


def _prepare_upserts(
    hub: Hub, principal: Principal, upserts: list[_Upsert], stamp: str
) -> list[Op | Outcome]:
    """Validate the upserts of a batch, each with what the caller may not read kept."""
    editable = [
        (n, u.collection, u.record["id"], u.record)
        for n, u in enumerate(upserts)
        if isinstance(u.record, dict) and isinstance(u.record.get("id"), str)
    ]
    kept: list[dict[str, Any] | None] = [None] * len(upserts)
    if editable:
        for record in editable:
            upserts[record[0]].record = dict(record[3])
        merged = keep_unseen(hub, principal, [(c, i, upserts[n].record) for n, c, i, _ in editable])
        for (n, *_), k in zip(editable, merged, strict=True):
            kept[n] = k
    return [
        prepare(
            hub,
            u.index,
            "upsert",
            u.collection,
            u.record,
            expected_version=u.if_match,
            stamp=stamp,
            kept=k,
        )
        for u, k in zip(upserts, kept, strict=True)
    ]


def result_line(o: Outcome) -> bytes:
    """One NDJSON result: index, type, id, status, outcome, version, problems."""
    out: dict[str, Any] = {
        "index": o.index,
        "type": o.collection or None,
        "id": o.id,
        "status": o.status,
        "outcome": o.outcome,
    }
    if o.version is not None:
        out["version"] = o.version
    if o.error is not None:
        out["code"] = o.error.code
        out["detail"] = o.error.detail_en
        out["problems"] = [issue_to_error(i) for i in o.error.issues]
        for name, value in o.error.extra.items():  # the problem's members (`existing`, …)
            out.setdefault(name, value)
    else:
        out["problems"] = [issue_to_error(i) for i in o.warnings]
    return orjson.dumps(out) + b"\n"


def _under_record(o: Outcome) -> Outcome:
    if o.error is not None:
        o.error.issues = [i.under("/record") for i in o.error.issues]
    o.warnings = [i.under("/record") for i in o.warnings]
    return o


class _Run:
    def __init__(self, hub: Hub, principal: Principal, key: str | None) -> None:
        self.hub, self.principal = hub, principal
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
        self.counts: dict[str, int] = {}
        self.key_name = key
        self.key: _Key | None = None
        self.body_hash = hashlib.sha256()
        self.lines = 0
        self.batches = 0
        self.replayed = False

    # -- idempotency ---------------------------------------------------------------------------
    def open_key(self) -> None:
        if self.key_name is None:
            return
        t, k = idempotency_keys, self.key_name
        tid = self.principal.token_id
        with self.hub.db.write() as conn:
            row = conn.execute(select(t).where(t.c.token_id == tid, t.c.key == k)).first()
            if row is None:
                conn.execute(
                    insert(t).values(
                        token_id=tid,
                        key=k,
                        created_at=datetime.now(UTC),
                        done=False,
                        batch_lines=self.hub.settings.bulk_batch_lines,
                    )
                )
                self.key = _Key(tid, k, self.hub.settings.bulk_batch_lines, False, None, None, 0)
                return
            b = idempotency_batches
            stored = conn.execute(
                select(b.c.batch_no)
                .where(b.c.token_id == tid, b.c.key == k)
                .order_by(b.c.batch_no.desc())
                .limit(1)
            ).scalar()
        self.key = _Key(
            tid,
            k,
            row.batch_lines,
            row.done,
            row.lines,
            row.body_hash,
            -1 if stored is None else stored,
        )

    def _reused(self) -> HubError:
        return Unprocessable(
            problems.IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key was used for a different body",
            "该 Idempotency-Key 已用于不同的请求内容",
        )

    def _stored(self, batch_no: int, lines_hash: str) -> bytes | None:
        key = self.key
        if key is None or batch_no > key.stored:
            if key is not None and key.done:
                raise self._reused()
            return None
        b = idempotency_batches
        with self.hub.db.read() as conn:
            row = conn.execute(
                select(b.c.lines_hash, b.c.results).where(
                    b.c.token_id == key.token_id, b.c.key == key.key, b.c.batch_no == batch_no
                )
            ).first()
        if row is None:
            return None
        if row.lines_hash != lines_hash:
            raise self._reused()
        return bytes(row.results)

    def close_key(self) -> None:
        key = self.key
        if key is None:
            return
        digest = self.body_hash.hexdigest()
        if not key.done and self.batches <= key.stored:
            # A retry after a crash that ends before the batches the first request committed.
            raise self._reused()
        if key.done:
            if key.lines != self.lines or key.body_hash != digest:
                raise self._reused()
            return
        t = idempotency_keys
        with self.hub.db.write() as conn:
            conn.execute(
                update(t)
                .where(t.c.token_id == key.token_id, t.c.key == key.key)
                .values(done=True, lines=self.lines, body_hash=digest)
            )

    # -- batches ---------------------------------------------------------------------------------
    @property
    def batch_lines(self) -> int:
        return self.key.batch_lines if self.key else self.hub.settings.bulk_batch_lines

    def stage(self, batch_no: int, lines: list[tuple[int, bytes | None]]) -> _Staged:
        """Hash, look up a stored result, else parse and prepare (no writes; runs ahead)."""
        self.batches += 1
        digest = hashlib.sha256()
        for index, raw in lines:
            item = b"%d:" % index + (raw if raw is not None else b"\x00") + b"\n"
            digest.update(item)
            self.body_hash.update(item)
        lines_hash = digest.hexdigest()
        stored = self._stored(batch_no, lines_hash)
        if stored is not None:
            return _Staged(batch_no, lines_hash, [], [], stored)
        results: list[Outcome | None] = []
        ops: list[Op] = []
        stamp = now_stamp()[0]
        parsed: list[Op | Outcome | _Upsert] = []
        for index, raw in lines:
            if raw is None:
                parsed.append(
                    failed(
                        index,
                        "",
                        None,
                        PayloadTooLarge(
                            problems.LINE_TOO_LONG,
                            f"line longer than {self.hub.settings.max_bulk_line_bytes} bytes",
                            f"该行超过 {self.hub.settings.max_bulk_line_bytes} 字节",
                        ),
                    )
                )
            else:
                parsed.append(_parse(self.hub, index, raw, stamp))
        upserts = [p for p in parsed if isinstance(p, _Upsert)]
        prepared = iter(_prepare_upserts(self.hub, self.principal, upserts, stamp))
        for entry in parsed:
            ready = next(prepared) if isinstance(entry, _Upsert) else entry
            if isinstance(ready, Op):
                ops.append(ready)
                results.append(None)
            else:
                results.append(ready if ready.collection == "" else _under_record(ready))
        return _Staged(batch_no, lines_hash, ops, results, None)

    def commit(self, staged: _Staged) -> None:
        """Write a staged batch (one transaction) and spool its results."""
        if staged.stored is not None:
            self.replayed = True
            self.spool.write(staged.stored)
            return
        try:
            blob = self._write(staged)
        except exc.IntegrityError:
            # Another request with this key stored the batch first: replay what it stored.
            stored = self._stored(staged.batch_no, staged.lines_hash)
            if stored is None:
                raise
            self.replayed = True
            blob = stored
        self.spool.write(blob)

    def _write(self, staged: _Staged) -> bytes:
        ops, results = staged.ops, staged.results
        with self.hub.db.write() as conn:
            done = iter(apply_batch(self.hub, conn, self.principal, ops)) if ops else iter(())
            outcomes = [r if r is not None else _under_record(next(done)) for r in results]
            blob = b"".join(result_line(o) for o in outcomes)
            if self.key is not None:
                conn.execute(
                    insert(idempotency_batches).values(
                        token_id=self.key.token_id,
                        key=self.key.key,
                        batch_no=staged.batch_no,
                        lines_hash=staged.lines_hash,
                        results=blob,
                    )
                )
        for o in outcomes:
            self.counts[o.outcome] = self.counts.get(o.outcome, 0) + 1
        return blob


async def _lines(
    chunks: AsyncIterator[bytes], max_line: int
) -> AsyncIterator[tuple[int, bytes | None]]:
    """(line number, line) for each non-blank line; None for a line longer than ``max_line``."""
    buffer = b""
    number = 0
    skipping = False  # inside an over-long line, already reported
    async for chunk in chunks:
        parts = (buffer + chunk).split(b"\n")
        buffer = parts.pop()
        for line in parts:
            if skipping:
                skipping = False
            elif len(line) > max_line:
                yield number, None
            elif line.strip():
                yield number, line
            number += 1
        if len(buffer) > max_line:
            if not skipping:
                yield number, None
            skipping, buffer = True, b""
    if buffer.strip() and not skipping:
        yield number, buffer if len(buffer) <= max_line else None


async def _next(
    run: _Run,
    writing: asyncio.Task[None] | None,
    batch_no: int,
    batch: list[tuple[int, bytes | None]],
) -> asyncio.Task[None]:
    """Stage ``batch`` while the previous one is written; then start writing it."""
    staged = await to_thread.run_sync(run.stage, batch_no, batch)
    if writing is not None:
        await writing
    return asyncio.create_task(to_thread.run_sync(run.commit, staged))


async def run_bulk(
    hub: Hub, principal: Principal, chunks: AsyncIterator[bytes], key: str | None
) -> BulkResult:
    """Apply every line of an NDJSON body; return the spooled results."""
    run = _Run(hub, principal, key)
    writing: asyncio.Task[None] | None = None
    token = (principal.token_id, key or "")
    running = hub.state.bulk_running
    if key is not None:
        with hub.state.bulk_lock:
            if token in running:
                raise Conflict(
                    problems.IDEMPOTENCY_KEY_IN_USE,
                    "a request with this Idempotency-Key is still running",
                    "使用该 Idempotency-Key 的请求仍在处理中",
                    headers={"Retry-After": "5"},
                )
            running.add(token)
    try:
        await to_thread.run_sync(run.open_key)
        batch: list[tuple[int, bytes | None]] = []
        batch_no = 0
        # Two stages in step: batch k is written while batch k + 1 is parsed and validated.
        async for number, raw in _lines(chunks, hub.settings.max_bulk_line_bytes):
            run.lines += 1
            if run.lines > hub.settings.max_bulk_lines:
                raise PayloadTooLarge(
                    problems.TOO_MANY_LINES,
                    f"more than {hub.settings.max_bulk_lines} lines in one request",
                    f"单次请求超过 {hub.settings.max_bulk_lines} 行",
                )
            batch.append((number, raw))
            if len(batch) >= run.batch_lines:
                writing = await _next(run, writing, batch_no, batch)
                batch, batch_no = [], batch_no + 1
        if batch:
            writing = await _next(run, writing, batch_no, batch)
        if writing is not None:
            await writing
        await to_thread.run_sync(run.close_key)
    except BaseException:
        if writing is not None and not writing.done():
            with contextlib.suppress(BaseException):
                await writing
        run.spool.close()
        raise
    finally:
        if key is not None:
            with hub.state.bulk_lock:
                running.discard(token)
    run.spool.seek(0)
    return BulkResult(run.spool, run.counts, run.replayed)
