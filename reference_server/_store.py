"""The record store: the one writer of the ``records`` table.

Every path that changes a record — the write engine (single requests and ``/v1/bulk``),
replication from a peer's feed, and electronic transfers — hands the store the rows it decided
on; the store gives them feed sequence numbers (the only allocator of ``hub_state.last_seq``),
remembers the records that leave an organisation subtree (:mod:`._exits`), upserts the rows in
as few statements as the database allows (COPY on PostgreSQL), keeps their projection
``record_facts`` (the typed fields statistics and lists read, :func:`facts_of`) in step and
writes their audit rows, all inside the caller's writing transaction.

A replica's sealed fields may carry the keyed hashes it arrived with under :data:`HASHED`;
:func:`open_sealed` is the one place that separates them from the record's own fields.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    String,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from tongxin.federation import Change, Entry

from ._crypto import SENSITIVE_FIELDS, FieldCipher
from ._tables import audit, hub_state, org_tree, record_facts, records, scope_exits

__all__ = [
    "CURRENT",
    "FACT_FIELDS",
    "HASHED",
    "ORPHAN",
    "UNSEEN",
    "Put",
    "among",
    "content_digest",
    "facts_of",
    "insert_many",
    "make_orphans",
    "mark_seen",
    "mark_unseen",
    "open_sealed",
    "purge_tombstones",
    "replica_values",
    "replicated_from",
    "reserve",
    "sensitive_json",
    "stored_entry",
    "write_records",
]

#: Key inside a replica's sealed fields holding the keyed hashes it arrived with.
HASHED = "$hashed"
#: ``records.orphan``: a current row; a replica a restored peer has not sent again yet; an
#: orphan its restored owner no longer holds (``spec/federation.md`` §4.5).
CURRENT, UNSEEN, ORPHAN = 0, 1, 2
Key = tuple[str, str]
#: The ``record_facts`` columns taken from a stored document: column -> document field.
FACT_FIELDS = {
    "name": "name",
    "status": "status",
    "category": "category",
    "gender": "gender",
    "birth_date": "birthDate",
    "education": "education",
    "ethnicity": "ethnicity",
    "joined_date": "joinedDate",
    "type": "type",
    "elected_date": "electedDate",
    "term_years": "termYears",
    "start_day": "startTime",
    "period": "period",
    "member_id": "memberId",
    "state": "state",
    "issued_date": "issuedDate",
}


@dataclass(slots=True)
class Put:
    """One row to write: its columns (``seq`` is given by the store) and whether a row with
    its key is already stored (an UPDATE) or not (an INSERT). A row may leave out
    ``scope_org2`` (kept as stored) or ``orphan`` (kept, or the column default)."""

    values: dict[str, Any]
    stored: bool


def content_digest(
    record: Mapping[str, Any], sensitive: Mapping[str, Any], sensitive_json: bytes | None = None
) -> str:
    """The digest of a record's content, sensitive fields included: a write of identical
    content is recognised without opening the sealed fields. ``sensitive_json``: the sensitive
    fields already serialised by :func:`sensitive_json` (the bytes the seal encrypts), so the
    write path serialises them once; the digest is the same bytes either way."""
    if sensitive_json is None:
        sensitive_json = orjson.dumps(sensitive, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(b"[")
    digest.update(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
    digest.update(b",")
    digest.update(sensitive_json)
    digest.update(b"]")  # = orjson.dumps([record, sensitive], option=OPT_SORT_KEYS)
    return digest.hexdigest()


def sensitive_json(sensitive: Mapping[str, Any]) -> bytes:
    """The sensitive fields as the seal encrypts them and the content digest reads them."""
    return orjson.dumps(sensitive, option=orjson.OPT_SORT_KEYS)


def open_sealed(
    cipher: FieldCipher, rid: str, sealed: bytes | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """A row's sealed fields and the keyed hashes a replica arrived with, apart."""
    if not sealed:
        return {}, {}
    opened = cipher.open(rid, sealed)
    hashed = opened.pop(HASHED, None)
    return opened, dict(hashed) if isinstance(hashed, dict) else {}


def stored_entry(
    conn: Connection, cipher: FieldCipher, collection: str, rid: str
) -> tuple[Entry, str | None] | None:
    """What this hub holds of one record (its content with the sensitive fields, and the keyed
    hashes a replica arrived with) and its scope; None when it holds nothing."""
    c = records.c
    row = conn.execute(
        select(c.version, c.owner, c.deleted, c.doc, c.sealed, c.scope_org).where(
            c.collection == collection, c.id == rid
        )
    ).first()
    if row is None:
        return None
    record: dict[str, Any] | None = None
    hashed: dict[str, str] = {}
    if not row.deleted and row.doc is not None:
        record = orjson.loads(row.doc)
        opened, hashed = open_sealed(cipher, rid, row.sealed)
        record.update(opened)
    return Entry(row.version, row.owner, row.deleted, record, hashed), row.scope_org


def reserve(conn: Connection, n: int) -> int:
    """Reserve ``n`` feed sequence numbers (in the caller's transaction); the first of them."""
    top: int = conn.execute(
        update(hub_state)
        .where(hub_state.c.id == 1)
        .values(last_seq=hub_state.c.last_seq + n)
        .returning(hub_state.c.last_seq)
    ).scalar_one()
    return top - n + 1


def among(conn: Connection, column: Any, values: list[str]) -> Any:
    """``column IN values``; on PostgreSQL one array parameter (``= ANY``), which keeps a
    2,000-value lookup cheap to parse and plan."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(String)))
    return column.in_(values)


def write_records(
    conn: Connection, puts: Sequence[Put], audit_rows: Sequence[dict[str, Any]]
) -> None:
    """Store ``puts`` at a new block of feed sequence numbers, in their order, with
    ``audit_rows`` (each names ``at``, ``token_id``, ``action``, ``collection``, ``record_id``,
    ``before_version``, ``after_version``, ``request_id``), and their ``record_facts``."""
    if puts:
        first = reserve(conn, len(puts))
        new: list[dict[str, Any]] = []
        old: list[dict[str, Any]] = []
        for seq, put in enumerate(puts, start=first):
            (old if put.stored else new).append({**put.values, "seq": seq})
        orphans: dict[Key, int] = {}
        if old:
            orphans = _drop_facts(conn, old)
            _update(conn, old)
        if new:
            insert_many(conn, records, new)
        facts = [
            f
            for v in old + new
            if (f := facts_of(v, orphans.get((v["collection"], v["id"]), CURRENT))) is not None
        ]
        if facts:
            insert_many(conn, record_facts, facts)
    if audit_rows:
        insert_many(conn, audit, list(audit_rows))


def _text(value: Any) -> str | None:
    """A document value as text, as the database's JSON functions give it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def facts_of(values: Mapping[str, Any], orphan: int = CURRENT) -> dict[str, Any] | None:
    """The ``record_facts`` row of a ``records`` row (``values``, with ``doc``); None for a
    tombstone. ``orphan``: the row's standing when ``values`` leaves it as stored."""
    doc = values.get("doc")
    if values.get("deleted") or doc is None:
        return None
    record = orjson.loads(doc)
    row: dict[str, Any] = {
        "collection": values["collection"],
        "id": values["id"],
        "scope_org": values.get("scope_org"),
        "scope_org2": values.get("scope_org2"),
        "orphan": values.get("orphan", orphan),
        "updated_us": values["updated_us"],
    }
    for column, field in FACT_FIELDS.items():
        row[column] = _text(record.get(field))
    if row["start_day"] is not None:
        row["start_day"] = row["start_day"][:10]
    years = record.get("termYears")
    row["term_years"] = years if isinstance(years, int) and not isinstance(years, bool) else None
    return row


def _drop_facts(conn: Connection, rows: list[dict[str, Any]]) -> dict[Key, int]:
    """Delete the ``record_facts`` of the stored rows about to be updated; the standing
    (``orphan``) of those whose update leaves it as stored. A row updated without
    ``scope_org2`` keeps the stored one (read here into ``rows``)."""
    ids: dict[str, list[str]] = {}
    for v in rows:
        ids.setdefault(v["collection"], []).append(v["id"])
    keep = [(v["collection"], v["id"]) for v in rows if "orphan" not in v or "scope_org2" not in v]
    stored: dict[Key, Any] = {}
    if keep:
        c = records.c
        stored = {
            (r.collection, r.id): r
            for r in conn.execute(
                select(c.collection, c.id, c.orphan, c.scope_org2).where(
                    tuple_(c.collection, c.id).in_(keep)
                )
            )
        }
    for collection, wanted in ids.items():
        f = record_facts.c
        conn.execute(
            delete(record_facts).where(f.collection == collection, among(conn, f.id, wanted))
        )
    orphans: dict[Key, int] = {}
    for v in rows:
        key = (v["collection"], v["id"])
        if key in stored:
            orphans[key] = stored[key].orphan
            if "scope_org2" not in v:
                v["scope_org2"] = stored[key].scope_org2
    return orphans


def _update(conn: Connection, rows: list[dict[str, Any]]) -> None:
    keys = [(v["collection"], v["id"]) for v in rows]
    before = _old_scopes(conn, keys)
    _record_exits(
        conn,
        before,
        {
            key: (v["scope_org"], v["scope_org2"] if "scope_org2" in v else before[key][1])
            for key, v in zip(keys, rows, strict=True)
            if key in before
        },
    )
    if any(v.get("citizen_hash") for v in rows):
        # Free the unique keys the updated rows give up before any row takes them.
        conn.execute(
            update(records)
            .where(tuple_(records.c.collection, records.c.id).in_(keys))
            .values(citizen_hash=None)
        )
    conn.execute(
        update(records).where(
            and_(
                records.c.collection == bindparam("k_collection"),
                records.c.id == bindparam("k_id"),
            )
        ),
        [
            {
                **{k: x for k, x in v.items() if k not in ("collection", "id")},
                "k_collection": v["collection"],
                "k_id": v["id"],
            }
            for v in rows
        ],
    )


def replica_values(
    cipher: FieldCipher, change: Change, scope: str | None, *, digest: str = ""
) -> dict[str, Any]:
    """The ``records`` columns of a record as a peer sent it (a :class:`Change`): sensitive
    fields (and the keyed hashes it arrived with, under :data:`HASHED`) sealed, the rest in
    ``doc``. ``scope``: the stored scope, kept for a tombstone. A replica's ``digest`` stays
    empty: it only serves the owner's identical-write check, and replicas are never written
    locally."""
    doc: str | None = None
    sealed: bytes | None = None
    if change.record is not None:
        record = dict(change.record)
        sensitive = {k: record.pop(k) for k in SENSITIVE_FIELDS.get(change.type, ()) if k in record}
        if change.hashed:
            sensitive[HASHED] = dict(change.hashed)
        doc = orjson.dumps(record).decode()
        sealed = cipher.seal(change.id, sensitive) if sensitive else None
        scope = change.id if change.type == "organisations" else record.get("organisationId")
    return {
        "collection": change.type,
        "id": change.id,
        "owner": change.owner,
        "scope_org": scope,
        "version": change.version,
        "updated_us": int(time.time() * 1_000_000),
        "deleted": change.deleted,
        "doc": doc,
        "sealed": sealed,
        "citizen_hash": None,
        "digest": digest,
        "orphan": CURRENT,
    }


# -- subtree exits -------------------------------------------------------------------------------
Scopes = dict[Key, tuple[str | None, str | None]]


def _old_scopes(conn: Connection, keys: Iterable[Key]) -> Scopes:
    wanted = list(keys)
    if not wanted:
        return {}
    c = records.c
    rows = conn.execute(
        select(c.collection, c.id, c.scope_org, c.scope_org2).where(
            tuple_(c.collection, c.id).in_(wanted)
        )
    )
    return {(r.collection, r.id): (r.scope_org, r.scope_org2) for r in rows}


def _record_exits(conn: Connection, before: Scopes, after: Scopes) -> None:
    """Remember the records whose scope changed from ``before`` to ``after`` (same keys) at
    their own feed sequence numbers, with the tree path each left (:mod:`._exits`)."""
    moved = [(key, old) for key, old in before.items() if key in after and after[key] != old]
    if not moved:
        return
    orgs = {o for _, old in moved for o in old if o is not None}
    paths = dict(
        conn.execute(select(org_tree.c.id, org_tree.c.path).where(org_tree.c.id.in_(orgs))).all()
    )
    rows = [
        (key, paths[org])
        for key, old in moved
        for org in dict.fromkeys(old)
        if org is not None and org in paths
    ]
    if not rows:
        return
    first, now = reserve(conn, len(rows)), int(time.time() * 1_000_000)
    conn.execute(
        scope_exits.insert(),
        [
            {
                "seq": first + n,
                "collection": coll,
                "record_id": rid,
                "old_path": path,
                "updated_us": now,
            }
            for n, ((coll, rid), path) in enumerate(rows)
        ],
    )


# -- restored peers (spec/federation.md §4.5) ----------------------------------------------------
def replicated_from(peer_hub: str) -> ColumnElement[bool]:
    """Records this hub replicated from ``peer_hub`` (its audit log says so)."""
    a = audit.c
    return (
        select(literal(1))
        .where(
            a.action == "replicate",
            a.request_id == f"sync:{peer_hub}",
            a.collection == records.c.collection,
            a.record_id == records.c.id,
        )
        .exists()
    )


def mark_unseen(conn: Connection, where: ColumnElement[bool]) -> None:
    """The live replicas matching ``where`` are not yet seen again in a re-sync."""
    live = and_(records.c.deleted.is_(False), where)
    f = record_facts.c
    keys = select(records.c.collection, records.c.id).where(live)
    conn.execute(
        update(record_facts).where(tuple_(f.collection, f.id).in_(keys)).values(orphan=UNSEEN)
    )
    conn.execute(update(records).where(live).values(orphan=UNSEEN))


def mark_seen(conn: Connection, keys: Iterable[Key]) -> None:
    """The records ``keys`` are still held by the restored peer: not orphans."""
    ids: dict[str, list[str]] = {}
    for collection, rid in keys:
        ids.setdefault(collection, []).append(rid)
    for collection, wanted in ids.items():
        for table in (records, record_facts):
            t = table.c
            conn.execute(
                update(table)
                .where(t.collection == collection, among(conn, t.id, wanted), t.orphan != CURRENT)
                .values(orphan=CURRENT)
            )


def make_orphans(conn: Connection, keys: Sequence[Key]) -> None:
    """Make the records ``keys`` orphans, each at a new feed sequence number (so the feed
    serves it as a tombstone, ``reason: orphaned``)."""
    if not keys:
        return
    first = reserve(conn, len(keys))
    c = records.c
    conn.execute(
        update(records).where(c.collection == bindparam("k_collection"), c.id == bindparam("k_id")),
        [
            {"k_collection": coll, "k_id": rid, "orphan": ORPHAN, "seq": seq}
            for seq, (coll, rid) in enumerate(keys, start=first)
        ],
    )
    f = record_facts.c
    conn.execute(
        update(record_facts).where(
            f.collection == bindparam("k_collection"), f.id == bindparam("k_id")
        ),
        [{"k_collection": coll, "k_id": rid, "orphan": ORPHAN} for coll, rid in keys],
    )


# -- housekeeping --------------------------------------------------------------------------------
def purge_tombstones(conn: Connection, cutoff_us: int) -> tuple[int, int | None]:
    """Delete tombstones last changed before ``cutoff_us``: how many, and the highest feed
    sequence among them (None when there were none)."""
    old = records.c.deleted.is_(True) & (records.c.updated_us < cutoff_us)
    top = conn.execute(select(func.max(records.c.seq)).where(old)).scalar()
    removed = conn.execute(delete(records).where(old)).rowcount if top else 0
    return removed, top


# -- the bulk insert -----------------------------------------------------------------------------
def insert_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` the fastest way the database offers: COPY on PostgreSQL, the driver's
    ``executemany`` on SQLite (same transaction as ``conn``)."""
    columns = list(rows[0])
    raw: Any = conn.connection.driver_connection
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        stamp = {c for c in columns if isinstance(table.c[c].type, DateTime)}
        raw.executemany(
            f"INSERT INTO {table.name} ({names}) VALUES ({marks})",
            [[_sqlite_value(row[c], c in stamp) for c in columns] for row in rows],
        )
        return
    conn.execute(insert(table), rows)


def _sqlite_value(value: Any, stamp: bool) -> Any:
    # SQLAlchemy stores DateTime on SQLite as 'YYYY-MM-DD HH:MM:SS.ffffff' text; do the same.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if stamp and value is not None else value
