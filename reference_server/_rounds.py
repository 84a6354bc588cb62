"""One federation round of a hub (``spec/federation.md`` §4.4, §6): refresh stale peer key
sets, pull every child's change feed, and redeliver letters, withdrawals and receipts that have
not reached their peer. Run by ``tongxin sync`` and by the server in the background."""

from __future__ import annotations

from ._federation import refresh_key_sets, sync_all
from ._hub import Hub
from ._outbox import deliver_pending

__all__ = ["federation_round"]


def federation_round(
    hub: Hub, *, respect_backoff: bool = True, hinted: frozenset[str] = frozenset()
) -> dict[str, str | None]:
    """``{peer hub id or transfer id: None when it succeeded, else the error}``."""
    refresh_key_sets(hub, hub.settings.key_refresh_seconds)
    results = sync_all(hub, respect_backoff=respect_backoff, hinted=hinted)
    results.update(deliver_pending(hub, respect_backoff=respect_backoff))
    return results
