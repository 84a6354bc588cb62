"""Serving the change feed to a peer (``spec/federation.md`` §4.1, §5): a parent only, under
the policy this hub keeps for it.

Each record is read once from its stored row (the public ``doc`` parsed, the sealed fields
opened, a replica's keyed hashes set apart) straight into a :class:`Change`, minimised and put
on the wire; the page is serialised once, by the route that signs it.
"""

from __future__ import annotations

from typing import Any

import orjson

from tongxin.federation import Change, minimise

from ._hub import Hub
from ._peers import Peer
from ._policy import PeerAct, authorize_peer
from ._reads import feed_rows
from ._security import Principal
from ._store import ORPHAN, open_sealed

__all__ = ["peer_feed"]


def peer_feed(
    hub: Hub, peer: Peer, *, after: str | None, limit: int, collections: list[str] | None
) -> tuple[list[dict[str, Any]], str | None, bool]:
    """A page of the change feed as ``peer`` may see it: a parent only (403 otherwise), its
    policy applied (§5)."""
    authorize_peer(peer.hub_id, peer.relation, PeerAct.PULL_FEED)
    principal = Principal(f"peer:{peer.hub_id}", frozenset({"records:read-sensitive"}))
    rows, cursor, more = feed_rows(
        hub, principal, after=after, limit=limit, collections=collections
    )
    policy = peer.feed_policy()
    items: list[dict[str, Any]] = []
    for row in rows:
        out = minimise(_change(hub, row), policy)
        if out is not None:
            items.append(out.to_wire())
    return items, cursor, more


def _change(hub: Hub, row: Any) -> Change:
    """A feed row as a change: its record with the sensitive fields and a replica's keyed
    hashes; a tombstone for a deletion or an orphan (§4.5)."""
    if row.deleted or row.orphan == ORPHAN or row.doc is None:
        return Change(row.collection, row.id, row.version, row.owner, True, None)
    record: dict[str, Any] = orjson.loads(row.doc)
    opened, hashed = open_sealed(hub.cipher, row.id, row.sealed)
    record.update(opened)
    return Change(row.collection, row.id, row.version, row.owner, False, record, hashed)
