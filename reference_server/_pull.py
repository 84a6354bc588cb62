"""Pulling children's feeds into read-only replicas (``spec/federation.md`` §4, §4.5).

Every applied page and the peer's new cursor are written in one transaction: a crash at any
point resumes from the last saved cursor, and a page read twice applies as a no-op (§4.3). What
to take from a page is decided by :func:`tongxin.federation.apply_changes` (the property-tested
replication rules), given the local copies without their content: it reads a copy's content
only when the versions tie. The chosen changes are written through the record store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, delete, func, insert, literal, select, update

from tongxin.federation import (
    Change,
    Decision,
    Entry,
    FederationError,
    FeedPage,
    SignatureError,
    SigningAuth,
    apply_changes,
    decide,
    from_problem,
)
from tongxin.schemas import problems

from ._errors import HubError
from ._exits import subtree_exits
from ._hub import Hub
from ._peercounts import CountsError, store_counts
from ._peers import DbNonceCache, Peer, PeerResolver, get_peer, hub_keys, list_peers
from ._store import (
    ORPHAN,
    UNSEEN,
    Put,
    among,
    insert_many,
    make_orphans,
    mark_seen,
    mark_unseen,
    replica_values,
    replicated_from,
    stored_entry,
    write_records,
)
from ._tables import org_tree, peers, records, refused_changes

__all__ = [
    "CursorMovedError",
    "SyncError",
    "apply_page",
    "due",
    "finish_resync",
    "reset_peer",
    "speaks_for",
    "sync_all",
    "sync_peer",
]

log = logging.getLogger("tongxin.server")
_BACKOFF_CAP = 3600
_PAGE = 1000
Key = tuple[str, str]


def _now() -> datetime:
    return datetime.now(UTC)


class SyncError(Exception):
    """One peer's round failed; the message is what ``peer list`` shows as its last error."""


class CursorMovedError(Exception):
    """Another process (a second worker, a ``tongxin sync``) applied this page first."""


def speaks_for(hub: Hub, peer_hub: str, conn: Connection | None = None) -> Callable[[str], bool]:
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


def _held(conn: Connection, changes: tuple[Change, ...]) -> tuple[dict[Key, Entry], dict[Key, Any]]:
    """The local copies of a page's records without their content, and their scopes, one
    query per record type."""
    c = records.c
    ids: dict[str, list[str]] = {}
    for change in changes:
        ids.setdefault(change.type, []).append(change.id)
    held: dict[Key, Entry] = {}
    scopes: dict[Key, Any] = {}
    for collection, keys in ids.items():
        query = select(c.id, c.version, c.owner, c.deleted, c.scope_org, c.orphan).where(
            c.collection == collection, among(conn, c.id, keys)
        )
        for row in conn.execute(query):
            held[(collection, row.id)] = Entry(
                row.version, row.owner, row.deleted, None, orphaned=row.orphan == ORPHAN
            )
            scopes[(collection, row.id)] = row.scope_org
    return held, scopes


def _reader(hub: Hub, conn: Connection) -> Callable[[Key], Mapping[str, Any] | None]:
    """Reads the content of a local copy (a version tie)."""

    def content(key: Key) -> Mapping[str, Any] | None:
        found = stored_entry(conn, hub.cipher, *key)
        return None if found is None else found[0].record

    return content


def apply_page(hub: Hub, peer: Peer, page: FeedPage) -> int:
    """Apply one page of ``peer``'s feed and save its cursor, in one transaction: one read of
    the local copies, one block of feed sequence numbers, one batched insert and update.

    A change the peer may not deliver (§4.3 rules 1–2) is refused: logged, kept in
    ``refused_changes`` (``peer list`` shows it) and applied later only if the recorded owner
    hands the record over to that peer."""
    may_speak_for = speaks_for(hub, peer.hub_id)
    with hub.db.write() as conn:
        saved = conn.execute(select(peers.c.cursor).where(peers.c.hub_id == peer.hub_id))
        if saved.scalar_one() != peer.cursor:
            raise CursorMovedError(peer.hub_id)
        held, scopes = _held(conn, page.changes)
        if peer.resyncing:
            mark_seen(conn, [(c.type, c.id) for c in page.changes])
        result = apply_changes(
            held,
            page.changes,
            local_hub=hub.hub_id,
            may_speak_for=may_speak_for,
            source=peer.hub_id,
            restored=peer.resyncing,
            content=_reader(hub, conn),
        )
        for change, verdict in result.refused:
            _refuse(
                hub, conn, peer.hub_id, change, result.state.get((change.type, change.id)), verdict
            )
        chosen = {(c.type, c.id): c for c in result.applied}
        if chosen:
            state = dict(result.state)
            _reconsider(hub, conn, chosen, state)
            _write_replicas(hub, conn, list(chosen.values()), held, scopes, peer.hub_id)
        conn.execute(
            update(peers)
            .where(peers.c.hub_id == peer.hub_id)
            .values(cursor=page.cursor, applied=peers.c.applied + len(chosen))
        )
    return len(chosen)


def _refuse(
    hub: Hub, conn: Connection, source: str, change: Change, held: Entry | None, why: Decision
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
    hub: Hub, conn: Connection, chosen: dict[Key, Change], state: dict[Key, Entry]
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
    content = _reader(hub, conn)
    for row in rows:
        key = (row.collection, row.record_id)
        if key not in chosen:
            continue
        change = Change.from_wire(hub.cipher.open(row.record_id, row.sealed))
        verdict = decide(
            change,
            state.get(key),
            local_hub=hub.hub_id,
            may_speak_for=speaks_for(hub, row.peer_hub, conn),
            source=row.peer_hub,
            content=partial(content, key),
        )
        if verdict is Decision.APPLY:
            chosen[key] = change
            state[key] = Entry.of(change)
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
    held: dict[Key, Entry],
    scopes: dict[Key, Any],
    source: str,
) -> None:
    """Store the chosen changes through the record store, each with an audit entry (action
    ``replicate``, ``request_id`` ``sync:<peer>``)."""
    puts: list[Put] = []
    entries: list[dict[str, Any]] = []
    now, request = _now(), f"sync:{source}"
    for change in changes:
        key = (change.type, change.id)
        old = held.get(key)
        puts.append(Put(replica_values(hub.cipher, change, scopes.get(key)), old is not None))
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
    write_records(conn, puts, entries)
    _place(conn, [c for c in changes if c.type == "organisations"])


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


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        error = from_problem(body)
        return f"{response.status_code} {error.code}: {error.detail_en}"
    except (ValueError, TypeError, AttributeError):
        return f"{response.status_code} {response.reason_phrase}"


def sync_peer(hub: Hub, peer: Peer, *, max_pages: int = 0) -> int:
    """Pull ``peer``'s feed until it is exhausted, then its feedback counts (§4.6); the number
    of changes applied."""
    store = hub_keys(hub)
    auth = SigningAuth(
        store.signer(), verify_with=PeerResolver(hub, only=peer.hub_id), nonces=DbNonceCache(hub)
    )
    with hub.http(auth=auth, timeout=60) as client:
        total = _pull_feed(hub, peer, client, max_pages)
        _pull_counts(hub, peer, client)
    return total


def _pull_counts(hub: Hub, peer: Peer, client: httpx.Client) -> None:
    """Fetch ``peer``'s feedback counts and replace those held from it. A hub that predates
    the route (its unsigned 404) keeps the counts held before and does not fail the round, so
    its records keep flowing; any other failure fails the round like a feed page would."""
    try:
        response = client.get(peer.url + "/v1/federation/feedback-counts")
    except SignatureError as error:
        if error.code == problems.SIGNATURE_MISSING:
            log.warning("%s serves no feedback counts (an older release?)", peer.hub_id)
            return
        raise SyncError(f"feedback counts: response {error.code}: {error.detail_en}") from None
    except httpx.HTTPError as error:
        raise SyncError(f"unreachable: {error}") from None
    if response.status_code != 200:
        raise SyncError(f"feedback counts: {_problem(response)}")
    try:
        document = orjson.loads(response.content)
        store_counts(hub, peer.hub_id, document, speaks_for(hub, peer.hub_id))
    except (orjson.JSONDecodeError, CountsError) as error:
        raise SyncError(f"feedback counts: {error}") from None


def _pull_feed(hub: Hub, peer: Peer, client: httpx.Client, max_pages: int) -> int:
    """Apply ``peer``'s feed page by page until it is exhausted (or ``max_pages``)."""
    total = pages = 0
    reset = False
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
        page = FeedPage.from_wire(orjson.loads(response.content))
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
def reset_peer(hub: Hub, peer: Peer) -> Peer:
    """The peer's feed answered 410 ``epoch-changed``: it was restored from a backup (or its
    database replaced). Start its feed again from the beginning, count the reset, and mark
    every live replica this hub took from it as not yet seen again; the re-sync clears the
    mark of each record the restored feed still holds (:func:`finish_resync`)."""
    log.warning(
        "peer %s started a new feed epoch (restored): re-syncing from the start", peer.hub_id
    )
    may_speak_for = speaks_for(hub, peer.hub_id)
    c = records.c
    with hub.db.write() as conn:
        owners = [
            o
            for o in conn.execute(select(c.owner).distinct()).scalars()
            if o != hub.hub_id and may_speak_for(o)
        ]
        if owners:
            mark_unseen(conn, among(conn, c.owner, owners) & replicated_from(peer.hub_id))
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
            .where(c.orphan == UNSEEN, replicated_from(peer.hub_id))
            .order_by(c.seq)
        ).all()
        make_orphans(conn, [(row.collection, row.id) for row in unseen])
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
