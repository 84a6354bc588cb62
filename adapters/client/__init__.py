"""``tongxin.client``: the typed client of a Tongxin hub, sync and async.

    from tongxin.client import Client, PreconditionFailed

    with Client("https://hub.example", token="…") as hub:
        member = hub.members.get("cd-wuhou:m1")
        member.phone = "13800000000"
        hub.members.update(member)             # If-Match: the version it was read with

Records are the standard's own models (:mod:`tongxin.schemas`). Every error is a
:class:`TongxinError` subclass named after its problem type, carrying the problem's errors.
Connection errors, 429 and 503 are retried with jittered backoff (``Retry-After`` honoured);
creates and bulk requests are safe to retry and never write anything twice.
"""

from ._async import AsyncChangeFeed, AsyncClient, AsyncCollection
from ._core import BulkResult, Change, Delete, RetryPolicy, Upsert, ValidationReport
from ._errors import (
    PROBLEM_CLASSES,
    AlreadyExists,
    BadRequest,
    Conflict,
    ConnectionFailed,
    CursorExpired,
    Deleted,
    DuplicateCitizenId,
    EpochChanged,
    Forbidden,
    Gone,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidRecord,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    ProblemError,
    RateLimited,
    ReplicaReadOnly,
    ServerError,
    ServiceUnavailable,
    StillReferenced,
    TongxinError,
    Unauthorized,
    UnsupportedMediaType,
    error_from_problem,
)
from ._sync import ChangeFeed, Client, Collection

__all__ = [
    "PROBLEM_CLASSES",
    "AlreadyExists",
    "AsyncChangeFeed",
    "AsyncClient",
    "AsyncCollection",
    "BadRequest",
    "BulkResult",
    "Change",
    "ChangeFeed",
    "Client",
    "Collection",
    "Conflict",
    "ConnectionFailed",
    "CursorExpired",
    "Delete",
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
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "StillReferenced",
    "TongxinError",
    "Unauthorized",
    "UnsupportedMediaType",
    "Upsert",
    "ValidationReport",
    "error_from_problem",
]
