"""What the sync and async clients share, free of I/O (sans-IO): the retry policy and its
state per call, request bodies, the resumption of a bulk request, the reconciliation of a
retried update or delete, and parsing of records, pages, bulk results, feed items and problems.

Each operation is a *program*: a generator that yields the :class:`Call` it needs next and is
sent back the :class:`Answer`. The sync :class:`~tongxin.client.Client` and the async
:class:`~tongxin.client.AsyncClient` are thin shells that only carry calls over httpx (with
:class:`Attempts` deciding retries) and sleep, so both behave alike by construction."""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from tongxin.schemas import RECORD_TYPES, Record

from ._errors import (
    ConnectionFailed,
    Deleted,
    NotFound,
    ProblemError,
    TongxinError,
    error_from_problem,
)

__all__ = [
    "BulkResult",
    "Change",
    "Delete",
    "RetryPolicy",
    "Upsert",
    "ValidationReport",
]

MODELS: dict[str, type[Record]] = {model.collection: model for model in RECORD_TYPES}
_RETRY_STATUSES = frozenset({429, 503})
_RETRY_CODES = frozenset({"idempotency-key-in-use"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries on connection errors, 429 and 503 (and a bulk key still in use), with full
    jitter exponential backoff; a ``Retry-After`` from the hub is honoured up to ``cap``."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        return random.uniform(0.0, min(self.cap, self.base * 2**attempt))


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


def retryable(response: httpx.Response) -> bool:
    """Whether an answer invites the same request again."""
    if response.status_code in _RETRY_STATUSES:
        return True
    return response.status_code == 409 and _code(response) in _RETRY_CODES


def _code(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def error_for(response: httpx.Response) -> TongxinError:
    """The exception for an error answer (a problem body, or whatever came)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    return error_from_problem(
        response.status_code,
        body if isinstance(body, dict) else None,
        retry_after_seconds(response),
    )


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return str(uuid.uuid4())


def same_hub_path(url: str) -> str:
    """The path and query of a ``next`` link: the client follows it on its own base URL, so
    a link can never send the token to another host."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def collection_of(record: Record | Mapping[str, Any], collection: str | None = None) -> str:
    """The collection a record belongs to."""
    if collection is not None:
        return collection
    if isinstance(record, Record):
        return record.collection
    raise TypeError("a record given as a mapping needs its collection")


def record_body(record: Record | Mapping[str, Any]) -> dict[str, Any]:
    """The wire form of a record (camelCase, no nulls)."""
    if isinstance(record, Record):
        return record.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dict(record)


def parse_record(collection: str, body: Any) -> Record:
    """A stored record as its standard model."""
    return MODELS[collection].model_validate(body)


def parse_page(collection: str, content: bytes) -> tuple[list[Record], str | None]:
    """A list page: its records and the path of the next page."""
    body = orjson.loads(content)
    nxt = body.get("next")
    return [parse_record(collection, item) for item in body["items"]], (
        same_hub_path(nxt) if nxt else None
    )


@dataclass(frozen=True, slots=True)
class Upsert:
    """A bulk line that creates or replaces a record."""

    record: Record | Mapping[str, Any]
    collection: str | None = None
    if_match: int | None = None

    def line(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "op": "upsert",
            "type": collection_of(self.record, self.collection),
            "record": record_body(self.record),
        }
        if self.if_match is not None:
            out["ifMatch"] = self.if_match
        return out


@dataclass(frozen=True, slots=True)
class Delete:
    """A bulk line that deletes a record."""

    collection: str
    id: str
    if_match: int | None = None

    def line(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": "delete", "type": self.collection, "id": self.id}
        if self.if_match is not None:
            out["ifMatch"] = self.if_match
        return out


Operation = Upsert | Delete | Record | Mapping[str, Any]


def bulk_body(operations: Iterable[Operation]) -> bytes:
    """NDJSON of the operations; a bare record is an upsert of it."""
    lines = []
    for op in operations:
        if isinstance(op, Upsert | Delete):
            line: Mapping[str, Any] = op.line()
        elif isinstance(op, Record):
            line = Upsert(op).line()
        else:
            line = op
        lines.append(orjson.dumps(line))
    return b"\n".join(lines) + b"\n"


@dataclass(frozen=True, slots=True)
class BulkResult:
    """The hub's result for one bulk line."""

    index: int
    collection: str | None
    id: str | None
    status: int
    outcome: str
    version: int | None = None
    code: str | None = None
    detail: str | None = None
    problems: tuple[ProblemError, ...] = ()

    @property
    def ok(self) -> bool:
        """True unless the line was refused."""
        return self.outcome != "error"

    @classmethod
    def from_line(cls, raw: bytes) -> BulkResult:
        body = orjson.loads(raw)
        return cls(
            index=body["index"],
            collection=body.get("type"),
            id=body.get("id"),
            status=body["status"],
            outcome=body["outcome"],
            version=body.get("version"),
            code=body.get("code"),
            detail=body.get("detail"),
            problems=tuple(ProblemError.from_json(p) for p in body.get("problems", [])),
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One change-feed item: the latest state of a record, or its tombstone."""

    collection: str
    id: str
    version: int
    owner: str | None
    deleted: bool
    record: Record | None
    reason: str | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Change:
        collection = raw["type"]
        record = raw.get("record")
        return cls(
            collection=collection,
            id=raw["id"],
            version=raw["version"],
            owner=raw.get("owner"),
            deleted=bool(raw.get("deleted")),
            record=parse_record(collection, record) if record is not None else None,
            reason=raw.get("reason"),
        )


def parse_changes(content: bytes) -> tuple[list[Change], str | None, str | None]:
    """A feed page: its changes, the path of the next page, and the cursor to poll from."""
    body = orjson.loads(content)
    nxt = body.get("next")
    changes = [Change.from_json(item) for item in body["items"]]
    return changes, same_hub_path(nxt) if nxt else None, body.get("cursor")


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The hub's dry-run report (``POST /v1/validate``)."""

    valid: bool
    counts: Mapping[str, int]
    truncated: bool
    issues: tuple[ProblemError, ...] = field(default=())

    @classmethod
    def from_json(cls, content: bytes) -> ValidationReport:
        body = orjson.loads(content)
        return cls(
            valid=bool(body["valid"]),
            counts=body.get("counts", {}),
            truncated=bool(body.get("truncated", False)),
            issues=tuple(ProblemError.from_json(i) for i in body.get("issues", [])),
        )


def validate_request(target: Any) -> tuple[bytes, dict[str, str]]:
    """Body and query of ``POST /v1/validate`` for a package or one record."""
    if isinstance(target, Record):
        return orjson.dumps(record_body(target)), {"type": target.collection}
    if hasattr(target, "model_dump"):
        return orjson.dumps(target.model_dump(mode="json", by_alias=True, exclude_none=True)), {}
    return orjson.dumps(target), {}


def with_id(body: dict[str, Any], hub_id: str) -> dict[str, Any]:
    """The body with an id under this hub's prefix when it had none, so that a retried
    create finds its first attempt instead of creating the record twice."""
    if not body.get("id"):
        body = {**body, "id": f"{hub_id}:{uuid.uuid4().hex[:20]}"}
    return body


def same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal apart from the server-managed fields."""
    skip = {"version", "updatedAt"}
    return {k: v for k, v in a.items() if k not in skip} == {
        k: v for k, v in b.items() if k not in skip
    }


# --- Calls, retries and programs -------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request a program needs; statuses in ``ok`` are answered, not raised."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    content: bytes | None = None
    headers: Mapping[str, str] | None = None
    ok: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Answer:
    """The response to a :class:`Call`, and whether it came from a retry."""

    response: httpx.Response
    retried: bool


#: An operation: yields the calls it needs, is sent their answers, returns its result.
Program = Generator[Call, Answer, T]


class Attempts:
    """The retry state of one request: after each answer or transport error, either the
    seconds to wait before trying again, or the end (the answer, or an exception)."""

    def __init__(self, policy: RetryPolicy, what: str) -> None:
        self.policy = policy
        self.what = what
        self.attempt = 0

    @property
    def retried(self) -> bool:
        """Whether the request has been sent more than once."""
        return self.attempt > 0

    def answered(self, response: httpx.Response, ok: frozenset[int] = frozenset()) -> float | None:
        """None when the answer is final; else the delay before the next attempt. An error
        answer that is not worth retrying (or the last attempt's) raises its exception."""
        if response.is_success or response.status_code in ok:
            return None
        if not retryable(response) or self.attempt + 1 >= self.policy.attempts:
            raise error_for(response)
        return self._again(retry_after_seconds(response))

    def failed(self, exc: httpx.TransportError) -> float:
        """The delay before the next attempt after a connection error, or
        :class:`ConnectionFailed` on the last attempt."""
        if self.attempt + 1 >= self.policy.attempts:
            raise ConnectionFailed(f"{self.what}: {exc}") from exc
        return self._again(None)

    def _again(self, retry_after: float | None) -> float:
        delay = self.policy.delay(self.attempt, retry_after)
        self.attempt += 1
        return delay


def json_headers(**more: str) -> dict[str, str]:
    """``Content-Type: application/json`` and the given headers (``_`` for ``-``)."""
    return {"Content-Type": "application/json", **{k.replace("_", "-"): v for k, v in more.items()}}


def discovery() -> Program[dict[str, Any]]:
    """``/.well-known/tongxin``."""
    answer = yield Call("GET", "/.well-known/tongxin")
    body: dict[str, Any] = orjson.loads(answer.response.content)
    return body


def validate(target: Any) -> Program[ValidationReport]:
    """A dry-run check of a package or one record."""
    content, params = validate_request(target)
    answer = yield Call(
        "POST", "/v1/validate", params=params, content=content, headers=json_headers()
    )
    return ValidationReport.from_json(answer.response.content)


def get(collection: str, id: str) -> Program[Record]:
    """One record, with its current version."""
    answer = yield Call("GET", f"/v1/{collection}/{id}")
    return parse_record(collection, orjson.loads(answer.response.content))


def create(collection: str, record: Record | Mapping[str, Any], hub_id: str) -> Program[Record]:
    """Store a new record under a fresh Idempotency-Key; a record without id gets one under
    ``hub_id`` first, so a retry finds the first attempt's record instead of a second one."""
    body = with_id(record_body(record), hub_id)
    answer = yield Call(
        "POST",
        f"/v1/{collection}",
        content=orjson.dumps(body),
        headers=json_headers(Idempotency_Key=new_key()),
    )
    return parse_record(collection, orjson.loads(answer.response.content))


def update(
    collection: str, record: Record | Mapping[str, Any], if_match: int | None
) -> Program[Record]:
    """Replace the record at version ``if_match`` (default: the version it was read with).
    A 412 after a retry is reconciled: when the stored record is the next version with this
    content, the first attempt went through and its result is returned."""
    body = record_body(record)
    version = if_match if if_match is not None else body.get("version")
    if version is None:
        raise ValueError("update needs if_match or a record with its version")
    path = f"/v1/{collection}/{body['id']}"
    answer = yield Call(
        "PUT",
        path,
        content=orjson.dumps(body),
        headers=json_headers(If_Match=f'"{version}"'),
        ok=frozenset({412}),
    )
    if answer.response.status_code == 412:
        error = error_for(answer.response)
        if answer.retried:
            stored = orjson.loads((yield Call("GET", path)).response.content)
            if stored.get("version") == int(version) + 1 and same_content(stored, body):
                return parse_record(collection, stored)
        raise error
    return parse_record(collection, orjson.loads(answer.response.content))


def delete(collection: str, id: str, if_match: int) -> Program[None]:
    """Delete the record at version ``if_match``; a retry finding it gone (404, 410) means the
    first attempt deleted it."""
    answer = yield Call(
        "DELETE",
        f"/v1/{collection}/{id}",
        headers={"If-Match": f'"{if_match}"'},
        ok=frozenset({404, 410}),
    )
    if answer.response.status_code in {404, 410}:
        error = error_for(answer.response)
        if not (answer.retried and isinstance(error, Deleted | NotFound)):
            raise error


def list_query(
    organisation_id: str | None,
    subtree: bool | None,
    updated_since: str | None,
    sensitive: bool,
    page_size: int | None,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """The query of a collection's list."""
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
    return query


def feed_query(
    since: str | None, types: Iterable[str] | None, limit: int | None, sensitive: bool
) -> dict[str, Any]:
    """The query of the change feed."""
    params: dict[str, Any] = {}
    if since is not None:
        params["after"] = since
    if types is not None:
        params["types"] = ",".join(types)
    if limit is not None:
        params["limit"] = limit
    if sensitive:
        params["include"] = "sensitive"
    return params


class Pages(Generic[T]):
    """Paging through ``next`` links: :meth:`call` is the next page's request (None at the
    end), :meth:`take` its items; ``cursor`` is the feed position after the last page."""

    def __init__(
        self,
        path: str,
        params: Mapping[str, Any],
        parse: Callable[[bytes], tuple[list[T], str | None, str | None]],
        cursor: str | None = None,
    ) -> None:
        self._path: str | None = path
        self._params: Mapping[str, Any] | None = params
        self._parse = parse
        self.cursor = cursor

    def call(self) -> Call | None:
        if self._path is None:
            return None
        return Call("GET", self._path, params=self._params)

    def take(self, answer: Answer) -> list[T]:
        items, self._path, cursor = self._parse(answer.response.content)
        self._params = None  # a next link carries its own query
        if cursor is not None:
            self.cursor = cursor
        return items


def record_pages(collection: str, query: Mapping[str, Any]) -> Pages[Record]:
    """The pages of a collection's list."""

    def parse(content: bytes) -> tuple[list[Record], str | None, str | None]:
        items, nxt = parse_page(collection, content)
        return items, nxt, None

    return Pages(f"/v1/{collection}", query, parse)


def change_pages(since: str | None, query: Mapping[str, Any]) -> Pages[Change]:
    """The pages of the change feed from cursor ``since``."""
    return Pages("/v1/changes", query, parse_changes, since)


class Bulk:
    """One ``POST /v1/bulk`` and its resumption: one Idempotency-Key covers every attempt, and
    lines already yielded before a broken connection are not yielded again."""

    path = "/v1/bulk"

    def __init__(self, operations: Iterable[Operation], policy: RetryPolicy) -> None:
        self.body = bulk_body(operations)
        self.headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": new_key()}
        self._attempts = Attempts(policy, f"POST {self.path}")
        self._seen = 0

    def refused(self, response: httpx.Response) -> float:
        """The delay before trying again after an error answer (read in full), or its
        exception."""
        delay = self._attempts.answered(response)
        if delay is None:
            raise ValueError("a successful answer is not refused")
        return delay

    def broken(self, exc: httpx.TransportError) -> float:
        """The delay before resuming after a connection error, or :class:`ConnectionFailed`."""
        return self._attempts.failed(exc)

    def line(self, raw: str) -> BulkResult | None:
        """The result of a line of the answer; None for a blank line or one already yielded."""
        if not raw.strip():
            return None
        result = BulkResult.from_line(raw.encode())
        if result.index < self._seen:
            return None
        self._seen = result.index + 1
        return result
