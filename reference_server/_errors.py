"""The hub's exceptions. Every failure a client can cause is a :class:`HubError` (a
:class:`tongxin.schemas.TongxinError`) that knows its wire form (RFC 9457): HTTP status, a
catalogued ``code`` (:mod:`tongxin.schemas.problems`), a bilingual detail and, for invalid
input, the issues (JSON Pointer, rule, message). Every constructor takes ``(code, en, zh)``;
one handler in ``api`` turns every error into ``application/problem+json``.

    HubError                      status  codes: see the catalogue (``kind``)
    ├── BadRequest                400
    ├── Unauthorized              401
    ├── Forbidden                 403
    ├── NotFound                  404
    ├── MethodNotAllowed          405
    ├── Conflict                  409
    ├── Gone                      410
    ├── PreconditionFailed        412
    ├── PayloadTooLarge           413
    ├── UnsupportedMediaType      415
    ├── Unprocessable             422
    ├── PreconditionRequired      428
    ├── RateLimited               429
    ├── InternalError             500
    └── ServiceUnavailable        503
        └── NotReady              503 (``tongxin.server._health``)

    ConfigurationError            unsafe or unusable settings (start-up, CLI); not an HTTP error
"""

from __future__ import annotations

from typing import Any

from tongxin.schemas import Issue, TongxinError

__all__ = [
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "Gone",
    "HubError",
    "InternalError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "PreconditionRequired",
    "RateLimited",
    "ServiceUnavailable",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
]


class ConfigurationError(Exception):
    """Settings that are unsafe or unusable; the message says how to fix them."""


class HubError(TongxinError):
    """A problem the client can act on. Subclasses fix ``status``."""

    fallback_title = "Hub error"

    def __str__(self) -> str:
        return self.detail_en


def issue_to_error(issue: Issue) -> dict[str, Any]:
    """One entry of a problem's ``errors`` (:meth:`Issue.to_wire`)."""
    return issue.to_wire()


class BadRequest(HubError):  # noqa: N818 (named after the HTTP status)
    status = 400


class Unauthorized(HubError):  # noqa: N818 (named after the HTTP status)
    status = 401


class Forbidden(HubError):  # noqa: N818 (named after the HTTP status)
    status = 403


class NotFound(HubError):  # noqa: N818 (named after the HTTP status)
    status = 404


class MethodNotAllowed(HubError):  # noqa: N818 (named after the HTTP status)
    status = 405


class Conflict(HubError):  # noqa: N818 (named after the HTTP status)
    status = 409


class Gone(HubError):  # noqa: N818 (named after the HTTP status)
    status = 410


class PreconditionFailed(HubError):  # noqa: N818 (named after the HTTP status)
    status = 412


class PayloadTooLarge(HubError):  # noqa: N818 (named after the HTTP status)
    status = 413


class UnsupportedMediaType(HubError):  # noqa: N818 (named after the HTTP status)
    status = 415


class Unprocessable(HubError):  # noqa: N818 (named after the HTTP status)
    status = 422


class PreconditionRequired(HubError):  # noqa: N818 (named after the HTTP status)
    status = 428


class RateLimited(HubError):  # noqa: N818 (named after the HTTP status)
    status = 429


class InternalError(HubError):
    status = 500


class ServiceUnavailable(HubError):  # noqa: N818 (named after the HTTP status)
    status = 503
