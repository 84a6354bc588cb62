"""Liveness and readiness (``GET /healthz``, ``GET /readyz``).

Ready means: the database answers, its schema is this release's (no pending migration, not
newer), and the keys are readable — the field-encryption key is the one the data was encrypted
with, and the signing key store (when the hub has one) loads.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from tongxin.federation import KeyStore, KeyStoreError, key_store_path
from tongxin.schemas import problems

from ._crypto import FieldCipher, load_key
from ._errors import ConfigurationError, ServiceUnavailable
from ._hub import Hub
from ._schema import code_head, current_revision

__all__ = ["NotReady", "readiness"]


class NotReady(ServiceUnavailable):
    """The hub is alive but cannot serve (503 ``not-ready``); ``reason`` names why."""


@dataclass(frozen=True)
class _Failure:
    reason: str
    en: str
    zh: str


def _check(hub: Hub) -> _Failure | None:
    try:
        with hub.db.read() as conn:
            conn.execute(text("SELECT 1"))
            revision = current_revision(conn)
        if hub.db.dialect == "postgresql":
            # The writers' pool too: a connection that died in an outage is found (and the
            # pool renewed) here rather than by the next write.
            with hub.db.writer.connect() as conn:
                conn.execute(text("SELECT 1"))
    except Exception as error:
        return _Failure(
            "database-unreachable",
            f"the database does not answer ({type(error).__name__})",
            "数据库无法连接",
        )
    if revision != code_head():
        return _Failure(
            "migrations-not-current",
            f"the database schema is at {revision}, this release needs {code_head()}: run "
            "`tongxin migrate`",
            f"数据库结构版本为 {revision}，本程序需要 {code_head()}：请运行 `tongxin migrate`",
        )
    try:
        if FieldCipher(load_key(hub.settings, create=False)).key_id != hub.cipher.key_id:
            raise ConfigurationError("the key changed")
        store = key_store_path(hub.settings.database_url)
        if store.exists():
            KeyStore.load(store)
    except (ConfigurationError, KeyStoreError, OSError):
        return _Failure(
            "keys-unreadable",
            "the field-encryption key or the signing key store cannot be read (or changed)",
            "字段加密密钥或签名密钥库无法读取（或已被更换）",
        )
    return None


def readiness(hub: Hub) -> None:
    """Return when the hub is ready; raise :class:`NotReady` naming the first failing check."""
    failure = _check(hub)
    if failure is not None:
        raise NotReady(
            problems.NOT_READY,
            f"not ready: {failure.en}",
            f"枢纽未就绪：{failure.zh}",
            reason=failure.reason,
            headers={"Retry-After": "5"},
        )
