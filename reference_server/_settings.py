"""The hub's settings: one typed class, read from ``TONGXIN_*`` environment variables.

Zero configuration gives a development hub on ``./tongxin.db`` with a key file next to it.
:meth:`Settings.check` refuses unsafe production settings and returns warnings for risky ones.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._errors import ConfigurationError

__all__ = ["DEFAULT_DATABASE_URL", "Settings", "is_loopback"]

DEFAULT_DATABASE_URL = "sqlite:///tongxin.db"
#: Secrets that appear in examples and must never protect real data.
_KNOWN_SECRETS = frozenset({"", "change-me", "changeme", "secret", "tongxin", "example", "test"})
_MIN_SECRET_CHARS = 32


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Every setting of a hub. Environment variables are ``TONGXIN_`` plus the upper-case name."""

    model_config = SettingsConfigDict(
        env_prefix="TONGXIN_", extra="ignore", use_attribute_docstrings=True
    )

    environment: Literal["development", "production"] = "development"
    """`development` or `production`; production refuses unsafe settings."""
    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL: `sqlite:///path` or `postgresql+psycopg://user@host/db`."""
    secret_key: SecretStr | None = None
    """The field-encryption key (base64 of 32 bytes); overrides the key file."""
    key_file: Path | None = None
    """The field-encryption key file when `secret_key` is unset (next to a SQLite file, else
    `./tongxin.key`); created by `tongxin init`, and on first start in development."""
    hub_id: str = Field("local-hub", pattern=r"^[a-z0-9][a-z0-9-]{2,31}$")
    """This hub's id (3–32 of a–z, 0–9, -) when the database has none yet; `tongxin init`
    sets it."""
    hub_name: str = "Tongxin hub"
    """This hub's name when the database has none yet; `tongxin init` sets it."""
    host: str = "127.0.0.1"
    """Address `tongxin serve` listens on."""
    port: int = Field(8000, ge=0, le=65535)
    """Port `tongxin serve` listens on."""
    workers: int = Field(1, ge=1, le=64)
    """Worker processes of `tongxin serve`."""
    public_url: str | None = None
    """The `https://` URL clients and peers use; links and signed URLs use it when set."""
    behind_tls_proxy: bool = False
    """Set when TLS ends at a reverse proxy in front of the hub."""
    page_size: int = Field(100, ge=1, le=1000)
    """Items per list page when `limit` is not given."""
    max_page_size: int = Field(1000, ge=1, le=10000)
    """Largest `limit` of a list page."""
    max_body_bytes: int = Field(1_048_576, ge=1024)
    """Largest JSON request body (bytes) outside `/v1/bulk` and `/v1/validate`."""
    max_validate_bytes: int = Field(16 * 1_048_576, ge=1024)
    """Largest package accepted by `POST /v1/validate` (bytes); bigger packages: validate them
    with `tongxin validate`, which streams files of any size."""
    max_validate_issues: int = Field(1000, ge=1, le=100_000)
    """Most issues listed in a `POST /v1/validate` report (`truncated` is set beyond; the counts
    stay complete)."""
    validate_concurrency: int = Field(1, ge=1, le=64)
    """Validations run at the same time per worker process; more wait for a slot."""
    validate_wait_seconds: float = Field(30, ge=0)
    """Seconds a validation waits for a slot before it is answered 503 with `Retry-After`."""
    max_bulk_line_bytes: int = Field(1_048_576, ge=1024)
    """Largest single NDJSON line of `/v1/bulk` (bytes)."""
    max_bulk_lines: int = Field(5_000_000, ge=1)
    """Most lines in one `/v1/bulk` request."""
    bulk_batch_lines: int = Field(2000, ge=1, le=50_000)
    """Lines written per database transaction by `/v1/bulk`."""
    idempotency_retention_hours: int = Field(24, ge=1)
    """Hours an Idempotency-Key and its results are kept."""
    tombstone_retention_days: float = Field(90, ge=0)
    """Days tombstones stay in the change feed; older cursors get 410 `cursor-expired`."""
    rate_limit_per_second: float = Field(50, ge=0)
    """Default requests per second per token (burst: 10 s worth); 0 = unlimited. A token's
    own limit: `tongxin token create --rate-limit N`."""
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """SQLite `synchronous`: `FULL` survives power loss, `NORMAL` only process crashes."""
    sync_interval_seconds: float = Field(5, ge=0)
    """Seconds between background federation rounds: pulls of the children's feeds and
    redelivery of letters, receipts and withdrawals (0 = off); failing peers back off on
    their own."""
    hint_interval_seconds: float = Field(0.5, ge=0)
    """Seconds between checks whether the feed has grown, to hint the parents "pull now"
    (0 = never hint; parents still pull at their interval)."""
    key_refresh_seconds: float = Field(600, ge=0)
    """Seconds after which a peer's key set is fetched again in a round, so that rotations
    and revocations take effect."""
    pool_size: int = Field(8, ge=1, le=200)
    """Database connections per worker process (PostgreSQL)."""
    metrics_public: bool = False
    """Serve `GET /metrics` without a token (only where the port is reachable from the
    monitoring network alone); otherwise `/metrics` needs an unrestricted admin token."""
    log_format: Literal["text", "json"] = "text"
    """Server logs as plain `text` or one `json` object per line, each with its request id."""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None (PostgreSQL, in-memory SQLite)."""
        if not self.is_sqlite or "///" not in self.database_url:
            return None
        name = self.database_url.split("///", 1)[1].split("?", 1)[0]
        return None if name in ("", ":memory:") else Path(name)

    def resolved_key_file(self) -> Path:
        """The key file path: the setting, else next to the SQLite file, else ``./tongxin.key``."""
        if self.key_file is not None:
            return self.key_file
        db = self.sqlite_path()
        return Path("tongxin.key") if db is None else db.with_name(db.stem + ".key")

    def check(self, *, serving: bool = True) -> list[str]:
        """Refuse unsafe settings (raise :class:`ConfigurationError`); return warnings."""
        warnings: list[str] = []
        production = self.environment == "production"
        secret = self.secret_key.get_secret_value() if self.secret_key else None
        if secret is not None and (
            secret.lower() in _KNOWN_SECRETS or len(secret) < _MIN_SECRET_CHARS
        ):
            raise ConfigurationError(
                "TONGXIN_SECRET_KEY is a placeholder or too short: generate one with "
                "`tongxin init` or `python -c 'import os,base64;"
                "print(base64.b64encode(os.urandom(32)).decode())'`"
            )
        if production and secret is None and not self.resolved_key_file().exists():
            raise ConfigurationError(
                f"production mode needs an existing key: run `tongxin init` to create "
                f"{self.resolved_key_file()} or set TONGXIN_SECRET_KEY"
            )
        if serving and not is_loopback(self.host):
            if not production:
                warnings.append(
                    f"listening on {self.host} in development mode: set "
                    "TONGXIN_ENVIRONMENT=production for a hub reachable from other machines"
                )
            if not self.behind_tls_proxy and not (self.public_url or "").startswith("https://"):
                message = (
                    "no TLS: the hub speaks plain HTTP; put it behind a TLS proxy and set "
                    "TONGXIN_BEHIND_TLS_PROXY=true and TONGXIN_PUBLIC_URL=https://…"
                )
                if production:
                    raise ConfigurationError(message)
                warnings.append(message)
        if production and self.public_url and self.public_url.startswith("http://"):
            raise ConfigurationError("TONGXIN_PUBLIC_URL must be https:// in production")
        if production and self.is_sqlite:
            warnings.append(
                "SQLite in production: fine for one small county, use PostgreSQL beyond"
            )
        if self.sqlite_synchronous != "FULL" and self.is_sqlite:
            warnings.append("sqlite_synchronous=NORMAL: a power cut may lose acknowledged writes")
        return warnings
