"""The asynchronous client: the same surface as :class:`~tongxin.client.Client`, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Generic, TypeVar

import httpx
import orjson

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
from ._errors import ConnectionFailed, Deleted, NotFound

__all__ = ["AsyncChangeFeed", "AsyncClient", "AsyncCollection"]

R = TypeVar("R", bound=Record)
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class AsyncClient:
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
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        merged = {"User-Agent": "tongxin-client", **(headers or {})}
        if token is not None:
            merged["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=base_url, auth=auth, timeout=timeout, transport=transport, headers=merged
        )
        self.retry = retry or core.RetryPolicy()
        self._hub_id: str | None = None
        self.organisations: AsyncCollection[Organisation] = AsyncCollection(self, "organisations")
        self.members: AsyncCollection[Member] = AsyncCollection(self, "members")
        self.activities: AsyncCollection[Activity] = AsyncCollection(self, "activities")
        self.dues_payments: AsyncCollection[DuesPayment] = AsyncCollection(self, "duesPayments")
        self.transfers: AsyncCollection[Transfer] = AsyncCollection(self, "transfers")
        self.applicants: AsyncCollection[Applicant] = AsyncCollection(self, "applicants")
        self._collections: dict[str, AsyncCollection[Any]] = {
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

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def collection(self, name: str) -> AsyncCollection[Record]:
        """A collection by its published name (``members``)."""
        found = self._collections.get(name)
        if found is None:
            if name not in core.MODELS:
                raise KeyError(name)
            found = self._collections[name] = AsyncCollection(self, name)
        return found

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One call with retries; an error answer raises its :class:`TongxinError`."""
        response, _ = await self._send(
            method, path, params=params, content=content, headers=headers
        )
        return response

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: frozenset[int] = frozenset(),
    ) -> tuple[httpx.Response, bool]:
        """The answer and whether it came from a retry; statuses in ``ok`` do not raise."""
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = await self._http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                if attempt + 1 >= self.retry.attempts:
                    raise ConnectionFailed(f"{method} {path}: {exc}") from exc
            else:
                if response.is_success or response.status_code in ok:
                    return response, attempt > 0
                if not core.retryable(response) or attempt + 1 >= self.retry.attempts:
                    raise core.error_for(response)
                retry_after = core.retry_after_seconds(response)
            await asyncio.sleep(self.retry.delay(attempt, retry_after))
            attempt += 1

    async def hub_id(self) -> str:
        """The hub's id, from its discovery document (fetched once)."""
        if self._hub_id is None:
            self._hub_id = str((await self.discovery())["hub"]["id"])
        return self._hub_id

    async def discovery(self) -> dict[str, Any]:
        """``/.well-known/tongxin``."""
        body: dict[str, Any] = orjson.loads(
            (await self.request("GET", "/.well-known/tongxin")).content
        )
        return body

    async def validate(self, target: Any) -> core.ValidationReport:
        """Check a package (model or mapping) or one record against the standard, storing
        nothing."""
        content, params = core.validate_request(target)
        response = await self.request(
            "POST",
            "/v1/validate",
            params=params,
            content=content,
            headers={"Content-Type": "application/json"},
        )
        return core.ValidationReport.from_json(response.content)

    async def bulk(self, operations: Iterable[core.Operation]) -> AsyncIterator[core.BulkResult]:
        """Send operations as one ``POST /v1/bulk`` and yield the hub's result for each line,
        in order. One Idempotency-Key covers every retry, so a broken connection is resumed
        without writing anything twice."""
        body = core.bulk_body(operations)
        headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": core.new_key()}
        seen = 0
        attempt = 0
        while True:
            try:
                async with self._http.stream(
                    "POST", "/v1/bulk", content=body, headers=headers
                ) as resp:
                    if not resp.is_success:
                        await resp.aread()
                        if core.retryable(resp) and attempt + 1 < self.retry.attempts:
                            await asyncio.sleep(
                                self.retry.delay(attempt, core.retry_after_seconds(resp))
                            )
                            attempt += 1
                            continue
                        raise core.error_for(resp)
                    async for raw in resp.aiter_lines():
                        if not raw.strip():
                            continue
                        result = core.BulkResult.from_line(raw.encode())
                        if result.index >= seen:
                            seen = result.index + 1
                            yield result
                    return
            except httpx.TransportError as exc:
                if attempt + 1 >= self.retry.attempts:
                    raise ConnectionFailed(f"POST /v1/bulk: {exc}") from exc
                await asyncio.sleep(self.retry.delay(attempt, None))
                attempt += 1

    def changes(
        self,
        since: str | None = None,
        *,
        types: Iterable[str] | None = None,
        limit: int | None = None,
        sensitive: bool = False,
    ) -> AsyncChangeFeed:
        """The change feed from cursor ``since`` (the beginning when None), following ``next``
        until the hub has nothing more; ``.cursor`` then holds where to poll from."""
        return AsyncChangeFeed(self, since, types, limit, sensitive)


class AsyncChangeFeed:
    """Iterates over change-feed items; ``cursor`` is the position after the last page read."""

    def __init__(
        self,
        client: AsyncClient,
        since: str | None,
        types: Iterable[str] | None,
        limit: int | None,
        sensitive: bool,
    ) -> None:
        self._client = client
        self.cursor = since
        params: dict[str, Any] = {}
        if since is not None:
            params["after"] = since
        if types is not None:
            params["types"] = ",".join(types)
        if limit is not None:
            params["limit"] = limit
        if sensitive:
            params["include"] = "sensitive"
        self._params = params

    def __aiter__(self) -> AsyncIterator[core.Change]:
        return self._pages()

    async def _pages(self) -> AsyncIterator[core.Change]:
        path: str | None = "/v1/changes"
        params: Mapping[str, Any] | None = self._params
        while path is not None:
            response = await self._client.request("GET", path, params=params)
            changes, path, cursor = core.parse_changes(response.content)
            if cursor is not None:
                self.cursor = cursor
            for change in changes:
                yield change
            params = None


class AsyncCollection(Generic[R]):
    """One collection of the hub (``client.members``)."""

    def __init__(self, client: AsyncClient, name: str) -> None:
        self._client = client
        self.name = name
        self._path = f"/v1/{name}"

    async def get(self, id: str) -> R:
        """The record, with its current ``version``."""
        response = await self._client.request("GET", f"{self._path}/{id}")
        return self._parse(response.content)

    async def list(
        self,
        *,
        organisation_id: str | None = None,
        subtree: bool | None = None,
        updated_since: str | None = None,
        sensitive: bool = False,
        page_size: int | None = None,
        **params: Any,
    ) -> AsyncIterator[R]:
        """Every record matching the filters, following ``next`` page after page."""
        query: dict[str, Any] = dict(params)
        if organisation_id is not None:
            query["organisationId"] = organisation_id
        if subtree is not None:
            query["subtree"] = "true" if subtree else "false"
        if updated_since is not None:
            query["updatedSince"] = updated_since
        if sensitive:
            query["include"] = "sensitive"
        if page_size is not None:
            query["limit"] = page_size
        path: str | None = self._path
        current: Mapping[str, Any] | None = query
        while path is not None:
            response = await self._client.request("GET", path, params=current)
            items, path = core.parse_page(self.name, response.content)
            for item in items:
                yield item  # type: ignore[misc]
            current = None

    async def create(self, record: R | Mapping[str, Any]) -> R:
        """Store a new record (201), or find the identical one a retry already stored (200).
        A record without ``id`` gets one under this hub's prefix before the first attempt."""
        body = core.with_id(core.record_body(record), await self._client.hub_id())
        response = await self._client.request(
            "POST",
            self._path,
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Idempotency-Key": core.new_key()},
        )
        return self._parse(response.content)

    async def update(self, record: R | Mapping[str, Any], *, if_match: int | None = None) -> R:
        """Replace the record; ``if_match`` defaults to the version it was read with. A stale
        version raises :class:`~tongxin.client.PreconditionFailed`."""
        body = core.record_body(record)
        version = if_match if if_match is not None else body.get("version")
        if version is None:
            raise ValueError("update needs if_match or a record with its version")
        path = f"{self._path}/{body['id']}"
        response, retried = await self._client._send(
            "PUT",
            path,
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", "If-Match": f'"{version}"'},
            ok=frozenset({412}),
        )
        if response.status_code == 412:
            error = core.error_for(response)
            if retried:
                stored = orjson.loads((await self._client.request("GET", path)).content)
                if stored.get("version") == int(version) + 1 and core.same_content(stored, body):
                    return self._parse(orjson.dumps(stored))
            raise error
        return self._parse(response.content)

    async def delete(self, id: str, *, if_match: int) -> None:
        """Delete the record at version ``if_match``."""
        response, retried = await self._client._send(
            "DELETE",
            f"{self._path}/{id}",
            headers={"If-Match": f'"{if_match}"'},
            ok=frozenset({404, 410}),
        )
        if response.status_code in {404, 410}:
            error = core.error_for(response)
            if not (retried and isinstance(error, Deleted | NotFound)):
                raise error  # a retry finding it gone means the first attempt deleted it

    def _parse(self, content: bytes) -> R:
        return core.parse_record(self.name, orjson.loads(content))  # type: ignore[return-value]
