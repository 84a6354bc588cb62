"""The hub's database tables as SQLModel table models: one typed row class per table.

Alembic migrations create the tables; these models are the description the code queries with
and the target ``alembic check`` compares against (``tests/server/test_migrations.py`` proves
they match a migrated SQLite and PostgreSQL database). Code that reads or shows one row at a
time (the console, adapters, tests) uses the row classes (``RecordRow.model_validate(row)``);
the write engine, the feed and the bulk path use SQLAlchemy Core on each model's ``__table__``,
exported here under the table's name (``records``, ``peers``, ...), so a bulk insert or a
PostgreSQL ``COPY`` costs nothing more (``docs/architecture.md``).

One ``records`` table holds every record type. Each row has one ``owner`` hub (replicas held for
federation have another owner and are read-only) and the server sequence ``seq`` of its last
change: the change feed is ``records`` ordered by ``seq``, deletions stay as tombstones
(``deleted``) until the retention window passes. Sensitive fields are encrypted in ``sealed``;
``citizen_hash`` (a keyed hash) makes one person one member per owner hub.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    cast,
    func,
    literal,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel

__all__ = [
    "TRIGRAM_INDEX",
    "AuditRow",
    "HubIdentityRow",
    "HubStateRow",
    "IdempotencyBatchRow",
    "IdempotencyKeyRow",
    "NonceRow",
    "OrgTreeRow",
    "PeerRow",
    "RecordFactRow",
    "RecordRow",
    "RefusedChangeRow",
    "SchemaSoftwareRow",
    "ScopeExitRow",
    "TokenRow",
    "TransferLetterRow",
    "audit",
    "fact_kind",
    "hub_identity",
    "hub_state",
    "idempotency_batches",
    "idempotency_keys",
    "json_field",
    "metadata",
    "name_contains",
    "nonces",
    "org_tree",
    "peers",
    "record_facts",
    "records",
    "refused_changes",
    "schema_software",
    "scope_exits",
    "tokens",
    "transfer_letters",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)
#: Auto-incrementing 64-bit keys (SQLite needs INTEGER for its rowid alias).
BigId = BigInteger().with_variant(Integer(), "sqlite")
Stamp = DateTime(timezone=True)


class HubTable(SQLModel, registry=registry(metadata=metadata)):
    """The base of the hub's table models: their own metadata, with the naming convention the
    migrations use, apart from any other SQLModel tables in the process."""


def _col(sa_type: Any, *, server_default: str | None = None, **kwargs: Any) -> Any:
    """A column of ``sa_type``; ``server_default`` is SQL text the database fills in."""
    if server_default is not None:
        kwargs["sa_column_kwargs"] = {"server_default": text(server_default)}
    return Field(sa_type=sa_type, **kwargs)


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


class HubIdentityRow(HubTable, table=True):
    __tablename__ = "hub_identity"

    id: int = Field(primary_key=True)
    hub_id: str = _col(String(32))
    name: str = _col(String(200))
    #: Random per database: a cursor from another database (or a restored one) is refused.
    epoch: str = _col(String(32))
    #: Fingerprint of the field-encryption key, to refuse starting with the wrong key.
    key_id: str = _col(String(32))
    created_at: datetime = _col(Stamp)


class HubStateRow(HubTable, table=True):
    __tablename__ = "hub_state"

    id: int = Field(primary_key=True)
    #: The last change sequence handed out; writers lock this row, so seq order = commit order.
    last_seq: int = _col(BigInteger, server_default="0")
    #: Tombstones up to this sequence have been purged; older cursors are expired.
    purged_seq: int = _col(BigInteger, server_default="0")


class RecordRow(HubTable, table=True):
    __tablename__ = "records"
    __table_args__ = (
        Index("ix_records_seq", "seq", unique=True),
        Index("ix_records_citizen", "owner", "citizen_hash", unique=True),
        Index("ix_records_scope", "collection", "scope_org", "id"),
        Index("ix_records_updated", "collection", "updated_us", "id"),
    )

    collection: str = _col(String(32), primary_key=True)
    id: str = _col(String(96), primary_key=True)
    owner: str = _col(String(32))
    #: The organisation the record belongs to (access control by subtree).
    scope_org: str | None = _col(String(96), default=None)
    #: A second organisation for transfers (the receiving one).
    scope_org2: str | None = _col(String(96), default=None)
    version: int = _col(Integer)
    updated_us: int = _col(BigInteger)
    seq: int = _col(BigInteger)
    deleted: bool = _col(Boolean, server_default="false")
    #: The public JSON of the record (no sensitive fields); NULL for tombstones.
    doc: str | None = _col(Text, default=None)
    #: Encrypted sensitive fields (AES-GCM, bound to the id).
    sealed: bytes | None = _col(LargeBinary, default=None)
    citizen_hash: str | None = _col(String(64), default=None)
    #: SHA-256 of the submitted content: an identical upsert is "unchanged", not a new version.
    digest: str = _col(String(64))
    #: A replica's standing after its source peer was restored (``spec/federation.md`` §4.5):
    #: 0 current; 1 not yet seen again in the re-sync that follows the reset; 2 orphan (the
    #: restored peer no longer holds it: kept here, served to this hub's parent as a tombstone).
    orphan: int = _col(SmallInteger, server_default="0")


def _partial(name: str, where: str, keys: tuple[str, ...], include: tuple[str, ...]) -> Index:
    """An index of the rows ``where`` holds (SQLite and PostgreSQL); on PostgreSQL it carries
    the ``include`` columns beside its ``keys``."""
    return Index(
        name,
        *keys,
        postgresql_where=text(where),
        postgresql_include=list(include),
        sqlite_where=text(where),
    )


#: The trigram index (``pg_trgm``, GIN) on ``record_facts.name`` that migration 0019 creates on
#: PostgreSQL where the extension is available: outside the models, as it may be absent.
TRIGRAM_INDEX = "ix_record_facts_name_trgm"


class RecordFactRow(HubTable, table=True):
    """The fields statistics and lists group, filter and sort by, one typed row per live
    record (``records`` row not deleted, with a document): a narrow projection of the stored
    documents, so a count over half a million members reads no JSON. The record store
    (``_store.py``) writes it in the same transaction as ``records`` (the bulk path with
    ``COPY`` too); each column is the document field of the same name as text (as
    :func:`json_field` gives it), whatever the collection, NULL when absent
    (``docs/architecture.md``)."""

    __tablename__ = "record_facts"
    __table_args__ = (
        #: Counts within a subtree read this index alone (``scope_org2`` for ``count=true``).
        Index("ix_record_facts_scope", "collection", "scope_org", "orphan", "scope_org2"),
        Index("ix_record_facts_name", "collection", "name", "id"),
        Index("ix_record_facts_member_id", "collection", "member_id"),
        # Partial indexes of one collection each, for the statistics (``_stats.py``): on
        # PostgreSQL they also carry (INCLUDE) every column the statistics read, so a count
        # over the members reads only the members' index entries (an index-only scan), not
        # the table where they lie among the dues payments. Queries name the collection as a
        # literal, so that the database matches the index's condition.
        _partial(
            "ix_record_facts_members",
            "collection = 'members'",
            ("scope_org",),
            ("orphan", "status", "category", "gender", "birth_date", "education", "ethnicity"),
        ),
        _partial(
            "ix_record_facts_probation",
            "collection = 'members' AND category = 'probationary'",
            ("joined_date", "id"),
            ("scope_org", "orphan", "status", "name"),
        ),
        _partial(
            "ix_record_facts_dues",
            "collection = 'duesPayments'",
            ("period", "member_id"),
            ("orphan",),
        ),
        #: The console's member list: its pages in name order and its totals (by part of a
        #: name too) from this narrow index alone, without reading the table. On PostgreSQL,
        #: migration 0019 adds ``ix_record_facts_name_trgm`` (``pg_trgm``) where the extension
        #: is available, for searches of three characters or more (:data:`TRIGRAM_INDEX`).
        Index(
            "ix_record_facts_member_names", "name", "id", "scope_org", "orphan",
            postgresql_where=text("collection = 'members'"),
            sqlite_where=text("collection = 'members'"),
        ),
    )  # fmt: skip

    collection: str = _col(String(32), primary_key=True)
    id: str = _col(String(96), primary_key=True)
    #: ``records.scope_org``, ``scope_org2``, ``orphan`` and ``updated_us`` of the record.
    scope_org: str | None = _col(String(96), default=None)
    scope_org2: str | None = _col(String(96), default=None)
    orphan: int = _col(SmallInteger, server_default="0")
    updated_us: int = _col(BigInteger)
    #: Members and organisations.
    name: str | None = _col(Text, default=None)
    #: Members.
    status: str | None = _col(Text, default=None)
    category: str | None = _col(Text, default=None)
    gender: str | None = _col(Text, default=None)
    birth_date: str | None = _col(Text, default=None)
    education: str | None = _col(Text, default=None)
    ethnicity: str | None = _col(Text, default=None)
    joined_date: str | None = _col(Text, default=None)
    #: Organisations (type, committee election and term) and activities (type, ``startTime``'s
    #: day).
    type: str | None = _col(Text, default=None)
    elected_date: str | None = _col(Text, default=None)
    term_years: int | None = _col(Integer, default=None)
    start_day: str | None = _col(Text, default=None)
    #: Dues payments.
    period: str | None = _col(Text, default=None)
    member_id: str | None = _col(Text, default=None)
    #: Transfers.
    state: str | None = _col(Text, default=None)
    issued_date: str | None = _col(Text, default=None)


class OrgTreeRow(HubTable, table=True):
    __tablename__ = "org_tree"
    __table_args__ = (
        Index("ix_org_tree_path", "path"),
        Index("ix_org_tree_parent_id", "parent_id"),
    )

    id: str = _col(String(96), primary_key=True)
    parent_id: str | None = _col(String(96), default=None)
    #: Ids from the root down, each followed by ``/``: a subtree is a path prefix.
    path: str = _col(Text)


class TokenRow(HubTable, table=True):
    __tablename__ = "tokens"

    id: str = _col(String(32), primary_key=True)
    secret_hash: str = _col(String(64), unique=True)
    name: str = _col(String(200), server_default="''")
    scopes: str = _col(String(200))
    organisation_id: str | None = _col(String(96), default=None)
    #: Requests per second for this token; NULL = the hub default, 0 = unlimited.
    rate_limit: float | None = _col(Float, default=None)
    created_at: datetime = _col(Stamp)
    revoked_at: datetime | None = _col(Stamp, default=None)
    #: The token is refused from this time on; NULL = no expiry.
    expires_at: datetime | None = _col(Stamp, default=None)


class AuditRow(HubTable, table=True):
    __tablename__ = "audit"

    seq: int | None = _col(
        BigId, default=None, primary_key=True, sa_column_kwargs={"autoincrement": True}
    )
    at: datetime = _col(Stamp)
    token_id: str | None = _col(String(32), default=None)
    action: str = _col(String(16))
    collection: str = _col(String(32))
    record_id: str = _col(String(96))
    before_version: int | None = _col(Integer, default=None)
    after_version: int | None = _col(Integer, default=None)
    request_id: str | None = _col(String(64), default=None)


class IdempotencyKeyRow(HubTable, table=True):
    __tablename__ = "idempotency_keys"

    token_id: str = _col(String(32), primary_key=True)
    key: str = _col(String(255), primary_key=True)
    created_at: datetime = _col(Stamp)
    #: Lines per batch when the key was first used (a retry splits the body the same way).
    batch_lines: int = _col(Integer)
    done: bool = _col(Boolean, server_default="false")
    #: When done: the number of lines and the SHA-256 of the whole body.
    lines: int | None = _col(BigInteger, default=None)
    body_hash: str | None = _col(String(64), default=None)


class IdempotencyBatchRow(HubTable, table=True):
    __tablename__ = "idempotency_batches"

    token_id: str = _col(String(32), primary_key=True)
    key: str = _col(String(255), primary_key=True)
    batch_no: int = _col(Integer, primary_key=True)
    lines_hash: str = _col(String(64))
    #: The NDJSON results of the batch's lines, as first sent.
    results: bytes = _col(LargeBinary)


class PeerRow(HubTable, table=True):
    """The hubs this hub trusts (``tongxin peer add``): pinned key fingerprints, the last
    verified key set, what may flow to the peer (policy, link key) and, for children, the feed
    cursor."""

    __tablename__ = "peers"

    hub_id: str = _col(String(32), primary_key=True)
    url: str = _col(Text)
    #: ``parent``, ``child`` or ``sibling``.
    relation: str = _col(String(8))
    #: JSON list of pinned fingerprints.
    pins: str = _col(Text)
    #: The peer's key set document as last verified (JSON).
    key_set: str = _col(Text)
    #: The data-minimisation policy applied to what this peer reads (JSON).
    policy: str = _col(Text)
    #: Hex key of the keyed hashes in that policy.
    link_key: str | None = _col(String(64), default=None)
    #: The peer's change-feed cursor, saved in the transaction that applied its changes.
    cursor: str | None = _col(String(400), default=None)
    last_success_at: datetime | None = _col(Stamp, default=None)
    last_attempt_at: datetime | None = _col(Stamp, default=None)
    last_error: str | None = _col(Text, default=None)
    #: Consecutive failed rounds (backoff).
    failures: int = _col(Integer, server_default="0")
    #: Changes applied from this peer so far.
    applied: int = _col(BigInteger, server_default="0")
    #: Times the peer's feed answered 410 ``epoch-changed`` (it was restored) and the last.
    resets: int = _col(Integer, server_default="0")
    last_reset_at: datetime | None = _col(Stamp, default=None)
    #: True from a reset until the re-sync from the start has read the whole feed.
    resyncing: bool = _col(Boolean, server_default="false")
    created_at: datetime = _col(Stamp)
    #: When the peer's key set was last fetched and verified (refreshed periodically, so a
    #: revocation takes effect).
    keys_fetched_at: datetime | None = _col(Stamp, default=None)


class RefusedChangeRow(HubTable, table=True):
    """Changes a peer's feed delivered for records it may not speak for
    (``spec/federation.md`` §4.3): the latest per peer and record, sealed, shown in
    ``peer list`` and applied later when the record's owner hands it over to that peer (a
    transfer's receipt reached the old owner)."""

    __tablename__ = "refused_changes"

    peer_hub: str = _col(String(32), primary_key=True)
    collection: str = _col(String(32), primary_key=True)
    record_id: str = _col(String(96), primary_key=True)
    version: int = _col(BigInteger)
    #: The owner the change named, and the owner recorded here when it was refused.
    owner: str = _col(String(32))
    held_owner: str | None = _col(String(32), default=None)
    reason: str = _col(String(32))
    at: datetime = _col(Stamp)
    #: The change as delivered (wire JSON), sealed like a record's sensitive fields.
    sealed: bytes = _col(LargeBinary)


class ScopeExitRow(HubTable, table=True):
    """Records that left an organisation subtree (their organisation changed, or an
    organisation above them moved), each at its own feed sequence: a subtree token's change
    feed turns those that left its subtree into ``moved-out`` tombstones (``spec/api.md``
    §7)."""

    __tablename__ = "scope_exits"

    seq: int = _col(BigInteger, primary_key=True)
    collection: str = _col(String(32))
    record_id: str = _col(String(96))
    #: The tree path of the organisation the record belonged to before it left.
    old_path: str = _col(Text)
    updated_us: int = _col(BigInteger)


class NonceRow(HubTable, table=True):
    """The replay cache of hub-to-hub signatures, shared by all worker processes."""

    __tablename__ = "nonces"
    __table_args__ = (Index("ix_nonces_expires", "expires"),)

    keyid: str = _col(String(128), primary_key=True)
    nonce: str = _col(String(128), primary_key=True)
    expires: int = _col(BigInteger)


class TransferLetterRow(HubTable, table=True):
    """Electronic transfers this hub sent or received (``spec/federation.md`` §3.5): the signed
    letter, its digest, the state and the whole history, the receipt, and the member snapshot
    (sealed) that moves with an accepted transfer."""

    __tablename__ = "transfer_letters"

    transfer_id: str = _col(String(96), primary_key=True)
    #: ``sender`` or ``receiver``.
    role: str = _col(String(8))
    #: The other hub.
    peer_hub: str = _col(String(32))
    member_id: str = _col(String(96))
    #: The signed letter envelope (JSON) and the digest of its body.
    letter: str = _col(Text)
    letter_digest: str = _col(String(80))
    state: str = _col(String(16))
    #: JSON list of steps ``{"state", "message", "at"}``.
    history: str = _col(Text)
    #: The signed receipt envelope (JSON), once decided.
    receipt: str | None = _col(Text, default=None)
    #: The member record at issue (all fields, encrypted) and its version.
    member_sealed: bytes = _col(LargeBinary)
    member_version: int = _col(Integer)
    #: Sender: the letter reached the receiving hub; receiver: the receipt reached the sender.
    delivered: bool = _col(Boolean, server_default="false")
    last_error: str | None = _col(Text, default=None)
    #: The sender's signed withdrawal envelope (JSON), once requested.
    withdrawal: str | None = _col(Text, default=None)
    #: Failed deliveries of the pending message so far, and when to try again (backoff).
    attempts: int = _col(Integer, server_default="0")
    next_attempt_at: datetime | None = _col(Stamp, default=None)
    created_at: datetime = _col(Stamp)
    updated_at: datetime = _col(Stamp)
    #: The peer's problem (JSON) when it refused the pending message for good: not retried.
    refused: str | None = _col(Text, default=None)


class SchemaSoftwareRow(HubTable, table=True):
    """The release of Tongxin that last migrated this database and the revision it left (one
    row): an older release refusing a newer database names the release to install."""

    __tablename__ = "schema_software"

    id: int = Field(primary_key=True)
    version: str = _col(String(40))
    revision: str = _col(String(32))
    migrated_at: datetime = _col(Stamp)


# The Core tables, for queries, bulk inserts and COPY.
hub_identity = _table(HubIdentityRow)
hub_state = _table(HubStateRow)
records = _table(RecordRow)
record_facts = _table(RecordFactRow)
org_tree = _table(OrgTreeRow)
tokens = _table(TokenRow)
audit = _table(AuditRow)
idempotency_keys = _table(IdempotencyKeyRow)
idempotency_batches = _table(IdempotencyBatchRow)
peers = _table(PeerRow)
refused_changes = _table(RefusedChangeRow)
scope_exits = _table(ScopeExitRow)
nonces = _table(NonceRow)
transfer_letters = _table(TransferLetterRow)
schema_software = _table(SchemaSoftwareRow)


def json_field(dialect: str, name: str, source: Any = None) -> ColumnElement[Any]:
    """A top-level field of a stored record's document, as text, in either dialect."""
    doc = records.c.doc if source is None else source
    if dialect == "sqlite":
        return func.json_extract(doc, f"$.{name}")
    return func.jsonb_extract_path_text(cast(doc, JSONB), name)


def fact_kind(collection: str) -> ColumnElement[bool]:
    """``record_facts.collection = '<collection>'`` with the name written into the statement,
    not bound: a prepared statement's generic plan then still matches the partial index
    ``ix_record_facts_member_names`` (``WHERE collection = 'members'``)."""
    return record_facts.c.collection == literal(collection, String(32), literal_execute=True)


def name_contains(part: str) -> ColumnElement[bool]:
    """``record_facts.name`` contains ``part`` (``LIKE`` with ``%`` and ``_`` escaped). The
    pattern is written into the statement, not bound, so PostgreSQL plans each search for its
    own pattern: a pattern of one or two characters has no trigram (``pg_trgm``) and reads the
    name index in order; a generic plan would read the whole trigram index for it."""
    escaped = part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = literal(f"%{escaped}%", Text(), literal_execute=True)
    return record_facts.c.name.like(pattern, escape="\\")
