"""``tongxin legacy sync``: one run sends what changed in the source since the last
acknowledged run — inserts, updates and deletes — through ``POST /v1/bulk``; every refused row
is reported and never stops the others."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from sqlalchemy.engine import Connection

from tongxin.client import BulkResult, Client, Delete, ProblemError, Upsert
from tongxin.schemas import Severity, validate_record

from ._fields import field_kinds, row_hash, to_record, with_prefix
from ._mapping import COLLECTIONS, LegacyMapping, MappingError, Section
from ._source import columns_of, connect, rows
from ._state import State

__all__ = ["HubSink", "PackageSink", "SyncReport", "iter_runs", "run_sync"]


@dataclass
class SyncReport:
    """Counts of one run and the issues of every refused row."""

    sent: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    issues: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "rejected": self.rejected,
            "issues": self.issues,
        }

    def refuse(self, collection: str, record_id: str | None, problems: Sequence[Any]) -> None:
        self.rejected += 1
        for p in problems or [None]:
            self.issues.append(
                {
                    "mapping": collection,
                    "id": record_id,
                    "rule": getattr(p, "rule", None),
                    "pointer": getattr(p, "pointer", ""),
                    "severity": getattr(p, "severity", "error"),
                    "message": {
                        "zh-CN": getattr(p, "message_zh", "") or "枢纽拒绝了这一行",
                        "en": getattr(p, "message_en", "") or "the hub refused this row",
                    },
                }
            )


class Sink(Protocol):
    """Where records go: a hub (acknowledging per line) or a package file."""

    def send(self, ops: list[Upsert | Delete]) -> list[BulkResult]: ...


class HubSink:
    """A hub through the typed client: one bulk request (one Idempotency-Key) per batch."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def send(self, ops: list[Upsert | Delete]) -> list[BulkResult]:
        return list(self.client.bulk(ops))


class PackageSink:
    """A package file: each record checked with the standard's single-record rules."""

    def __init__(self, publisher: str) -> None:
        self.publisher = publisher
        self.records: dict[str, list[dict[str, Any]]] = {c: [] for c in COLLECTIONS}
        self.now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def send(self, ops: list[Upsert | Delete]) -> list[BulkResult]:
        out = []
        for index, op in enumerate(ops):
            assert isinstance(op, Upsert)
            assert isinstance(op.record, dict)
            record = {**op.record, "version": 1, "updatedAt": self.now}
            collection = op.collection or ""
            issues = validate_record(collection, record)
            errors = [i for i in issues if i.severity == Severity.ERROR]
            if errors:
                out.append(_refused(index, collection, record["id"], errors))
            else:
                self.records[collection].append(record)
                out.append(BulkResult(index, collection, record["id"], 201, "created", 1))
        return out

    def write(self, path: Path) -> None:
        package = {
            "schemaVersion": "1.1" if self.records["applicants"] else "1.0",
            "publisher": self.publisher,
            "publishedAt": self.now,
            **{c: r for c, r in self.records.items() if r},
        }
        path.write_bytes(orjson.dumps(package, option=orjson.OPT_INDENT_2))


def _refused(index: int, collection: str, record_id: str, issues: Sequence[Any]) -> BulkResult:
    problems = tuple(
        ProblemError(i.path, i.rule, "error", i.message_zh, i.message_en) for i in issues
    )
    return BulkResult(index, collection, record_id, 422, "error", problems=problems)


def _check_columns(conn: Connection, section: Section) -> None:
    kinds = field_kinds(section.collection)
    columns = columns_of(conn, section.query)
    extra = [c for c in columns if c not in kinds.fields and c != section.cursor]
    if extra:
        names = ", ".join(extra)
        raise MappingError(
            f"[{section.collection}] returns columns that are not fields of the standard: "
            f"{names} (alias them to a field name, or leave them out)",
            f"[{section.collection}] 的查询结果中有不是标准字段的列：{names}"
            "（请用 AS 改为标准字段名，或不要查询这些列）",
        )
    if "id" not in columns:
        raise MappingError(
            f"[{section.collection}] needs an id column", f"[{section.collection}] 缺少 id 列"
        )


def _parents_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Organisations ordered so that a parent comes before its children."""
    by_id = {r["id"]: r for r in records}
    done: set[str] = set()
    out: list[dict[str, Any]] = []
    for record in records:
        chain = []
        node: dict[str, Any] | None = record
        while node is not None and node["id"] not in done and node not in chain:
            chain.append(node)
            node = by_id.get(node.get("parentId", ""))
        for item in reversed(chain):
            done.add(item["id"])
            out.append(item)
    return out


class _Run:
    def __init__(self, mapping: LegacyMapping, sink: Sink, state: State | None, batch: int):
        self.mapping, self.sink, self.state, self.batch = mapping, sink, state, batch
        self.report = SyncReport()

    def upserts(self, conn: Connection, section: Section, attendance: dict[str, list[Any]]) -> None:
        collection, hub_id = section.collection, self.mapping.hub_id
        since = self.state.cursor(collection) if self.state and section.cursor else None
        top = since
        pending: list[dict[str, Any]] = []
        for part in rows(conn, section.query, cursor=section.cursor, since=since):
            for row in part:
                if section.cursor is not None:
                    mark = row.pop(section.cursor)
                    top = mark if top is None or str(mark) > str(top) else top
                record = to_record(collection, hub_id, row)
                if collection == "activities" and record["id"] in attendance:
                    record["attendance"] = attendance[record["id"]]
                pending.append(record)
                if collection != "organisations" and len(pending) >= self.batch:
                    self.send(collection, pending)
                    pending = []
        if collection == "organisations":
            pending = _parents_first(pending)
        for start in range(0, len(pending), self.batch):
            self.send(collection, pending[start : start + self.batch])
        if section.cursor is not None and self.state is not None:
            self.mark_all_seen(conn, section)
            if top is not None:
                self.state.set_cursor(collection, top)

    def mark_all_seen(self, conn: Connection, section: Section) -> None:
        """With a cursor only changed rows were read: a key scan tells what still exists."""
        assert self.state is not None
        query = f"SELECT q.id FROM ({section.query}) AS q"
        for part in rows(conn, query):
            ids = [with_prefix(self.mapping.hub_id, r["id"]) for r in part]
            self.state.mark_seen(section.collection, ids)

    def send(self, collection: str, records: list[dict[str, Any]]) -> None:
        hashes = {r["id"]: row_hash(r) for r in records}
        changed = records
        if self.state is not None:
            self.state.mark_seen(collection, hashes)
            known = self.state.known(collection, list(hashes))
            changed = [r for r in records if known.get(r["id"]) != hashes[r["id"]]]
            self.report.unchanged += len(records) - len(changed)
        if not changed:
            return
        ops: list[Upsert | Delete] = [Upsert(r, collection=collection) for r in changed]
        self.report.sent += len(ops)
        acked = []
        for result in self.sink.send(ops):
            record_id = str(result.id or "")
            if result.ok:
                acked.append((record_id, hashes[record_id]))
                self.count(result.outcome)
            else:
                self.report.refuse(collection, record_id, result.problems)
        if self.state is not None:
            self.state.acknowledge(collection, acked)

    def deletes(self, collection: str) -> None:
        assert self.state is not None
        ids = list(self.state.unseen(collection))
        for start in range(0, len(ids), self.batch):
            chunk = ids[start : start + self.batch]
            ops: list[Upsert | Delete] = [Delete(collection, i) for i in chunk]
            self.report.sent += len(ops)
            gone = []
            for record_id, result in zip(chunk, self.sink.send(ops), strict=True):
                if result.ok or result.status in {404, 410}:
                    gone.append(record_id)
                    self.count("deleted" if result.ok else "unchanged")
                else:
                    self.report.refuse(collection, record_id, result.problems)
            self.state.forget(collection, gone)

    def count(self, outcome: str) -> None:
        if outcome in {"created", "updated", "unchanged", "deleted"}:
            setattr(self.report, outcome, getattr(self.report, outcome) + 1)


def _attendance(conn: Connection, mapping: LegacyMapping) -> dict[str, list[Any]]:
    """Attendance rows grouped by their activity (``activityId``, ``memberId``, ``status``,
    ``reason``)."""
    out: dict[str, list[Any]] = {}
    if mapping.attendance is None:
        return out
    for part in rows(conn, mapping.attendance):
        for row in part:
            activity = row.pop("activityId", None)
            if activity is None:
                raise MappingError(
                    "[attendance] needs an activityId column", "[attendance] 缺少 activityId 列"
                )
            entry = {k: v for k, v in row.items() if v is not None}
            if "memberId" in entry:
                entry["memberId"] = with_prefix(mapping.hub_id, entry["memberId"])
            if "status" in entry:
                entry["status"] = str(entry["status"])
            key = with_prefix(mapping.hub_id, activity)
            out.setdefault(key, []).append(entry)
    return out


def run_sync(
    mapping: LegacyMapping,
    sink: Sink,
    *,
    track: bool = True,
    batch: int = 1000,
    progress: Callable[[str, SyncReport], None] | None = None,
) -> SyncReport:
    """One run. With ``track`` (a hub) the state file advances as the hub acknowledges; without
    it (a package) every row is written."""
    state = State(mapping.state_path) if track else None
    run = _Run(mapping, sink, state, batch)
    try:
        with connect(mapping.source_url) as conn:
            for section in mapping.sections:
                _check_columns(conn, section)
            attendance = _attendance(conn, mapping)
            for section in mapping.sections:
                run.upserts(conn, section, attendance)
                if progress is not None:
                    progress(section.collection, run.report)
        if state is not None:
            for section in reversed(mapping.sections):
                run.deletes(section.collection)
    finally:
        if state is not None:
            state.close()
    return run.report


def iter_runs(
    mapping: LegacyMapping, sink: Sink, interval: float, sleep: Callable[[float], None]
) -> Iterator[SyncReport]:
    """Runs every ``interval`` seconds, for ever."""
    while True:
        yield run_sync(mapping, sink)
        sleep(interval)
