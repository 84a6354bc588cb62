"""The synchronous client is written from the asynchronous one (``_async.py`` is the one source
of both surfaces): the committed ``_sync.py`` is what the generator makes of it now."""

from __future__ import annotations

import inspect

from tongxin.client import AsyncClient, AsyncCollection, Client, Collection
from tongxin.client._unasync import SOURCE, TARGET, unasync


def test_the_committed_sync_client_is_fresh() -> None:
    fresh = unasync(SOURCE.read_text("utf-8"))
    assert TARGET.read_text("utf-8") == fresh, "run python -m tongxin.client._unasync"


def test_both_shells_offer_the_same_methods() -> None:
    for sync, awaited in ((Client, AsyncClient), (Collection, AsyncCollection)):
        names = {n for n, _ in inspect.getmembers(sync, inspect.isfunction)}
        async_names = {n for n, _ in inspect.getmembers(awaited, inspect.isfunction)}
        renamed = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}
        assert {renamed.get(n, n) for n in async_names} == names
