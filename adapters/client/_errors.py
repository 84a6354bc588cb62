"""Exceptions of the client: one class per problem type of ``spec/api.md`` §2, all under
:class:`TongxinError`, each carrying the problem's errors (pointer, rule, zh/en message).

The client's :class:`TongxinError` derives from :class:`tongxin.schemas.TongxinError`, the one
error model of the standard, the hub and the federation: ``except tongxin.schemas.TongxinError``
catches a refusal whether the hub was called in-process or over HTTP, and ``to_problem()`` gives
back the problem body. The client's classes are named like the hub's but are not catalogued:
:func:`tongxin.schemas.from_problem` keeps answering with the hub's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tongxin import schemas
from tongxin.schemas.problems import ProblemCode

__all__ = [
    "PROBLEM_CLASSES",
    "AlreadyExists",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "CursorExpired",
    "Deleted",
    "DuplicateCitizenId",
    "EpochChanged",
    "Forbidden",
    "Gone",
    "IdempotencyKeyInUse",
    "IdempotencyKeyReused",
    "InvalidRecord",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "PreconditionRequired",
    "ProblemError",
    "RateLimited",
    "ReplicaReadOnly",
    "ServerError",
    "ServiceUnavailable",
    "StillReferenced",
    "TongxinError",
    "Unauthorized",
    "UnsupportedMediaType",
    "error_from_problem",
]


@dataclass(frozen=True, slots=True)
class ProblemError:
    """One entry of a problem's ``errors``: where, which rule, and what, in both languages."""

    pointer: str
    rule: str | None
    severity: str
    message_zh: str
    message_en: str

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ProblemError:
        message = raw.get("message") or {}
        return cls(
            pointer=str(raw.get("pointer", raw.get("path", ""))),
            rule=raw.get("rule"),
            severity=str(raw.get("severity", "error")),
            message_zh=str(message.get("zh-CN", "")),
            message_en=str(message.get("en", "")),
        )


class TongxinError(schemas.TongxinError):
    """Every failure the client reports. ``status`` is 0 when no HTTP answer arrived.

    Besides the :class:`tongxin.schemas.TongxinError` members (``code``, ``detail_en``,
    ``detail_zh``, ``issues``, ``extra``), it keeps the answer as it came: ``detail``,
    ``errors`` (:class:`ProblemError`), the whole ``problem`` body and ``retry_after``."""

    status: int = 0
    catalogued = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        detail_zh: str = "",
        errors: tuple[ProblemError, ...] = (),
        problem: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        body: Mapping[str, Any] = problem or {}
        parsed = schemas.from_problem(body) if body else None
        super().__init__(
            ProblemCode(code),
            message,
            detail_zh,
            issues=parsed.issues if parsed is not None else (),
            headers={"Retry-After": f"{retry_after:g}"} if retry_after is not None else None,
        )
        self.args = (message,)
        self.status = status if status is not None else type(self).status
        if parsed is not None:
            self.extra = parsed.extra
        self.detail = message
        self.errors = errors
        self.problem: Mapping[str, Any] = body
        self.retry_after = retry_after

    @classmethod
    def rebuild(
        cls,
        code: ProblemCode,
        en: str,
        zh: str,
        issues: list[schemas.Issue],
        extra: dict[str, Any],
    ) -> TongxinError:
        """The client's error for a problem body's parts (``from_problem(body, default=…)``)."""
        wire = [issue.to_wire() for issue in issues]
        body = {**extra, "code": code, "detail": en, "detailZh": zh, "errors": wire}
        return cls(
            en,
            code=code,
            detail_zh=zh,
            errors=tuple(ProblemError.from_json(w) for w in wire),
            problem=body,
        )

    @property
    def current_version(self) -> int | None:
        """The record's current version, when the hub named it (412, 409, 410)."""
        value = self.problem.get("currentVersion")
        return value if isinstance(value, int) else None

    def __str__(self) -> str:
        head = f"{self.status} {self.code}: {self.detail}" if self.code else self.detail
        tail = "; ".join(f"{e.pointer} {e.rule}: {e.message_en}" for e in self.errors[:5])
        return f"{head} ({tail})" if tail else head


class ConnectionFailed(TongxinError):
    """The hub could not be reached (after the retries)."""


class BadRequest(TongxinError):
    """400: unparseable body, bad parameter, cursor or ``If-Match``."""

    status = 400


class Unauthorized(TongxinError):
    """401: no, unknown, revoked or expired token."""

    status = 401


class Forbidden(TongxinError):
    """403: scope missing, outside the token's subtree, or not allowed for this peer."""

    status = 403


class NotFound(TongxinError):
    """404: no such record (or one the token may not see)."""

    status = 404


class MethodNotAllowed(TongxinError):
    """405."""

    status = 405


class Conflict(TongxinError):
    """409: the write conflicts with what the hub holds."""

    status = 409


class AlreadyExists(Conflict):
    """409 ``already-exists``: the id is taken by a record with other content."""


class DuplicateCitizenId(Conflict):
    """409 ``duplicate-citizen-id``: another member has this citizen ID."""

    @property
    def existing(self) -> str | None:
        """The URL of the member holding the number, when the caller may read it."""
        value = self.problem.get("existing")
        return value if isinstance(value, str) else None


class StillReferenced(Conflict):
    """409 ``still-referenced``: an organisation with members or children."""


class ReplicaReadOnly(Conflict):
    """409 ``replica-read-only``: the record belongs to another hub."""


class IdempotencyKeyInUse(Conflict):
    """409 ``idempotency-key-in-use``: the first request with this key is still running."""


class Gone(TongxinError):
    """410: the record was deleted, or a feed cursor is no longer valid."""

    status = 410


class Deleted(Gone):
    """410 ``deleted``: the record is a tombstone."""


class CursorExpired(Gone):
    """410 ``cursor-expired``: the cursor is older than the tombstone retention."""


class EpochChanged(Gone):
    """410 ``epoch-changed``: the hub was restored; re-sync from the start."""


class PreconditionFailed(TongxinError):
    """412 ``version-mismatch``: the record changed since it was read."""

    status = 412


class PayloadTooLarge(TongxinError):
    """413: body, bulk request or bulk line over the hub's limits."""

    status = 413


class UnsupportedMediaType(TongxinError):
    """415."""

    status = 415


class InvalidRecord(TongxinError):
    """422: the record (or request) breaks a rule; ``errors`` name pointer and rule."""

    status = 422


class IdempotencyKeyReused(InvalidRecord):
    """422 ``idempotency-key-reused``: the same key was sent with another body."""


class PreconditionRequired(TongxinError):
    """428 ``if-match-required``."""

    status = 428


class RateLimited(TongxinError):
    """429: the token's rate limit, or every validation slot busy; see ``retry_after``."""

    status = 429


class ServerError(TongxinError):
    """500 and other unexpected answers."""

    status = 500


class ServiceUnavailable(TongxinError):
    """503: database unavailable or hub not ready; see ``retry_after``."""

    status = 503


#: The class of each problem ``code``; a code not listed falls back to its status's class.
PROBLEM_CLASSES: dict[str, type[TongxinError]] = {
    "already-exists": AlreadyExists,
    "duplicate-citizen-id": DuplicateCitizenId,
    "still-referenced": StillReferenced,
    "replica-read-only": ReplicaReadOnly,
    "idempotency-key-in-use": IdempotencyKeyInUse,
    "deleted": Deleted,
    "cursor-expired": CursorExpired,
    "epoch-changed": EpochChanged,
    "idempotency-key-reused": IdempotencyKeyReused,
}

_BY_STATUS: dict[int, type[TongxinError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        Gone,
        PreconditionFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        InvalidRecord,
        PreconditionRequired,
        RateLimited,
        ServiceUnavailable,
    )
}


def error_from_problem(
    status: int, body: Mapping[str, Any] | None, retry_after: float | None = None
) -> TongxinError:
    """The exception for an error answer: by its problem ``code``, else by its status."""
    body = body or {}
    code = str(body.get("code", ""))
    cls = PROBLEM_CLASSES.get(code) or _BY_STATUS.get(status) or ServerError
    raw_errors = body.get("errors")
    errors = tuple(
        ProblemError.from_json(e)
        for e in (raw_errors if isinstance(raw_errors, list) else [])
        if isinstance(e, Mapping)
    )
    detail = str(body.get("detail") or body.get("title") or f"HTTP {status}")
    return cls(
        detail,
        status=status,
        code=code,
        detail_zh=str(body.get("detailZh", "")),
        errors=errors,
        problem=body,
        retry_after=retry_after,
    )
