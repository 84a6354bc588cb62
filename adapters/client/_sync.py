"""The synchronous client, written from ``_async.py`` by
``python -m tongxin.client._unasync``: edit that file, not this one."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar, cast

import httpx

from tongxin.schemas import (
    Activity,
    Applicant,
    DuesPayment,
    Member,
    Organisation,
    Record,
    Transfer,
)

from . import _core as core

__all__ = ["ChangeFeed", "Client", "Collection"]

R = TypeVar("R", bound=Record)
T = TypeVar("T")
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class Client:
    """A Tongxin hub, seen from a vendor's platform or another hub.

    ``Client(base_url, token=...)`` for a bearer token; ``auth=`` for any ``httpx.Auth``, such
    as the federation's :class:`~tongxin.federation.SigningAuth` between hubs. Collections are
    attributes (``client.members.get(id)``); errors are :class:`~tongxin.client.TongxinError`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        auth: httpx.Auth | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: core.RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        merged = {"User-Agent": "tongxin-client", **(headers or {})}
        if token is not None:
            merged["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base_url, auth=auth, timeout=timeout, transport=transport, headers=merged
        )
        self.retry = retry or core.RetryPolicy()
        self._hub_id: str | None = None
        self.organisations: Collection[Organisation] = Collection(self, "organisations")
        self.members: Collection[Member] = Collection(self, "members")
        self.activities: Collection[Activity] = Collection(self, "activities")
        self.dues_payments: Collection[DuesPayment] = Collection(self, "duesPayments")
        self.transfers: Collection[Transfer] = Collection(self, "transfers")
        self.applicants: Collection[Applicant] = Collection(self, "applicants")
        self._collections: dict[str, Collection[Any]] = {
            c.name: c
            for c in (
                self.organisations,
                self.members,
                self.activities,
                self.dues_payments,
                self.transfers,
                self.applicants,
            )
        }

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def collection(self, name: str) -> Collection[Record]:
        """A collection by its published name (``members``)."""
        found = self._collections.get(name)
        if found is None:
            if name not in core.MODELS:
                raise KeyError(name)
            found = self._collections[name] = Collection(self, name)
        return found

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One call with retries; an error answer raises its :class:`TongxinError`."""
        answer = self._call(core.Call(method, path, params, content, headers))
        return answer.response

    def _call(self, call: core.Call) -> core.Answer:
        """Carry one call, retrying as :class:`~tongxin.client.RetryPolicy` says."""
        attempts = core.Attempts(self.retry, f"{call.method} {call.path}")
        while True:
            delay: float | None
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    content=call.content,
                    headers=call.headers,
                )
            except httpx.TransportError as exc:
                delay = attempts.failed(exc)
            else:
                delay = attempts.answered(response, call.ok)
                if delay is None:
                    return core.Answer(response, attempts.retried)
            time.sleep(delay)

    def _run(self, program: core.Program[T]) -> T:
        """Run an operation of the core, carrying each call it yields."""
        try:
            call = next(program)
            while True:
                call = program.send(self._call(call))
        except StopIteration as done:
            result: T = done.value
            return result

    def _pages(self, pages: core.Pages[T]) -> Iterator[T]:
        while (call := pages.call()) is not None:
            yield from pages.take(self._call(call))

    def hub_id(self) -> str:
        """The hub's id, from its discovery document (fetched once)."""
        if self._hub_id is None:
            found = self.discovery()
            self._hub_id = str(found["hub"]["id"])
        return self._hub_id

    def discovery(self) -> dict[str, Any]:
        """``/.well-known/tongxin``."""
        return self._run(core.discovery())

    def validate(self, target: Any) -> core.ValidationReport:
        """Check a package (model or mapping) or one record against the standard, storing
        nothing."""
        return self._run(core.validate(target))

    def bulk(self, operations: Iterable[core.Operation]) -> Iterator[core.BulkResult]:
        """Send operations as one ``POST /v1/bulk`` and yield the hub's result for each line,
        in order. One Idempotency-Key covers every retry, so a broken connection is resumed
        without writing anything twice."""
        run = core.Bulk(operations, self.retry)
        while True:
            try:
                with self._http.stream(
                    "POST", run.path, content=run.body, headers=run.headers
                ) as r:
                    if not r.is_success:
                        r.read()
                        time.sleep(run.refused(r))
                        continue
                    for raw in r.iter_lines():
                        if (result := run.line(raw)) is not None:
                            yield result
                    return
            except httpx.TransportError as exc:
                time.sleep(run.broken(exc))

    def changes(
        self,
        since: str | None = None,
        *,
        types: Iterable[str] | None = None,
        limit: int | None = None,
        sensitive: bool = False,
    ) -> ChangeFeed:
        """The change feed from cursor ``since`` (the beginning when None), following ``next``
        until the hub has nothing more; ``.cursor`` then holds where to poll from."""
        return ChangeFeed(self, since, types, limit, sensitive)


class ChangeFeed:
    """Iterates (``for``) over change-feed items; ``cursor`` is the position after the
    last page read."""

    def __init__(
        self,
        client: Client,
        since: str | None,
        types: Iterable[str] | None,
        limit: int | None,
        sensitive: bool,
    ) -> None:
        self._client = client
        self._pages = core.change_pages(since, core.feed_query(since, types, limit, sensitive))

    @property
    def cursor(self) -> str | None:
        """Where to poll from next."""
        return self._pages.cursor

    @cursor.setter
    def cursor(self, value: str | None) -> None:
        self._pages.cursor = value

    def __iter__(self) -> Iterator[core.Change]:
        return self._client._pages(self._pages)


class Collection(Generic[R]):
    """One collection of the hub (``client.members``)."""

    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self.name = name

    def get(self, id: str) -> R:
        """The record, with its current ``version``."""
        return cast(R, self._client._run(core.get(self.name, id)))

    def list(
        self,
        *,
        organisation_id: str | None = None,
        subtree: bool | None = None,
        updated_since: str | None = None,
        sensitive: bool = False,
        page_size: int | None = None,
        **params: Any,
    ) -> Iterator[R]:
        """Every record matching the filters, following ``next`` page after page."""
        query = core.list_query(
            organisation_id, subtree, updated_since, sensitive, page_size, params
        )
        return cast("Iterator[R]", self._client._pages(core.record_pages(self.name, query)))

    def create(self, record: R | Mapping[str, Any]) -> R:
        """Store a new record (201), or find the identical one a retry already stored (200).
        A record without ``id`` gets one under this hub's prefix before the first attempt."""
        program = core.create(self.name, record, self._client.hub_id())
        return cast(R, self._client._run(program))

    def update(self, record: R | Mapping[str, Any], *, if_match: int | None = None) -> R:
        """Replace the record; ``if_match`` defaults to the version it was read with. A stale
        version raises :class:`~tongxin.client.PreconditionFailed`."""
        program = core.update(self.name, record, if_match)
        return cast(R, self._client._run(program))

    def delete(self, id: str, *, if_match: int) -> None:
        """Delete the record at version ``if_match``."""
        self._client._run(core.delete(self.name, id, if_match))
