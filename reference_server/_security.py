"""Bearer tokens, scopes and organisation subtrees.

A token is ``tx_`` followed by 43 random characters; the hub stores only its SHA-256. Each token
has scopes, optionally an organisation (it then sees and writes only that organisation's
subtree) and optionally an expiry. Tokens are listed and revoked by ``tongxin token list`` and
``tongxin token revoke``; a revoked or expired token is refused within five seconds on every
worker (the cache lifetime).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tongxin.schemas import problems

from ._db import Database
from ._errors import BadRequest, Forbidden, NotFound, Unauthorized
from ._tables import org_tree, tokens

__all__ = [
    "NOWHERE",
    "SCOPES",
    "Principal",
    "RateLimiter",
    "TokenInfo",
    "TokenStore",
    "create_token",
    "list_tokens",
    "org_path",
    "revoke_token",
]

#: The subtree of a caller limited to an organisation that is no longer in the tree: a prefix no
#: tree path has (paths start with an id, and ids start with a letter or digit), valid text for
#: every database (PostgreSQL refuses a NUL character in text).
NOWHERE = "/"

#: Every scope with its meaning (also published in the discovery document).
SCOPES: dict[str, str] = {
    "records:read": "read records, lists and the change feed (without citizenId and phone)",
    "records:read-sensitive": "also read citizenId and phone (single records; lists and the "
    "change feed with include=sensitive)",
    "records:write": "create, replace and delete records; bulk writes",
    "admin": "everything above, plus the audit log",
}
_CACHE_SECONDS = 5.0
_REFRESH_AHEAD = 1.0


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: token id, scopes and the organisation subtree it is limited to."""

    token_id: str
    scopes: frozenset[str]
    organisation_id: str | None = None
    #: The organisation's path in the tree (``a/b/``); None when unrestricted.
    subtree: str | None = None
    rate_limit: float | None = None

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def require(self, scope: str) -> None:
        if not self.has(scope):
            raise Forbidden(
                problems.SCOPE_MISSING,
                f"this token lacks the scope {scope}",
                f"此令牌缺少权限 {scope}",
                scope=scope,
            )

    @property
    def restricted(self) -> bool:
        return self.organisation_id is not None

    def sees(self, path: str | None) -> bool:
        """True when an organisation at ``path`` lies in this token's subtree."""
        if self.subtree is None:
            return not self.restricted
        return path is not None and path.startswith(self.subtree)


def org_path(conn: Connection, org_id: str) -> str | None:
    """The stored tree path of an organisation, or None when unknown."""
    path: str | None = conn.execute(
        select(org_tree.c.path).where(org_tree.c.id == org_id)
    ).scalar_one_or_none()
    return path


def create_token(
    db: Database,
    scopes: list[str],
    *,
    organisation_id: str | None = None,
    name: str = "",
    rate_limit: float | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Store a new token and return it (the only time it is visible); it is refused from
    ``expires_at`` on when given (an aware datetime)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise BadRequest(
            problems.UNKNOWN_SCOPE,
            f"unknown or missing scope {', '.join(unknown)}; known: {', '.join(SCOPES)}",
            f"未知或缺少权限 {', '.join(unknown)}；可用：{', '.join(SCOPES)}",
        )
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= datetime.now(UTC)):
        raise BadRequest(
            problems.INVALID_EXPIRY,
            "the expiry must be a future time with a time zone",
            "有效期截止时间必须是带时区的将来时间",
        )
    token = "tx_" + secrets.token_urlsafe(32)
    with db.write() as conn:
        if organisation_id is not None and org_path(conn, organisation_id) is None:
            raise BadRequest(
                problems.UNKNOWN_ORGANISATION,
                f"organisation {organisation_id} does not exist on this hub",
                f"本枢纽不存在党组织 {organisation_id}",
            )
        conn.execute(
            insert(tokens).values(
                id="tk_" + secrets.token_hex(6),
                secret_hash=_hash(token),
                name=name,
                scopes=" ".join(sorted(set(scopes))),
                organisation_id=organisation_id,
                rate_limit=rate_limit,
                created_at=datetime.now(UTC),
                expires_at=expires_at,
            )
        )
    return token


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What ``tongxin token list`` shows of a token (never its secret)."""

    id: str
    name: str
    scopes: tuple[str, ...]
    organisation_id: str | None
    rate_limit: float | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def state(self) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= datetime.now(UTC):
            return "expired"
        return "active"

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "scopes": list(self.scopes),
            "organisationId": self.organisation_id,
            "rateLimit": self.rate_limit,
            "createdAt": _stamp(self.created_at),
            "expiresAt": _stamp(self.expires_at),
            "revokedAt": _stamp(self.revoked_at),
            "state": self.state,
        }

    @classmethod
    def of(cls, row: Any) -> TokenInfo:
        return cls(
            row.id,
            row.name,
            tuple(row.scopes.split()),
            row.organisation_id,
            row.rate_limit,
            _aware(row.created_at),
            _aware(row.expires_at),
            _aware(row.revoked_at),
        )


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def list_tokens(db: Database) -> list[TokenInfo]:
    """Every token of the hub, oldest first, revoked and expired ones included."""
    with db.read() as conn:
        rows = conn.execute(select(tokens).order_by(tokens.c.created_at, tokens.c.id)).all()
    return [TokenInfo.of(row) for row in rows]


def revoke_token(db: Database, token_id: str) -> TokenInfo:
    """Revoke a token (idempotent: a revoked token keeps its first revocation time)."""
    with db.write() as conn:
        row = conn.execute(select(tokens).where(tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(problems.TOKEN_UNKNOWN, f"no token {token_id}", f"没有令牌 {token_id}")
        if row.revoked_at is None:
            conn.execute(
                update(tokens).where(tokens.c.id == token_id).values(revoked_at=datetime.now(UTC))
            )
            row = conn.execute(select(tokens).where(tokens.c.id == token_id)).first()
    return TokenInfo.of(row)


class TokenStore:
    """Looks tokens up by hash, with a short cache (revocation applies within 5 seconds)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def cached(self, authorization: str | None) -> Principal | None:
        """The principal from the cache, without touching the database; None on a miss."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        hit = self._cache.get(_hash(authorization[7:].strip()))
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def due(self, authorization: str) -> bool:
        """True when the cached entry of this bearer value is missing or ends within a second:
        :meth:`authenticate` should load it again (once, off the hot path) before it ends, so
        a busy caller never finds it expired. Revocation still applies within 5 seconds: an
        entry lives 5 seconds from the database read that made it."""
        hit = self._cache.get(_hash(authorization[7:].strip()))
        return hit is None or hit[0] - time.monotonic() < _REFRESH_AHEAD

    def reload(self, authorization: str) -> None:
        """Load the token again (the cache entry is replaced; dropped when no longer valid)."""
        digest = _hash(authorization[7:].strip())
        now = time.monotonic()
        try:
            principal, lifetime = self._load(digest)
        except Unauthorized:
            with self._lock:
                self._cache.pop(digest, None)
            return
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + min(_CACHE_SECONDS, lifetime), principal)

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization: Bearer …`` header value."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized(
                problems.UNAUTHORIZED,
                "send a bearer token: Authorization: Bearer tx_…",
                "请使用持有者令牌：Authorization: Bearer tx_…",
                headers={"WWW-Authenticate": 'Bearer realm="tongxin"'},
            )
        digest = _hash(authorization[7:].strip())
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        principal, lifetime = self._load(digest)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + min(_CACHE_SECONDS, lifetime), principal)
        return principal

    def _load(self, digest: str) -> tuple[Principal, float]:
        """The token's principal and how many seconds it may stay cached (its expiry)."""
        with self._db.read() as conn:
            row = conn.execute(select(tokens).where(tokens.c.secret_hash == digest)).first()
            expires = None if row is None else _aware(row.expires_at)
            left = _CACHE_SECONDS
            if expires is not None:
                left = (expires - datetime.now(UTC)).total_seconds()
            if row is None or row.revoked_at is not None or left <= 0:
                raise Unauthorized(
                    problems.UNAUTHORIZED,
                    "unknown, revoked or expired token",
                    "令牌无效、已吊销或已过期",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            subtree = None
            if row.organisation_id is not None:
                subtree = org_path(conn, row.organisation_id) or NOWHERE
        principal = Principal(
            row.id, frozenset(row.scopes.split()), row.organisation_id, subtree, row.rate_limit
        )
        return principal, left


class RateLimiter:
    """A token bucket per token: ``rate`` requests per second, bursts of ten seconds' worth."""

    def __init__(self, default_rate: float) -> None:
        self.default_rate = default_rate
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, principal: Principal) -> float:
        """0 when the request may go ahead, else the seconds to wait."""
        rate = self.default_rate if principal.rate_limit is None else principal.rate_limit
        if rate <= 0:
            return 0.0
        burst = max(rate * 10, 1.0)
        now = time.monotonic()
        with self._lock:
            level, last = self._buckets.get(principal.token_id, (burst, now))
            level = min(burst, level + (now - last) * rate)
            if level < 1:
                self._buckets[principal.token_id] = (level, now)
                return (1 - level) / rate
            self._buckets[principal.token_id] = (level - 1, now)
        return 0.0
