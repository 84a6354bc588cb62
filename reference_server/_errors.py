"""The hub's exceptions. Every failure a client can cause is a :class:`HubError` that knows its
wire form (RFC 9457): HTTP status, a stable machine ``code``, a bilingual detail and, for
invalid input, the issues (JSON Pointer, rule, message). One handler in ``api`` turns them into
``application/problem+json``.

    HubError                      status  code
    ├── BadRequest                400     bad-request, invalid-json, invalid-cursor, …
    ├── Unauthorized              401     unauthorized
    ├── Forbidden                 403     forbidden, outside-subtree, scope-missing
    ├── NotFound                  404     not-found
    ├── Conflict                  409     conflict, duplicate-citizen-id, replica-read-only, …
    ├── Gone                      410     deleted, cursor-expired, epoch-changed
    ├── PreconditionFailed        412     version-mismatch
    ├── PayloadTooLarge           413     payload-too-large
    ├── UnsupportedMediaType      415     unsupported-media-type
    ├── Unprocessable             422     invalid-record, idempotency-key-reused, …
    ├── PreconditionRequired      428     if-match-required
    └── RateLimited               429     rate-limited

    ConfigurationError            unsafe or unusable settings (start-up, CLI); not an HTTP error
"""

from __future__ import annotations

from typing import Any, ClassVar

from tongxin.federation._errors import PROBLEM_BASE  # one namespace for hub and protocol
from tongxin.schemas import Issue

__all__ = [
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "Gone",
    "HubError",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "PreconditionRequired",
    "RateLimited",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
]


class ConfigurationError(Exception):
    """Settings that are unsafe or unusable; the message says how to fix them."""


class HubError(Exception):
    """A problem the client can act on. Subclasses fix ``status``, ``title`` and a default code."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Hub error"
    default_code: ClassVar[str] = "error"

    def __init__(
        self,
        en: str,
        zh: str,
        *,
        code: str | None = None,
        issues: list[Issue] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(en)
        self.detail_en, self.detail_zh = en, zh
        self.code = code or self.default_code
        self.issues = issues or []
        self.extra = extra or {}
        self.headers = headers or {}

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 body: ``type, title, status, detail, code, errors`` (+ extensions)."""
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail_en,
            "detailZh": self.detail_zh,
            "code": self.code,
            "errors": [issue_to_error(i) for i in self.issues],
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def issue_to_error(issue: Issue) -> dict[str, Any]:
    """One entry of a problem's ``errors``: pointer, rule, severity and the bilingual message."""
    return {
        "pointer": issue.path,
        "rule": issue.rule,
        "severity": issue.severity.value,
        "message": {"zh-CN": issue.message_zh, "en": issue.message_en},
    }


class BadRequest(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 400, "Bad request", "bad-request"


class Unauthorized(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 401, "Unauthorized", "unauthorized"


class Forbidden(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 403, "Forbidden", "forbidden"


class NotFound(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 404, "Not found", "not-found"


class Conflict(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 409, "Conflict", "conflict"


class Gone(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 410, "Gone", "gone"


class PreconditionFailed(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 412, "Precondition failed", "version-mismatch"


class PayloadTooLarge(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 415, "Unsupported media type", "unsupported-media-type"


class Unprocessable(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 422, "Unprocessable content", "invalid-record"


class PreconditionRequired(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 428, "Precondition required", "if-match-required"


class RateLimited(HubError):  # noqa: N818 (named after the HTTP status)
    status, title, default_code = 429, "Too many requests", "rate-limited"
