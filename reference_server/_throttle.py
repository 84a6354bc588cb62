"""A sliding window of events per key (a client address): the flood control of the pages anyone
may open without an account — self check-in at a meeting and members' feedback.

Each window lives in the process that serves the page (with ``--workers N`` an address gets
``N`` times the budget); what must hold across processes is kept in the database instead (a
member's failed check-in digits lock that member's check-in, :data:`._checkins.MAX_FAILURES`).
"""

from __future__ import annotations

import threading
import time
from collections import deque

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """At most ``limit`` events per ``seconds`` for each key, sliding. At most ``max_keys`` keys
    are remembered: the quiet ones are forgotten first, and a flood of new keys starts again."""

    def __init__(self, limit: int, seconds: float, max_keys: int = 50_000) -> None:
        self.limit, self.seconds, self.max_keys = limit, seconds, max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count one event for ``key``; False (and not counted) when its budget is spent."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._events) >= self.max_keys:
                self._forget(now)
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.seconds:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def _forget(self, now: float) -> None:
        stale = [k for k, v in self._events.items() if not v or v[-1] <= now - self.seconds]
        for key in stale:
            del self._events[key]
        if len(self._events) >= self.max_keys:
            self._events.clear()
