"""Push hints (``spec/federation.md`` §4.2): a child tells its parents "pull now" soon after
its feed has grown, and a parent pulls a hinting child at once instead of at its next interval.
A hint carries no data and may be lost; the pull stays the truth."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import select

from ._delivery import DeliveryError, post_signed
from ._federation import list_peers
from ._hub import Hub
from ._tables import hub_state

__all__ = ["PullNow", "send_hints"]

log = logging.getLogger("tongxin.server")
_HINT_TIMEOUT = 5.0


def send_hints(hub: Hub, last: int) -> int:
    """Hint every parent when the feed has grown past ``last``; the feed's new position."""
    with hub.db.read() as conn:
        seq = int(conn.execute(select(hub_state.c.last_seq)).scalar_one())
    if seq > last:
        for peer in list_peers(hub):
            if peer.relation == "parent":
                try:
                    post_signed(hub, peer, "/v1/federation/hints", {"seq": seq}, _HINT_TIMEOUT)
                except DeliveryError as error:
                    log.debug("hint to %s not delivered: %s", peer.hub_id, error)
    return seq


class PullNow:
    """Wakes the background round early for the children that sent a hint."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._peers: set[str] = set()

    def hint(self, hub_id: str) -> None:
        self._peers.add(hub_id)
        self._event.set()

    async def wait(self, timeout: float) -> frozenset[str]:
        """Sleep ``timeout`` seconds or until a hint; the peers that hinted meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()
        hinted, self._peers = frozenset(self._peers), set()
        return hinted
