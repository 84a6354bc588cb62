"""The peers a hub trusts and its own signing keys (``spec/federation.md`` §1, §2): the key
store (cached on the hub, reloaded when ``tongxin keys rotate`` rewrites it), the shared replay
cache, adding and listing peers, certificates for children, and the pinned key sets of peers
with their refetch (an unknown key, or a key set older than the refresh period)."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tongxin.federation import (
    FederationError,
    KeySet,
    KeyStore,
    KeyStoreError,
    PeerPolicy,
    PublicKey,
    TrustError,
    certify_child,
    hub_of_kid,
    key_store_path,
    parse_key_set,
    trust_sibling,
    verify_key_set,
)
from tongxin.schemas import problems

from ._errors import ConfigurationError, Conflict
from ._hub import Hub
from ._store import ORPHAN, replicated_from
from ._tables import nonces, peers, records, refused_changes

__all__ = [
    "RELATIONS",
    "DbNonceCache",
    "Peer",
    "PeerResolver",
    "add_peer",
    "certify",
    "check_key_store",
    "get_peer",
    "hub_keys",
    "init_keys",
    "keys_path",
    "list_peers",
    "refresh_key_sets",
]

log = logging.getLogger("tongxin.server")
RELATIONS = ("parent", "child", "sibling")
_REFETCH_SECONDS = 60
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
    cached = hub.state.key_store
    if cached is None or cached[0] != mtime:
        store = KeyStore.load(path)
        store.rotate_if_due()
        cached = (path.stat().st_mtime, store)
        hub.state.key_store = cached
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
                .where(records.c.orphan == ORPHAN, replicated_from(row.hub_id))
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


def _fetch_key_set(hub: Hub, url: str) -> dict[str, Any]:
    with hub.http() as client:
        response = client.get(url.rstrip("/") + "/.well-known/tongxin/keys")
    response.raise_for_status()
    doc: dict[str, Any] = response.json()
    return doc


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
    doc = _fetch_key_set(hub, url)
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
    with hub.http() as client:
        response = client.get(f"{parent.url}/.well-known/tongxin/certificates/{subject}")
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
            doc = _fetch_key_set(self._hub, peer.url)
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
