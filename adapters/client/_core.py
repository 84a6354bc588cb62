"""What the sync and async clients share, free of I/O: the retry policy, request bodies,
and parsing of records, pages, bulk results, feed items and problems."""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from tongxin.schemas import RECORD_TYPES, Record

from ._errors import ProblemError, TongxinError, error_from_problem

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
