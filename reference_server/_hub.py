"""The hub as a plain object: settings, database, identity, key and tokens, wired once by
:func:`open_hub` and shared by the services, the HTTP layer and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ._crypto import FieldCipher, load_key
from ._db import Database, HubIdentity
from ._security import RateLimiter, TokenStore
from ._settings import Settings

__all__ = ["Hub", "now_stamp", "open_hub"]


def now_stamp() -> tuple[str, int]:
    """The current time as RFC 3339 text (UTC, milliseconds) and as epoch microseconds."""
    now = datetime.now(UTC)
    return now.isoformat(timespec="milliseconds"), int(now.timestamp() * 1_000_000)


@dataclass(slots=True)
class Hub:
    """Everything a request needs; one per process."""

    settings: Settings
    db: Database
    identity: HubIdentity
    cipher: FieldCipher
    tokens: TokenStore
    limiter: RateLimiter

    @property
    def hub_id(self) -> str:
        return self.identity.hub_id

    def close(self) -> None:
        self.db.dispose()


def open_hub(settings: Settings, *, migrate: bool = True, create_key: bool | None = None) -> Hub:
    """Open (and by default migrate) the hub database described by ``settings``.

    The key file is created on first use in development mode; production needs it to exist.
    """
    if create_key is None:
        create_key = settings.environment == "development"
    key = load_key(settings, create=create_key)
    # A key file is followed while the hub runs (a data-key rotation rewrites it).
    source = settings.resolved_key_file() if settings.secret_key is None else None
    cipher = FieldCipher(key, source)
    db = Database(settings)
    if migrate:
        db.migrate(cipher)
    identity = db.ensure_identity(settings.hub_id, settings.hub_name, cipher.key_id)
    return Hub(
        settings, db, identity, cipher, TokenStore(db), RateLimiter(settings.rate_limit_per_second)
    )
