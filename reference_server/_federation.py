"""The hub's side of federation (``spec/federation.md`` §1, §2, §4, §5), by job:

- :mod:`._peers`: its signing keys, the peers it trusts and their key sets, the replay cache;
- :mod:`._feed`: the change feed served to a parent under its policy;
- :mod:`._pull`: pulling children's feeds into read-only replicas, and restored peers.

Replicas and transfers write records through the record store (:mod:`._store`). This module
gathers their public names in one place.
"""

from __future__ import annotations

from ._feed import peer_feed
from ._peers import (
    RELATIONS,
    DbNonceCache,
    Peer,
    PeerResolver,
    add_peer,
    certify,
    check_key_store,
    get_peer,
    hub_keys,
    init_keys,
    keys_path,
    list_peers,
    refresh_key_sets,
)
from ._pull import (
    CursorMovedError,
    SyncError,
    apply_page,
    due,
    finish_resync,
    reset_peer,
    sync_all,
    sync_peer,
)
from ._store import HASHED

__all__ = [
    "HASHED",
    "RELATIONS",
    "CursorMovedError",
    "DbNonceCache",
    "Peer",
    "PeerResolver",
    "SyncError",
    "add_peer",
    "apply_page",
    "certify",
    "check_key_store",
    "due",
    "finish_resync",
    "get_peer",
    "hub_keys",
    "init_keys",
    "keys_path",
    "list_peers",
    "peer_feed",
    "refresh_key_sets",
    "reset_peer",
    "sync_all",
    "sync_peer",
]
