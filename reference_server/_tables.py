"""The hub's database tables (SQLAlchemy Core). Alembic migrations create them; this module is
the description the code queries with and the target ``alembic check`` compares against.

One ``records`` table holds every record type. Each row has one ``owner`` hub (replicas held for
federation have another owner and are read-only) and the server sequence ``seq`` of its last
change: the change feed is ``records`` ordered by ``seq``, deletions stay as tombstones
(``deleted``) until the retention window passes. Sensitive fields are encrypted in ``sealed``;
``citizen_hash`` (a keyed hash) makes one person one member per owner hub.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
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
    text,
)

__all__ = [
    "audit",
    "hub_identity",
    "hub_state",
    "idempotency_batches",
    "idempotency_keys",
    "metadata",
    "nonces",
    "org_tree",
    "peers",
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

hub_identity = Table(
    "hub_identity",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("hub_id", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    #: Random per database: a cursor from another database (or a restored one) is refused.
    Column("epoch", String(32), nullable=False),
    #: Fingerprint of the field-encryption key, to refuse starting with the wrong key.
    Column("key_id", String(32), nullable=False),
    Column("created_at", Stamp, nullable=False),
)

hub_state = Table(
    "hub_state",
    metadata,
    Column("id", Integer, primary_key=True),
    #: The last change sequence handed out; writers lock this row, so seq order = commit order.
    Column("last_seq", BigInteger, nullable=False, server_default=text("0")),
    #: Tombstones up to this sequence have been purged; older cursors are expired.
    Column("purged_seq", BigInteger, nullable=False, server_default=text("0")),
)

records = Table(
    "records",
    metadata,
    Column("collection", String(32), primary_key=True),
    Column("id", String(96), primary_key=True),
    Column("owner", String(32), nullable=False),
    #: The organisation the record belongs to (access control by subtree).
    Column("scope_org", String(96)),
    #: A second organisation for transfers (the receiving one).
    Column("scope_org2", String(96)),
    Column("version", Integer, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    #: The public JSON of the record (no sensitive fields); NULL for tombstones.
    Column("doc", Text),
    #: Encrypted sensitive fields (AES-GCM, bound to the id).
    Column("sealed", LargeBinary),
    Column("citizen_hash", String(64)),
    #: SHA-256 of the submitted content: an identical upsert is "unchanged", not a new version.
    Column("digest", String(64), nullable=False),
    #: A replica's standing after its source peer was restored (``spec/federation.md`` §4.5):
    #: 0 current; 1 not yet seen again in the re-sync that follows the reset; 2 orphan (the
    #: restored peer no longer holds it: kept here, served to this hub's parent as a tombstone).
    Column("orphan", SmallInteger, nullable=False, server_default=text("0")),
    Index("ix_records_seq", "seq", unique=True),
    Index("ix_records_citizen", "owner", "citizen_hash", unique=True),
    Index("ix_records_scope", "collection", "scope_org", "id"),
    Index("ix_records_updated", "collection", "updated_us", "id"),
)

org_tree = Table(
    "org_tree",
    metadata,
    Column("id", String(96), primary_key=True),
    Column("parent_id", String(96)),
    #: Ids from the root down, each followed by ``/``: a subtree is a path prefix.
    Column("path", Text, nullable=False),
    Index("ix_org_tree_path", "path"),
    Index("ix_org_tree_parent_id", "parent_id"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False, server_default=text("''")),
    Column("scopes", String(200), nullable=False),
    Column("organisation_id", String(96)),
    #: Requests per second for this token; NULL = the hub default, 0 = unlimited.
    Column("rate_limit", Float),
    Column("created_at", Stamp, nullable=False),
    Column("revoked_at", Stamp),
    #: The token is refused from this time on; NULL = no expiry.
    Column("expires_at", Stamp),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("at", Stamp, nullable=False),
    Column("token_id", String(32)),
    Column("action", String(16), nullable=False),
    Column("collection", String(32), nullable=False),
    Column("record_id", String(96), nullable=False),
    Column("before_version", Integer),
    Column("after_version", Integer),
    Column("request_id", String(64)),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("created_at", Stamp, nullable=False),
    #: Lines per batch when the key was first used (a retry splits the body the same way).
    Column("batch_lines", Integer, nullable=False),
    Column("done", Boolean, nullable=False, server_default=text("false")),
    #: When done: the number of lines and the SHA-256 of the whole body.
    Column("lines", BigInteger),
    Column("body_hash", String(64)),
)

idempotency_batches = Table(
    "idempotency_batches",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("batch_no", Integer, primary_key=True),
    Column("lines_hash", String(64), nullable=False),
    #: The NDJSON results of the batch's lines, as first sent.
    Column("results", LargeBinary, nullable=False),
)

#: The hubs this hub trusts (``tongxin peer add``): pinned key fingerprints, the last verified
#: key set, what may flow to the peer (policy, link key) and, for children, the feed cursor.
peers = Table(
    "peers",
    metadata,
    Column("hub_id", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    #: ``parent``, ``child`` or ``sibling``.
    Column("relation", String(8), nullable=False),
    #: JSON list of pinned fingerprints.
    Column("pins", Text, nullable=False),
    #: The peer's key set document as last verified (JSON).
    Column("key_set", Text, nullable=False),
    #: The data-minimisation policy applied to what this peer reads (JSON).
    Column("policy", Text, nullable=False),
    #: Hex key of the keyed hashes in that policy.
    Column("link_key", String(64)),
    #: The peer's change-feed cursor, saved in the transaction that applied its changes.
    Column("cursor", String(400)),
    Column("last_success_at", Stamp),
    Column("last_attempt_at", Stamp),
    Column("last_error", Text),
    #: Consecutive failed rounds (backoff).
    Column("failures", Integer, nullable=False, server_default=text("0")),
    #: Changes applied from this peer so far.
    Column("applied", BigInteger, nullable=False, server_default=text("0")),
    #: Times the peer's feed answered 410 ``epoch-changed`` (it was restored) and the last.
    Column("resets", Integer, nullable=False, server_default=text("0")),
    Column("last_reset_at", Stamp),
    #: True from a reset until the re-sync from the start has read the whole feed.
    Column("resyncing", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", Stamp, nullable=False),
    #: When the peer's key set was last fetched and verified (refreshed periodically, so a
    #: revocation takes effect).
    Column("keys_fetched_at", Stamp),
)

#: Changes a peer's feed delivered for records it may not speak for (``spec/federation.md``
#: §4.3): the latest per peer and record, sealed, shown in ``peer list`` and applied later when
#: the record's owner hands it over to that peer (a transfer's receipt reached the old owner).
refused_changes = Table(
    "refused_changes",
    metadata,
    Column("peer_hub", String(32), primary_key=True),
    Column("collection", String(32), primary_key=True),
    Column("record_id", String(96), primary_key=True),
    Column("version", BigInteger, nullable=False),
    #: The owner the change named, and the owner recorded here when it was refused.
    Column("owner", String(32), nullable=False),
    Column("held_owner", String(32)),
    Column("reason", String(32), nullable=False),
    Column("at", Stamp, nullable=False),
    #: The change as delivered (wire JSON), sealed like a record's sensitive fields.
    Column("sealed", LargeBinary, nullable=False),
)

#: Records that left an organisation subtree (their organisation changed, or an organisation
#: above them moved), each at its own feed sequence: a subtree token's change feed turns those
#: that left its subtree into ``moved-out`` tombstones (``spec/api.md`` §7).
scope_exits = Table(
    "scope_exits",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("collection", String(32), nullable=False),
    Column("record_id", String(96), nullable=False),
    #: The tree path of the organisation the record belonged to before it left.
    Column("old_path", Text, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

#: The replay cache of hub-to-hub signatures, shared by all worker processes.
nonces = Table(
    "nonces",
    metadata,
    Column("keyid", String(128), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("expires", BigInteger, nullable=False),
    Index("ix_nonces_expires", "expires"),
)

#: Electronic transfers this hub sent or received (``spec/federation.md`` §3.5): the signed
#: letter, its digest, the state and the whole history, the receipt, and the member snapshot
#: (sealed) that moves with an accepted transfer.
transfer_letters = Table(
    "transfer_letters",
    metadata,
    Column("transfer_id", String(96), primary_key=True),
    #: ``sender`` or ``receiver``.
    Column("role", String(8), nullable=False),
    #: The other hub.
    Column("peer_hub", String(32), nullable=False),
    Column("member_id", String(96), nullable=False),
    #: The signed letter envelope (JSON) and the digest of its body.
    Column("letter", Text, nullable=False),
    Column("letter_digest", String(80), nullable=False),
    Column("state", String(16), nullable=False),
    #: JSON list of steps ``{"state", "message", "at"}``.
    Column("history", Text, nullable=False),
    #: The signed receipt envelope (JSON), once decided.
    Column("receipt", Text),
    #: The member record at issue (all fields, encrypted) and its version.
    Column("member_sealed", LargeBinary, nullable=False),
    Column("member_version", Integer, nullable=False),
    #: Sender: the letter reached the receiving hub; receiver: the receipt reached the sender.
    Column("delivered", Boolean, nullable=False, server_default=text("false")),
    Column("last_error", Text),
    #: The sender's signed withdrawal envelope (JSON), once requested.
    Column("withdrawal", Text),
    #: Failed deliveries of the pending message so far, and when to try again (backoff).
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", Stamp),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    #: The peer's problem (JSON) when it refused the pending message for good: not retried.
    Column("refused", Text),
)

#: The release of Tongxin that last migrated this database and the revision it left (one row):
#: an older release refusing a newer database names the release to install.
schema_software = Table(
    "schema_software",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", String(40), nullable=False),
    Column("revision", String(32), nullable=False),
    Column("migrated_at", Stamp, nullable=False),
)
