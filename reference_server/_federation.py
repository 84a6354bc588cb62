"""The hub's side of federation: its signing keys, the peers it trusts, the shared replay cache,
the change feed served to peers under their policy, and pulling children's feeds into read-only
replicas (``spec/federation.md`` §1, §2, §4, §5).

Every applied page and the peer's new cursor are written in one transaction: a crash at any
point resumes from the last saved cursor, and a page read twice applies as a no-op (§4.3).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from tongxin.federation import (
    Change,
    Decision,
    Entry,
    FederationError,
    FeedPage,
    KeySet,
    KeyStore,
    KeyStoreError,
    PeerPolicy,
    PublicKey,
    SignatureError,
    SigningAuth,
    TrustError,
    authoritative,
    certify_child,
    decide,
    from_problem,
    hub_of_kid,
    key_store_path,
    minimise,
    parse_key_set,
    trust_sibling,
    verify_key_set,
)
from tongxin.schemas import problems

from ._crypto import SENSITIVE_FIELDS
from ._errors import ConfigurationError, Conflict, HubError
from ._exits import old_scopes, record_exits, subtree_exits
from ._hub import Hub
from ._policy import PeerAct, authorize_peer
from ._reads import list_changes
from ._security import Principal
from ._tables import audit, hub_state, nonces, org_tree, peers, records, refused_changes
from ._writes import among, insert_many

__all__ = [
    "HASHED",
    "RELATIONS",
    "DbNonceCache",
    "PeerResolver",
    "SyncError",
    "add_peer",
    "certify",
    "hub_keys",
    "init_keys",
    "list_peers",
    "peer_feed",
    "refresh_key_sets",
    "sync_all",
    "sync_peer",
]

log = logging.getLogger("tongxin.server")
RELATIONS = ("parent", "child", "sibling")
#: Key inside a replica's sealed fields holding the keyed hashes it arrived with.
HASHED = "$hashed"
_REFETCH_SECONDS = 60
_BACKOFF_CAP = 3600
_PAGE = 1000
_CERTIFICATE_SECONDS = 30 * 86_400


def _now() -> datetime:
    return datetime.now(UTC)


def keys_path(hub: Hub) -> Path:
    return key_store_path(hub.settings.database_url)


def init_keys(hub: Hub) -> KeyStore:
    """The hub's key store, created (a current and a next key) when it does not exist."""
    path = keys_path(hub)
    if path.exists():
        return KeyStore.load(path)
    return KeyStore.create(path, hub.hub_id)


def check_key_store(hub: Hub) -> None:
    """Refuse to start on a signing key store that is unusable or readable by other users (a
    hub without one yet has not joined a federation and starts)."""
    path = keys_path(hub)
    if path.exists():
        try:
            KeyStore.load(path)
        except KeyStoreError as error:
            raise ConfigurationError(str(error)) from None


_STORES: dict[Path, tuple[float, KeyStore]] = {}


def hub_keys(hub: Hub) -> KeyStore:
    """The hub's key store, reloaded when the file changes (``tongxin keys rotate``)."""
    path = keys_path(hub)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise Conflict(
            problems.KEYS_MISSING,
            "this hub has no signing keys: run `tongxin init --hub-id ID --name NAME`",
            "本枢纽尚无签名密钥：请运行 tongxin init --hub-id ID --name NAME",
        ) from None
    cached = _STORES.get(path)
    if cached is None or cached[0] != mtime:
        store = KeyStore.load(path)
        store.rotate_if_due()
        cached = (path.stat().st_mtime, store)
        _STORES[path] = cached
    return cached[1]


class DbNonceCache:
    """The replay cache in the hub database: one INSERT per nonce, unique on (keyid, nonce)."""

    def __init__(self, hub: Hub) -> None:
        self._db = hub.db

    def seen(self, keyid: str, nonce: str, expires: int) -> bool:
        try:
            with self._db.writer.begin() as conn:
                conn.execute(delete(nonces).where(nonces.c.expires < int(time.time())))
                conn.execute(insert(nonces).values(keyid=keyid, nonce=nonce, expires=expires))
        except IntegrityError:
            return True
        return False


# -- peers -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Peer:
    hub_id: str
    url: str
    relation: str
    pins: list[str]
    key_set: dict[str, Any]
    policy: dict[str, Any]
    link_key: str | None
    cursor: str | None
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    failures: int
    applied: int
    #: Changes from this peer refused for ownership and not resolved since (§4.3), and the
    #: latest of them; filled by :func:`list_peers`.
    refused: int = 0
    last_refused: dict[str, Any] | None = None
    #: Times this peer's feed answered 410 ``epoch-changed`` (it was restored, §4.5), the
    #: last time, whether the re-sync from the start is still under way, and the replicas
    #: from it that its restored feed no longer holds (orphans; filled by :func:`list_peers`).
    resets: int = 0
    last_reset_at: datetime | None = None
    resyncing: bool = False
    orphans: int = 0

    @classmethod
    def of(cls, row: Any) -> Peer:
        return cls(
            row.hub_id,
            row.url,
            row.relation,
            orjson.loads(row.pins),
            orjson.loads(row.key_set),
            orjson.loads(row.policy),
            row.link_key,
            row.cursor,
            _aware(row.last_success_at),
            _aware(row.last_attempt_at),
            row.last_error,
            row.failures,
            row.applied,
            resets=row.resets,
            last_reset_at=_aware(row.last_reset_at),
            resyncing=bool(row.resyncing),
        )

    def keys(self) -> KeySet:
        return parse_key_set(self.key_set)

    def feed_policy(self) -> PeerPolicy:
        """The peer's policy, minimised unless it says otherwise (§5); a peer stored without a
        link key gets one that links nothing (fresh each time)."""
        key = bytes.fromhex(self.link_key) if self.link_key else secrets.token_bytes(32)
        return PeerPolicy.from_wire(self.policy, key)

    def to_json(self) -> dict[str, Any]:
        lag = None
        if self.last_success_at is not None:
            lag = round((_now() - self.last_success_at).total_seconds(), 1)
        return {
            "hubId": self.hub_id,
            "url": self.url,
            "relation": self.relation,
            "fingerprints": self.pins,
            "policy": self.policy,
            "cursor": self.cursor,
            "lastSuccessAt": _stamp(self.last_success_at),
            "lastAttemptAt": _stamp(self.last_attempt_at),
            "lagSeconds": lag,
            "lastError": self.last_error,
            "failures": self.failures,
            "applied": self.applied,
            "refused": self.refused,
            "lastRefused": self.last_refused,
            "resets": self.resets,
            "lastResetAt": _stamp(self.last_reset_at),
            "resyncing": self.resyncing,
            "orphans": self.orphans,
        }


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def get_peer(hub: Hub, hub_id: str) -> Peer | None:
    with hub.db.read() as conn:
        row = conn.execute(select(peers).where(peers.c.hub_id == hub_id)).first()
    return None if row is None else Peer.of(row)


def list_peers(hub: Hub) -> list[Peer]:
    """Every peer, with its unresolved refused changes (count and the latest)."""
    r = refused_changes.c
    with hub.db.read() as conn:
        rows = conn.execute(select(peers).order_by(peers.c.hub_id)).all()
        refusals = conn.execute(
            select(r.peer_hub, r.collection, r.record_id, r.version, r.owner, r.held_owner)
            .add_columns(r.reason, r.at)
            .order_by(r.at, r.record_id)
        ).all()
        orphans = {
            row.hub_id: conn.execute(
                select(func.count())
                .select_from(records)
                .where(records.c.orphan == _ORPHAN, _replicated_from(row.hub_id))
            ).scalar_one()
            for row in rows
            if row.resets
        }
    counts: dict[str, int] = {}
    latest: dict[str, dict[str, Any]] = {}
    for row in refusals:
        counts[row.peer_hub] = counts.get(row.peer_hub, 0) + 1
        latest[row.peer_hub] = {
            "type": row.collection,
            "id": row.record_id,
            "version": row.version,
            "owner": row.owner,
            "recordedOwner": row.held_owner,
            "reason": row.reason,
            "at": _stamp(_aware(row.at)),
        }
    return [
        dataclasses.replace(
            Peer.of(row),
            refused=counts.get(row.hub_id, 0),
            last_refused=latest.get(row.hub_id),
            orphans=orphans.get(row.hub_id, 0),
        )
        for row in rows
    ]


def _fetch_key_set(url: str, client: httpx.Client | None = None) -> dict[str, Any]:
    own = client is None
    client = client or httpx.Client(timeout=30)
    try:
        response = client.get(url.rstrip("/") + "/.well-known/tongxin/keys")
        response.raise_for_status()
        doc: dict[str, Any] = response.json()
        return doc
    finally:
        if own:
            client.close()


def add_peer(
    hub: Hub,
    url: str,
    relation: str,
    fingerprint: str | None,
    *,
    via: str | None = None,
    link_key: str | None = None,
    policy: dict[str, Any] | None = None,
) -> Peer:
    """Fetch the peer's key set, verify it and store the peer.

    The key set is trusted when a key with ``fingerprint`` signed it, or (a sibling, ``via``
    names our parent peer) when the parent's certificate for the peer vouches for the keys
    that signed it (§1.6). For every relation the default policy drops phone numbers and
    hashes citizen IDs (§5) with ``link_key`` (hex; the parent hands the same one to all its
    children; random otherwise). Only a parent ever reads the feed (``_policy``).
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {', '.join(RELATIONS)}")
    if (fingerprint is None) == (via is None):
        raise ValueError("give either a fingerprint or the parent that certifies the peer")
    doc = _fetch_key_set(url)
    now = int(time.time())
    if via is not None:
        key_set = _certified(hub, via, relation, doc, now)
    else:
        assert fingerprint is not None
        key_set = verify_key_set(doc, [fingerprint], now)
    if key_set.hub_id == hub.hub_id:
        raise ValueError("this is the hub's own key set")
    if policy is None:
        policy = PeerPolicy.upward(b"").to_wire()
    if link_key is None:
        link_key = secrets.token_hex(32)
    values = {
        "url": url.rstrip("/"),
        "relation": relation,
        "pins": orjson.dumps(sorted(key_set.fingerprints())).decode(),
        "key_set": orjson.dumps(doc).decode(),
        "policy": orjson.dumps(policy).decode(),
        "link_key": link_key,
        "keys_fetched_at": _now(),
    }
    with hub.db.write() as conn:
        exists = conn.execute(select(peers.c.hub_id).where(peers.c.hub_id == key_set.hub_id))
        if exists.first() is None:
            conn.execute(insert(peers).values(hub_id=key_set.hub_id, created_at=_now(), **values))
        else:
            conn.execute(update(peers).where(peers.c.hub_id == key_set.hub_id).values(**values))
    peer = get_peer(hub, key_set.hub_id)
    assert peer is not None
    return peer


def _certified(hub: Hub, via: str, relation: str, doc: dict[str, Any], now: int) -> KeySet:
    """A sibling's key set trusted through the certificate of our parent peer ``via``."""
    parent = get_peer(hub, via)
    if parent is None or parent.relation != "parent" or relation != "sibling":
        raise ValueError(f"only a sibling is trusted through a parent, and {via} is not our parent")
    subject = str(doc.get("hubId", ""))
    response = httpx.get(f"{parent.url}/.well-known/tongxin/certificates/{subject}", timeout=30)
    if response.status_code == 404:
        raise TrustError(
            problems.CERTIFICATE_MISSING,
            f"{via} has not certified a hub {subject}",
            f"上级枢纽 {via} 未对 {subject} 出具证书",
        )
    response.raise_for_status()
    return trust_sibling(response.json(), parent.keys(), doc, now)


def certify(hub: Hub, child: str) -> dict[str, Any] | None:
    """This hub's certificate for its child peer ``child`` (§1.6), valid 30 days, vouching for
    the child's currently pinned fingerprints; None when ``child`` is not a child peer."""
    peer = get_peer(hub, child)
    if peer is None or peer.relation != "child":
        return None
    signer = hub_keys(hub).signer()
    return certify_child(
        signer, hub.hub_id, child, peer.pins, int(time.time()), valid_for=_CERTIFICATE_SECONDS
    )


class PeerResolver:
    """Trusted keys of all peers: ``kid`` → the pinned key set of the hub it names. An unknown
    key triggers one refetch of that peer's key set (at most once a minute, §1.3)."""

    def __init__(self, hub: Hub, only: str | None = None) -> None:
        self._hub, self._only = hub, only
        self._fetched: dict[str, float] = {}

    def key(self, kid: str) -> PublicKey | None:
        hub_id = hub_of_kid(kid)
        if self._only is not None and hub_id != self._only:
            return None
        peer = get_peer(self._hub, hub_id)
        if peer is None:
            return None
        found = peer.keys().key(kid)
        if found is None and time.monotonic() - self._fetched.get(hub_id, -1e9) > _REFETCH_SECONDS:
            self._fetched[hub_id] = time.monotonic()
            found = self.refresh(peer).key(kid)
        return found

    def refresh(self, peer: Peer) -> KeySet:
        """Fetch ``peer``'s key set again and keep it when it verifies against the pins."""
        try:
            doc = _fetch_key_set(peer.url)
            key_set = verify_key_set(doc, peer.pins, int(time.time()))
        except (httpx.HTTPError, FederationError, ValueError) as error:
            log.warning("refetching the key set of %s failed: %s", peer.hub_id, error)
            return peer.keys()
        with self._hub.db.write() as conn:
            conn.execute(
                update(peers)
                .where(peers.c.hub_id == peer.hub_id)
                .values(
                    key_set=orjson.dumps(doc).decode(),
                    pins=orjson.dumps(sorted(key_set.fingerprints())).decode(),
                    keys_fetched_at=_now(),
                )
            )
        return key_set


# -- serving the feed to a peer ----------------------------------------------------------------
def peer_feed(
    hub: Hub, peer: Peer, *, after: str | None, limit: int, collections: list[str] | None
) -> tuple[list[dict[str, Any]], str | None, bool]:
    """A page of the change feed as ``peer`` may see it: a parent only (403 otherwise), its
    policy applied (§5)."""
    authorize_peer(peer.hub_id, peer.relation, PeerAct.PULL_FEED)
    principal = Principal(f"peer:{peer.hub_id}", frozenset({"records:read-sensitive"}))
    page = list_changes(
        hub,
        principal,
        after=after,
        limit=limit,
        collections=collections,
        sensitive=True,
        keep_hashed=True,
    )
    policy = peer.feed_policy()
    items: list[dict[str, Any]] = []
    for raw in page.items:
        wire = orjson.loads(raw)
        record = wire.get("record")
        hashed = record.pop(HASHED, None) if isinstance(record, dict) else None
        if hashed:
            wire["hashed"] = hashed
        out = minimise(Change.from_wire(wire), policy)
        if out is not None:
            items.append(out.to_wire())
    return items, page.cursor, page.more


# -- pulling a child's feed --------------------------------------------------------------------
class SyncError(Exception):
    """One peer's round failed; the message is what ``peer list`` shows as its last error."""


class CursorMovedError(Exception):
    """Another process (a second worker, a ``tongxin sync``) applied this page first."""


def _below(hub: Hub, peer_hub: str, conn: Connection | None = None) -> Callable[[str], bool]:
    """Whom the peer ``peer_hub`` may speak for: itself and hubs that are not our own direct
    peers (its descendants, and platforms minting ids below it)."""
    if conn is None:
        with hub.db.read() as reading:
            known = set(reading.execute(select(peers.c.hub_id)).scalars())
    else:
        known = set(conn.execute(select(peers.c.hub_id)).scalars())
    others = known - {peer_hub}

    def may_speak_for(owner: str) -> bool:
        return owner == peer_hub or (owner != hub.hub_id and owner not in others)

    return may_speak_for


def _current(hub: Hub, conn: Connection, change: Change) -> tuple[Entry | None, Any]:
    c = records.c
    row = conn.execute(
        select(c.version, c.owner, c.deleted, c.doc, c.sealed, c.scope_org).where(
            c.collection == change.type, c.id == change.id
        )
    ).first()
    if row is None:
        return None, None
    record: dict[str, Any] | None = None
    hashed: dict[str, str] = {}
    if not row.deleted and row.doc is not None:
        record = orjson.loads(row.doc)
        if row.sealed:
            opened = hub.cipher.open(change.id, row.sealed)
            hashed = opened.pop(HASHED, {})
            record.update(opened)
    return Entry(row.version, row.owner, row.deleted, record, hashed), row


def _values(hub: Hub, change: Change, scope: str | None, seq: int) -> dict[str, Any]:
    """The ``records`` row of a replica: sensitive fields (and the keyed hashes it arrived
    with) sealed, the rest in ``doc``. A replica's ``digest`` stays empty: it only serves the
    owner's identical-write check, and replicas are never written locally."""
    doc: str | None = None
    sealed: bytes | None = None
    if change.record is not None:
        record = dict(change.record)
        sensitive = {k: record.pop(k) for k in SENSITIVE_FIELDS.get(change.type, ()) if k in record}
        if change.hashed:
            sensitive[HASHED] = dict(change.hashed)
        doc = orjson.dumps(record).decode()
        sealed = hub.cipher.seal(change.id, sensitive) if sensitive else None
        scope = change.id if change.type == "organisations" else record.get("organisationId")
    return {
        "collection": change.type,
        "id": change.id,
        "owner": change.owner,
        "scope_org": scope,
        "version": change.version,
        "updated_us": int(time.time() * 1_000_000),
        "seq": seq,
        "deleted": change.deleted,
        "doc": doc,
        "sealed": sealed,
        "citizen_hash": None,
        "digest": "",
        "orphan": _CURRENT,
    }


def _store(hub: Hub, conn: Connection, change: Change, old: Any, seq: int) -> None:
    """Write one replica row (``old``: its current row, or None)."""
    values = _values(hub, change, None if old is None else old.scope_org, seq)
    if old is None:
        conn.execute(insert(records).values(**values))
    else:
        key = (values.pop("collection"), values.pop("id"))
        before = old_scopes(conn, [key])
        record_exits(conn, before, {key: (values["scope_org"], before[key][1])})
        conn.execute(
            update(records)
            .where(records.c.collection == key[0], records.c.id == key[1])
            .values(**values)
        )
    if change.type == "organisations":
        _place(conn, [change])


def _parent(change: Change) -> str | None:
    parent = (change.record or {}).get("parentId")
    return parent if isinstance(parent, str) else None


def _place(conn: Connection, changes: list[Change]) -> None:
    """Keep replicated organisations in the tree (so subtree tokens reach replicas): under
    their parent when it is known, else as roots until it arrives. A page's new organisations
    are read in one query and inserted in one batch; moves (rare) run one by one."""
    if not changes:
        return
    t = org_tree.c
    wanted = {c.id for c in changes} | {p for c in changes if (p := _parent(c))}

    def load() -> dict[str, str]:
        rows = conn.execute(select(t.id, t.path).where(among(conn, t.id, list(wanted))))
        return {row.id: row.path for row in rows}

    paths = load()
    stored = set(paths)
    inserts: dict[str, dict[str, Any]] = {}

    def flush() -> None:
        if inserts:
            insert_many(conn, org_tree, list(inserts.values()))
            stored.update(inserts)
            inserts.clear()

    for change in changes:
        old = paths.get(change.id)
        if change.record is None:
            flush()
            conn.execute(delete(org_tree).where(t.id == change.id))
            paths.pop(change.id, None)
            stored.discard(change.id)
            continue
        parent = _parent(change)
        base = paths.get(parent) if parent else None
        if old is not None and base is not None and base.startswith(old):
            base = None  # never below itself, whatever a peer sends
        new = (base or "") + change.id + "/"
        if change.id not in stored:
            inserts[change.id] = {"id": change.id, "parent_id": parent, "path": new}
            paths[change.id] = new
        elif old is not None and old != new:
            flush()
            conn.execute(update(org_tree).where(t.id == change.id).values(parent_id=parent))
            _move(conn, old, new)
            paths = load()
    flush()
    # children that arrived first, placed as roots, now go under their organisation
    placed = [c.id for c in changes if c.record is not None]
    orphans = conn.execute(
        select(t.id, t.path, t.parent_id).where(
            among(conn, t.parent_id, placed), t.path == t.id + "/"
        )
    ).all()
    for orphan in orphans:
        base = conn.execute(select(t.path).where(t.id == orphan.parent_id)).scalar()
        if base is not None and not base.startswith(orphan.path):
            _move(conn, orphan.path, base + orphan.id + "/")


def _move(conn: Connection, old: str, new: str) -> None:
    if old != new:
        subtree_exits(conn, old, new)
        t = org_tree.c
        conn.execute(
            update(org_tree)
            .where(t.path.startswith(old, autoescape=True))
            .values(path=literal(new) + func.substr(t.path, len(old) + 1))
        )


@dataclass(frozen=True, slots=True)
class _Held:
    """What the decision needs of a local copy before its content (read only on a tie)."""

    version: int
    owner: str
    deleted: bool
    scope_org: str | None
    orphan: int = 0


def _held(conn: Connection, changes: tuple[Change, ...]) -> dict[tuple[str, str], _Held]:
    """The local copies of a page's records, one query per record type."""
    c = records.c
    ids: dict[str, list[str]] = {}
    for change in changes:
        ids.setdefault(change.type, []).append(change.id)
    held: dict[tuple[str, str], _Held] = {}
    for collection, keys in ids.items():
        query = select(c.id, c.version, c.owner, c.deleted, c.scope_org, c.orphan).where(
            c.collection == collection, among(conn, c.id, keys)
        )
        for row in conn.execute(query):
            held[(collection, row.id)] = _Held(
                row.version, row.owner, row.deleted, row.scope_org, row.orphan
            )
    return held


def _verdict(
    hub: Hub,
    conn: Connection,
    change: Change,
    held: _Held | None,
    may_speak_for: Callable[[str], bool],
    source: str,
) -> Decision:
    """:func:`decide` (§4.3) for a change from the peer ``source``, reading the local content
    only when the versions tie."""
    if held is None or held.owner == hub.hub_id or change.owner == hub.hub_id:
        current = None if held is None else Entry(held.version, held.owner, held.deleted, None)
        return decide(
            change, current, local_hub=hub.hub_id, may_speak_for=may_speak_for, source=source
        )
    entry = Entry(held.version, held.owner, held.deleted, None)
    if not authoritative(change, entry, may_speak_for=may_speak_for, source=source):
        return Decision.NOT_AUTHORITATIVE
    if (change.version, change.deleted) != (held.version, held.deleted):
        newer = (change.version, change.deleted) > (held.version, held.deleted)
        return Decision.APPLY if newer else Decision.SKIP
    current, _ = _current(hub, conn, change)
    return decide(change, current, local_hub=hub.hub_id, may_speak_for=may_speak_for, source=source)


def apply_page(hub: Hub, peer: Peer, page: FeedPage) -> int:
    """Apply one page of ``peer``'s feed and save its cursor, in one transaction: one read of
    the local copies, one block of feed sequence numbers, one batched insert and update.

    A change the peer may not deliver (§4.3 rules 1–2) is refused: logged, kept in
    ``refused_changes`` (``peer list`` shows it) and applied later only if the recorded owner
    hands the record over to that peer."""
    may_speak_for = _below(hub, peer.hub_id)
    with hub.db.write() as conn:
        saved = conn.execute(select(peers.c.cursor).where(peers.c.hub_id == peer.hub_id))
        if saved.scalar_one() != peer.cursor:
            raise CursorMovedError(peer.hub_id)
        held = _held(conn, page.changes)
        before = dict(held)
        if peer.resyncing:
            _seen_again(conn, page.changes)
        chosen: dict[tuple[str, str], Change] = {}
        for change in page.changes:
            key = (change.type, change.id)
            verdict = _verdict(hub, conn, change, held.get(key), may_speak_for, peer.hub_id)
            orphan = key in held and held[key].orphan == _ORPHAN
            if (peer.resyncing or orphan) and verdict is Decision.SKIP:
                # the restored owner's record, even at a version it lost: current again
                verdict = _restored(hub, change, held.get(key), may_speak_for)
            if verdict is Decision.APPLY:
                chosen[key] = change
                _hold(held, change)
            elif verdict is not Decision.SKIP:
                _refuse(hub, conn, peer.hub_id, change, held.get(key), verdict)
        if chosen:
            _reconsider(hub, conn, chosen, held)
            _write_replicas(hub, conn, list(chosen.values()), before, peer.hub_id)
        conn.execute(
            update(peers)
            .where(peers.c.hub_id == peer.hub_id)
            .values(cursor=page.cursor, applied=peers.c.applied + len(chosen))
        )
    return len(chosen)


def _hold(held: dict[tuple[str, str], _Held], change: Change) -> None:
    key = (change.type, change.id)
    old = held.get(key)
    scope = None if old is None else old.scope_org
    held[key] = _Held(change.version, change.owner, change.deleted, scope)


def _refuse(
    hub: Hub, conn: Connection, source: str, change: Change, held: _Held | None, why: Decision
) -> None:
    """Log and keep (the latest per peer and record) a change ``source`` may not deliver."""
    log.warning(
        "change %s/%s v%d (owner %s) from %s refused: %s; recorded owner %s",
        change.type,
        change.id,
        change.version,
        change.owner,
        source,
        why.value,
        None if held is None else held.owner,
    )
    r = refused_changes.c
    conn.execute(
        delete(refused_changes).where(
            r.peer_hub == source, r.collection == change.type, r.record_id == change.id
        )
    )
    conn.execute(
        insert(refused_changes).values(
            peer_hub=source,
            collection=change.type,
            record_id=change.id,
            version=change.version,
            owner=change.owner,
            held_owner=None if held is None else held.owner,
            reason=why.value,
            at=_now(),
            sealed=hub.cipher.seal(change.id, change.to_wire()),
        )
    )


def _reconsider(
    hub: Hub,
    conn: Connection,
    chosen: dict[tuple[str, str], Change],
    held: dict[tuple[str, str], _Held],
) -> None:
    """Changes refused earlier from other peers for records this page changes: a record handed
    over to a peer (its old owner's feed says so) takes that peer's refused newer change; a
    refused change now stale is resolved; the others stay refused."""
    r = refused_changes.c
    rows = conn.execute(
        select(r.peer_hub, r.collection, r.record_id, r.sealed)
        .where(among(conn, r.record_id, [k[1] for k in chosen]))
        .order_by(r.version)
    ).all()
    for row in rows:
        key = (row.collection, row.record_id)
        if key not in chosen:
            continue
        change = Change.from_wire(hub.cipher.open(row.record_id, row.sealed))
        speaks = _below(hub, row.peer_hub, conn)
        verdict = _verdict(hub, conn, change, held.get(key), speaks, row.peer_hub)
        if verdict is Decision.APPLY:
            chosen[key] = change
            _hold(held, change)
        if verdict in (Decision.APPLY, Decision.SKIP):
            conn.execute(
                delete(refused_changes).where(
                    r.peer_hub == row.peer_hub,
                    r.collection == row.collection,
                    r.record_id == row.record_id,
                )
            )


def _write_replicas(
    hub: Hub,
    conn: Connection,
    changes: list[Change],
    existing: dict[tuple[str, str], _Held],
    source: str,
) -> None:
    """Store the chosen changes at a new block of feed sequence numbers, each with an audit
    entry (action ``replicate``, ``request_id`` ``sync:<peer>``)."""
    top = conn.execute(
        update(hub_state)
        .where(hub_state.c.id == 1)
        .values(last_seq=hub_state.c.last_seq + len(changes))
        .returning(hub_state.c.last_seq)
    ).scalar_one()
    new_rows: list[dict[str, Any]] = []
    old_rows: list[dict[str, Any]] = []
    for seq, change in enumerate(changes, start=top - len(changes) + 1):
        old = existing.get((change.type, change.id))
        values = _values(hub, change, None if old is None else old.scope_org, seq)
        (new_rows if old is None else old_rows).append(values)
    if new_rows:
        insert_many(conn, records, new_rows)
    if old_rows:
        keys = [(row["collection"], row["id"]) for row in old_rows]
        before = old_scopes(conn, keys)
        record_exits(
            conn,
            before,
            {
                (r["collection"], r["id"]): (r["scope_org"], before[(r["collection"], r["id"])][1])
                for r in old_rows
                if (r["collection"], r["id"]) in before
            },
        )
        conn.execute(
            update(records).where(
                records.c.collection == bindparam("k_collection"),
                records.c.id == bindparam("k_id"),
            ),
            [
                {
                    **{k: v for k, v in row.items() if k not in ("collection", "id")},
                    "k_collection": row["collection"],
                    "k_id": row["id"],
                }
                for row in old_rows
            ],
        )
    _place(conn, [c for c in changes if c.type == "organisations"])
    now, request = _now(), f"sync:{source}"
    entries = []
    for change in changes:
        old = existing.get((change.type, change.id))
        entries.append(
            {
                "at": now,
                "token_id": None,
                "action": "replicate",
                "collection": change.type,
                "record_id": change.id,
                "before_version": None if old is None else old.version,
                "after_version": change.version,
                "request_id": request,
            }
        )
    insert_many(conn, audit, entries)


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        error = from_problem(body)
        return f"{response.status_code} {error.code}: {error.detail_en}"
    except (ValueError, TypeError, AttributeError):
        return f"{response.status_code} {response.reason_phrase}"


def sync_peer(
    hub: Hub, peer: Peer, *, transport: httpx.BaseTransport | None = None, max_pages: int = 0
) -> int:
    """Pull ``peer``'s feed until it is exhausted; the number of changes applied."""
    store = hub_keys(hub)
    auth = SigningAuth(
        store.signer(), verify_with=PeerResolver(hub, only=peer.hub_id), nonces=DbNonceCache(hub)
    )
    total = pages = 0
    reset = False
    with httpx.Client(auth=auth, timeout=60, transport=transport) as client:
        while True:
            params: dict[str, Any] = {"limit": _PAGE}
            if peer.cursor:
                params["after"] = peer.cursor
            try:
                response = client.get(peer.url + "/v1/changes", params=params)
            except SignatureError as error:
                raise SyncError(f"response {error.code}: {error.detail_en}") from None
            except httpx.HTTPError as error:
                raise SyncError(f"unreachable: {error}") from None
            if response.status_code == 410 and _code(response) == "epoch-changed" and not reset:
                reset = True  # once a round: a feed that keeps answering so is an error
                peer = reset_peer(hub, peer)
                continue
            if response.status_code != 200:
                raise SyncError(_problem(response))
            page = FeedPage.from_wire(response.json())
            try:
                total += apply_page(hub, peer, page)
            except CursorMovedError:
                return total  # the other puller carries on from its cursor
            pages += 1
            if not page.more and peer.resyncing:
                finish_resync(hub, peer)
            peer = get_peer(hub, peer.hub_id) or peer
            if not page.more or (max_pages and pages >= max_pages):
                return total


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("code")) if isinstance(body, dict) else None


# -- restored peers (§4.5) ---------------------------------------------------------------------
_CURRENT, _UNSEEN, _ORPHAN = 0, 1, 2


def _replicated_from(peer_hub: str) -> Any:
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


def reset_peer(hub: Hub, peer: Peer) -> Peer:
    """The peer's feed answered 410 ``epoch-changed``: it was restored from a backup (or its
    database replaced). Start its feed again from the beginning, count the reset, and mark
    every live replica this hub took from it as not yet seen again; the re-sync clears the
    mark of each record the restored feed still holds (:func:`finish_resync`)."""
    log.warning(
        "peer %s started a new feed epoch (restored): re-syncing from the start", peer.hub_id
    )
    may_speak_for = _below(hub, peer.hub_id)
    c = records.c
    with hub.db.write() as conn:
        owners = [
            o
            for o in conn.execute(select(c.owner).distinct()).scalars()
            if o != hub.hub_id and may_speak_for(o)
        ]
        if owners:
            conn.execute(
                update(records)
                .where(
                    among(conn, c.owner, owners),
                    c.deleted.is_(False),
                    _replicated_from(peer.hub_id),
                )
                .values(orphan=_UNSEEN)
            )
        conn.execute(
            update(peers)
            .where(peers.c.hub_id == peer.hub_id)
            .values(
                cursor=None,
                resets=peers.c.resets + 1,
                last_reset_at=_now(),
                resyncing=True,
            )
        )
    return get_peer(hub, peer.hub_id) or peer


def _seen_again(conn: Connection, changes: tuple[Change, ...]) -> None:
    """The records of a re-sync page are still held by the restored peer: not orphans."""
    c = records.c
    ids: dict[str, list[str]] = {}
    for change in changes:
        ids.setdefault(change.type, []).append(change.id)
    for collection, keys in ids.items():
        conn.execute(
            update(records)
            .where(c.collection == collection, among(conn, c.id, keys), c.orphan != _CURRENT)
            .values(orphan=_CURRENT)
        )


def _restored(
    hub: Hub, change: Change, held: _Held | None, may_speak_for: Callable[[str], bool]
) -> Decision:
    """During the re-sync of a restored peer its own records are taken as it now holds them,
    even at a version not above ours: what it wrote after the restore may reuse the version
    numbers the lost history had used, and must not be missed."""
    if (
        held is not None
        and held.owner == change.owner
        and change.owner != hub.hub_id
        and may_speak_for(change.owner)
    ):
        return Decision.APPLY
    return Decision.SKIP


def finish_resync(hub: Hub, peer: Peer) -> int:
    """The re-sync of a restored peer has read its whole feed: the replicas it did not send
    again become orphans. Each gets a new feed sequence number, so this hub's own feed serves
    it as a tombstone (``reason: orphaned``) and its parent learns of the loss too; the row is
    kept (``peer list`` counts it) until the peer sends the record again. The number of new
    orphans."""
    c = records.c
    with hub.db.write() as conn:
        unseen = conn.execute(
            select(c.collection, c.id)
            .where(c.orphan == _UNSEEN, _replicated_from(peer.hub_id))
            .order_by(c.seq)
        ).all()
        if unseen:
            top = conn.execute(
                update(hub_state)
                .where(hub_state.c.id == 1)
                .values(last_seq=hub_state.c.last_seq + len(unseen))
                .returning(hub_state.c.last_seq)
            ).scalar_one()
            conn.execute(
                update(records).where(
                    c.collection == bindparam("k_collection"), c.id == bindparam("k_id")
                ),
                [
                    {"k_collection": row.collection, "k_id": row.id, "orphan": _ORPHAN, "seq": seq}
                    for seq, row in enumerate(unseen, start=top - len(unseen) + 1)
                ],
            )
        conn.execute(update(peers).where(peers.c.hub_id == peer.hub_id).values(resyncing=False))
    if unseen:
        log.warning(
            "peer %s no longer holds %d records replicated from it: kept as orphans",
            peer.hub_id,
            len(unseen),
        )
    return len(unseen)


def _record(hub: Hub, peer: Peer, error: str | None) -> None:
    now = _now()
    values: dict[str, Any] = {"last_attempt_at": now, "last_error": error}
    if error is None:
        values.update(last_success_at=now, failures=0)
    else:
        values["failures"] = peers.c.failures + 1
    with hub.db.write() as conn:
        conn.execute(update(peers).where(peers.c.hub_id == peer.hub_id).values(**values))


def due(peer: Peer, now: datetime | None = None) -> bool:
    """False while the peer is backing off after failures (2^failures s, capped at an hour)."""
    if not peer.failures or peer.last_attempt_at is None:
        return True
    wait = min(_BACKOFF_CAP, 2**peer.failures)
    return bool(((now or _now()) - peer.last_attempt_at).total_seconds() >= wait)


def sync_all(
    hub: Hub, *, respect_backoff: bool = False, hinted: frozenset[str] = frozenset()
) -> dict[str, str | None]:
    """One round with every child peer: ``{hub id: None or the error}``. A peer that has just
    sent a hint (``hinted``) is up, so it is pulled even while backing off."""
    results: dict[str, str | None] = {}
    for peer in list_peers(hub):
        waiting = respect_backoff and not due(peer) and peer.hub_id not in hinted
        if peer.relation != "child" or waiting:
            continue
        try:
            sync_peer(hub, peer)
            error = None
        except (SyncError, HubError, FederationError) as failure:
            error = str(failure)
        except Exception as failure:  # keep the other peers going
            log.exception("sync with %s failed", peer.hub_id)
            error = f"internal error: {failure}"
        _record(hub, peer, error)
        results[peer.hub_id] = error
    return results


def refresh_key_sets(hub: Hub, older_than: float) -> None:
    """Fetch again every peer key set older than ``older_than`` seconds (§1.3): rotations are
    followed and revocations take effect without waiting for an unknown key."""
    resolver = PeerResolver(hub)
    with hub.db.read() as conn:
        rows = conn.execute(select(peers.c.hub_id, peers.c.keys_fetched_at)).all()
    for row in rows:
        fetched = _aware(row.keys_fetched_at)
        if fetched is None or (_now() - fetched).total_seconds() >= older_than:
            peer = get_peer(hub, row.hub_id)
            if peer is not None:
                resolver.refresh(peer)
