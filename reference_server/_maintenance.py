"""Housekeeping: purge tombstones past the retention window and expired idempotency keys."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update

from ._hub import Hub
from ._store import purge_tombstones
from ._tables import hub_state, idempotency_batches, idempotency_keys, scope_exits

__all__ = ["purge"]


def purge(hub: Hub, *, now: float | None = None) -> tuple[int, int]:
    """Delete old tombstones and idempotency keys; returns how many of each were removed.

    The highest purged sequence is remembered so that older change-feed cursors get 410.
    """
    now = time.time() if now is None else now
    cutoff_us = int((now - hub.settings.tombstone_retention_days * 86400) * 1_000_000)
    with hub.db.write() as conn:
        removed, top = purge_tombstones(conn, cutoff_us)
        gone = scope_exits.c.updated_us < cutoff_us
        exits = conn.execute(select(func.max(scope_exits.c.seq)).where(gone)).scalar()
        if exits:
            conn.execute(delete(scope_exits).where(gone))
            top = max(top or 0, exits)
        if top:
            conn.execute(
                update(hub_state)
                .where(hub_state.c.id == 1, hub_state.c.purged_seq < top)
                .values(purged_seq=top)
            )
        expiry = datetime.fromtimestamp(now, UTC) - timedelta(
            hours=hub.settings.idempotency_retention_hours
        )
        stale = select(idempotency_keys.c.token_id, idempotency_keys.c.key).where(
            idempotency_keys.c.created_at < expiry
        )
        keys = conn.execute(stale).all()
        for token_id, key in keys:
            for table in (idempotency_batches, idempotency_keys):
                conn.execute(delete(table).where(table.c.token_id == token_id, table.c.key == key))
    return removed, len(keys)
