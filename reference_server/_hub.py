"""The hub as a plain object: settings, database, identity, key and tokens, wired once by
:func:`open_hub` and shared by the services, the HTTP layer and the CLI. The process state the
services keep between requests lives here too, and so does the one way out to other hubs:
:meth:`Hub.http` builds every HTTP client on the hub's transport (real sockets unless one is
injected, e.g. ``httpx.MockTransport`` in a test)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from tongxin.federation import KeyStore

from ._crypto import FieldCipher, load_key
from ._db import Database, HubIdentity
from ._security import RateLimiter, TokenStore
from ._settings import Settings

__all__ = ["Hub", "ProcessState", "now_stamp", "open_hub"]


def now_stamp() -> tuple[str, int]:
    """The current time as RFC 3339 text (UTC, milliseconds) and as epoch microseconds."""
    now = datetime.now(UTC)
    return now.isoformat(timespec="milliseconds"), int(now.timestamp() * 1_000_000)


@dataclass(slots=True)
class ProcessState:
    """What the services remember between requests in this process (never shared between
    processes: each worker has its own)."""

    #: ``(token id, Idempotency-Key)`` of the ``/v1/bulk`` requests running now.
    bulk_running: set[tuple[str, str]] = field(default_factory=set)
    bulk_lock: threading.Lock = field(default_factory=threading.Lock)
    #: The signing key store as loaded, with the key file's modification time.
    key_store: tuple[float, KeyStore] | None = None
    #: The feed position up to which the outbox checked transfer records for a letter.
    outbox_scanned: int = 0


@dataclass(slots=True)
class Hub:
    """Everything a request needs; one per process."""

    settings: Settings
    db: Database
    identity: HubIdentity
    cipher: FieldCipher
    tokens: TokenStore
    limiter: RateLimiter
    #: Carries every request to other hubs; None: the network (``httpx.HTTPTransport``).
    transport: httpx.BaseTransport | None = None
    state: ProcessState = field(default_factory=ProcessState)

    @property
    def hub_id(self) -> str:
        return self.identity.hub_id

    def http(self, *, auth: httpx.Auth | None = None, timeout: float = 30) -> httpx.Client:
        """A client to other hubs (key sets, certificates, feeds, letters) on the hub's
        transport; the caller closes it."""
        return httpx.Client(auth=auth, timeout=timeout, transport=self.transport)

    def close(self) -> None:
        self.db.dispose()


def open_hub(
    settings: Settings,
    *,
    migrate: bool = True,
    create_key: bool | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Hub:
    """Open (and by default migrate) the hub database described by ``settings``; requests to
    other hubs go through ``transport`` (None: the network).

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
        settings,
        db,
        identity,
        cipher,
        TokenStore(db),
        RateLimiter(settings.rate_limit_per_second),
        transport,
    )
