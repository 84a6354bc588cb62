"""The outbox (``spec/federation.md`` §3.6 Redelivery): every message a hub owes a peer —
a letter, a withdrawal, a receipt — is delivered again each federation round until the peer
has answered, with a backoff per message; and a transfer record written without its letter
(through ``/v1/bulk``, or before a crash) gets its letter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select

from tongxin.federation import FederationError, TransferState

from ._errors import HubError
from ._hub import Hub
from ._peers import get_peer
from ._tables import peers, records, transfer_letters
from ._transfers import (
    Actor,
    issue_transfer,
    plan_transfer,
    send_letter,
    send_receipt,
    send_withdrawal,
    utc_now,
)

__all__ = ["deliver_pending"]

T = transfer_letters.c


def deliver_pending(hub: Hub, *, respect_backoff: bool = True) -> dict[str, str | None]:
    """One redelivery round (§6): letters, withdrawals and receipts that have not reached their
    peer yet, and letters of electronic transfers stored before a crash let them be signed.
    ``{transfer id: None or the error}``."""
    _issue_orphans(hub)
    query = select(transfer_letters).where(
        T.delivered.is_(False),
        T.refused.is_(None),  # refused for good by the peer: never sent again
        (T.role == "sender") | T.receipt.is_not(None),
    )
    if respect_backoff:
        query = query.where(T.next_attempt_at.is_(None) | (T.next_attempt_at <= utc_now()))
    with hub.db.read() as conn:
        rows = conn.execute(query.order_by(T.created_at)).all()
    results: dict[str, str | None] = {}
    for row in rows:
        try:
            results[row.transfer_id] = _redeliver(hub, row)
        except (FederationError, HubError) as error:  # keep the other messages going
            results[row.transfer_id] = str(error)
    return results


def _redeliver(hub: Hub, row: Any) -> str | None:
    """Deliver the message ``row`` owes its peer; None once delivered, else the error."""
    if row.role == "sender" and row.withdrawal is not None:
        row = send_withdrawal(hub, row)
    elif row.role == "sender":
        if row.state != TransferState.ISSUED.value:
            return None  # decided, withdrawn or expired: the letter is moot
        peer = get_peer(hub, row.peer_hub)
        if peer is None:
            return f"{row.peer_hub} is no longer a peer"
        row = send_letter(hub, peer, row)
    else:
        row = send_receipt(hub, row)
    return None if row.delivered else str(row.last_error)


def _issue_orphans(hub: Hub) -> None:
    """Sign and deliver letters for this hub's issued transfers to peers that have none yet.
    Each round reads only the transfer records written since the last (``hub.state``), so a
    paper transfer is read once per process."""
    c = records.c
    scanned = hub.state.outbox_scanned
    with hub.db.read() as conn:
        orphans = conn.execute(
            select(c.id, c.doc, c.updated_us, c.seq).where(
                c.collection == "transfers",
                c.owner == hub.hub_id,
                c.deleted.is_(False),
                c.seq > scanned,
                c.id.not_in(select(T.transfer_id)),
            )
        ).all()
        peered = {r.hub_id: r.created_at for r in conn.execute(select(peers)).all()}
    for orphan in orphans:
        record = orjson.loads(orphan.doc)
        target = str(record.get("toOrganisationId") or "").split(":", 1)[0]
        since = peered.get(target)
        if since is None or orphan.updated_us < _micros(since):
            continue  # a paper transfer: not to a peer, or written before the hubs were peers
        record["id"] = orphan.id
        try:
            peer = plan_transfer(hub, record)
        except HubError:
            continue  # not ours to issue, or its letter would be expired: no letter
        if peer is not None:
            issue_transfer(hub, peer, orphan.id, Actor(request_id="outbox"))
    if orphans:
        hub.state.outbox_scanned = max(scanned, *(o.seq for o in orphans))


def _micros(stamp: datetime) -> int:
    aware = stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1_000_000)
