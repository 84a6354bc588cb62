"""The replay cache: each (key id, nonce) is accepted once while its signature is valid.

:class:`NonceCache` is the protocol; :class:`MemoryNonceCache` serves one process. A hub with
several workers backs it with its database: a table with a unique key on ``(keyid, nonce)`` and
an ``expires`` column, where ``seen`` is one ``INSERT`` that reports a conflict, and a periodic
``DELETE … WHERE expires < now``.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["MemoryNonceCache", "NonceCache"]


class NonceCache(Protocol):
    """Remembers nonces until they expire."""

    def seen(self, keyid: str, nonce: str, expires: int) -> bool:
        """Record the nonce; True when it was recorded before (a replay). Atomic."""
        ...


class MemoryNonceCache:
    """A thread-safe in-process cache; entries drop out after ``expires`` (Unix seconds)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._entries: dict[tuple[str, str], int] = {}
        self._heap: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()
        self._clock = clock

    def seen(self, keyid: str, nonce: str, expires: int) -> bool:
        with self._lock:
            self._purge(int(self._clock()))
            key = (keyid, nonce)
            if key in self._entries:
                return True
            self._entries[key] = expires
            heapq.heappush(self._heap, (expires, keyid, nonce))
            return False

    def __len__(self) -> int:
        return len(self._entries)

    def _purge(self, now: int) -> None:
        while self._heap and self._heap[0][0] < now:
            expires, keyid, nonce = heapq.heappop(self._heap)
            if self._entries.get((keyid, nonce)) == expires:
                del self._entries[(keyid, nonce)]
