"""Database access: engines for SQLite and PostgreSQL, migrations, and the two kinds of
transaction the services use.

Every writing transaction starts by taking the hub's change-sequence row (``hub_state``) with a
row lock (PostgreSQL) or ``BEGIN IMMEDIATE`` (SQLite): writers run one at a time, so the order
of change sequences is the order of commits and a change-feed reader never skips a change.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, insert, select, update

from ._errors import ConfigurationError
from ._settings import Settings
from ._tables import hub_identity, hub_state, peers, records, transfer_letters

__all__ = ["Database", "HubIdChangeError", "HubIdentity", "alembic_config", "migrate"]


class HubIdChangeError(ConfigurationError):
    """The hub id cannot change: data is stored under the old one. Bilingual message."""

    def __init__(self, old: str, new: str, held: list[str]) -> None:
        self.old, self.new, self.held = old, new, held
        en = (
            f"this database already holds {', '.join(held)} of hub {old}, so its id cannot "
            f"become {new}: record ids, peers' copies and signing keys carry the id. Keep the "
            f"id {old}, or start hub {new} on a new, empty database (--database or "
            "TONGXIN_DATABASE_URL)"
        )
        zh = (
            f"本数据库已保存枢纽 {old} 的数据，枢纽标识不能改为 {new}：记录标识、对方枢纽的副本"
            f"和签名密钥都带有该标识。请继续使用 {old}，或为 {new} 另建一个空数据库"
        )
        super().__init__(f"{en}\n{zh}")
        self.en, self.zh = en, zh


def _sqlite_engine(url: str, settings: Settings, begin: str) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 60}, pool_size=settings.pool_size
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={settings.sqlite_synchronous}")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def alembic_config(conn: Connection, cipher: Any = None) -> Config:
    """An alembic configuration running the packaged migrations on ``conn``; ``cipher`` (the
    hub's field cipher) lets a migration seal data at rest."""
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("tongxin.server").joinpath("migrations"))
    )
    config.attributes["connection"] = conn
    config.attributes["cipher"] = cipher
    return config


def migrate(engine: Engine, revision: str = "head", cipher: Any = None) -> None:
    """Upgrade the database to ``revision`` (creating it from nothing if needed); refuses a
    database newer than the code (:func:`._schema.refuse_newer`)."""
    from ._schema import record_software, refuse_newer

    with engine.connect() as conn:
        refuse_newer(conn)
        conn.commit()
        command.upgrade(alembic_config(conn, cipher), revision)
        conn.commit()
    if revision == "head":
        with engine.begin() as conn:
            record_software(conn)


def _create_private(path: Path | None) -> None:
    """Create a new SQLite file with mode 0600 (SQLite gives its -wal and -shm files the same
    mode), so only the hub's user reads the members' records."""
    if path is None or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class HubIdentity:
    """Who this hub is: its id, name and the epoch of its change feed."""

    def __init__(self, hub_id: str, name: str, epoch: str) -> None:
        self.hub_id, self.name, self.epoch = hub_id, name, epoch


class Database:
    """The engines of one hub database and its transactions."""

    def __init__(self, settings: Settings) -> None:
        url = settings.database_url
        self.dialect = "sqlite" if settings.is_sqlite else "postgresql"
        if self.dialect == "sqlite":
            _create_private(settings.sqlite_path())
            self.reader = _sqlite_engine(url, settings, "BEGIN")
            self.writer = _sqlite_engine(url, settings, "BEGIN IMMEDIATE")
        else:
            self.writer = create_engine(
                url, pool_size=settings.pool_size, max_overflow=settings.pool_size
            )
            # Reads are single statements: autocommit spares the BEGIN/ROLLBACK round trips.
            self.reader = create_engine(
                url,
                pool_size=settings.pool_size,
                max_overflow=settings.pool_size,
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
            )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        with self.reader.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A writing transaction, committed on success; it holds the hub's write lock."""
        with self.writer.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(select(hub_state.c.id).where(hub_state.c.id == 1).with_for_update())
            yield conn

    def migrate(self, cipher: Any = None) -> None:
        migrate(self.writer, cipher=cipher)

    def identity(self) -> HubIdentity | None:
        with self.read() as conn:
            row = conn.execute(select(hub_identity)).first()
        return None if row is None else HubIdentity(row.hub_id, row.name, row.epoch)

    def ensure_identity(self, hub_id: str, name: str, key_id: str) -> HubIdentity:
        """The stored identity, created with ``hub_id`` and ``name`` when there is none; refuses a
        key other than the one the data was encrypted with."""
        with self.write() as conn:
            row = conn.execute(select(hub_identity)).first()
            if row is None:
                epoch = uuid.uuid4().hex
                conn.execute(
                    insert(hub_identity).values(
                        id=1,
                        hub_id=hub_id,
                        name=name,
                        epoch=epoch,
                        key_id=key_id,
                        created_at=datetime.now(UTC),
                    )
                )
                return HubIdentity(hub_id, name, epoch)
        if row.key_id != key_id:
            raise ConfigurationError(
                f"the field-encryption key (id {key_id}) is not the key of this database "
                f"(id {row.key_id}): point TONGXIN_KEY_FILE or TONGXIN_SECRET_KEY at the right key"
            )
        return HubIdentity(row.hub_id, row.name, row.epoch)

    def change_hub_id(self, hub_id: str) -> HubIdentity:
        """Give a hub that holds nothing yet (no record, tombstone, peer or transfer letter:
        only the identity a first zero-configuration start made) another id. Refuses, with
        the reason, once there is data under the old id."""
        with self.write() as conn:
            row = conn.execute(select(hub_identity)).one()
            held = [
                what
                for table, what in (
                    (records, "records"),
                    (peers, "peers"),
                    (transfer_letters, "transfer letters"),
                )
                if conn.execute(select(table).limit(1)).first() is not None
            ]
            if held:
                raise HubIdChangeError(row.hub_id, hub_id, held)
            conn.execute(update(hub_identity).values(hub_id=hub_id))
        return HubIdentity(hub_id, row.name, row.epoch)

    def rename(self, name: str) -> None:
        with self.write() as conn:
            conn.execute(update(hub_identity).values(name=name))

    def dispose(self) -> None:
        self.reader.dispose()
        self.writer.dispose()
