"""The database schema's revision against the code's: pending migrations (``tongxin migrate
--dry-run``), the refusal to run on a database newer than the code, readiness (``/readyz``).

Each migration to the head records the release that ran it (``schema_software``), so an older
release that meets a newer database names the release to install.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, insert, inspect, select, update

import tongxin

from ._errors import ConfigurationError
from ._tables import schema_software

__all__ = [
    "Migration",
    "code_head",
    "current_revision",
    "known",
    "pending",
    "record_software",
    "refuse_newer",
]


@dataclass(frozen=True)
class Migration:
    """One migration: its revision and the first line of its description."""

    revision: str
    title: str


@cache
def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("tongxin.server").joinpath("migrations"))
    )
    return ScriptDirectory.from_config(config)


def code_head() -> str:
    """The newest revision this release knows."""
    head = _script().get_current_head()
    assert head is not None
    return head


def known(revision: str) -> bool:
    """True when this release has the migration ``revision``."""
    try:
        return _script().get_revision(revision) is not None
    except Exception:
        return False


def current_revision(conn: Connection) -> str | None:
    """The database's revision (None: an empty database)."""
    return MigrationContext.configure(conn).get_current_revision()


def refuse_newer(conn: Connection) -> None:
    """Raise :class:`ConfigurationError` when the database's revision is unknown to this code
    (a newer release migrated it), naming the release to install."""
    revision = current_revision(conn)
    if revision is None or known(revision):
        return
    release = None
    if inspect(conn).has_table("schema_software"):
        release = conn.execute(select(schema_software.c.version)).scalar()
    need = f"Tongxin {release} or newer" if release else "a newer release of Tongxin"
    need_zh = f"同心 {release} 或更新版本" if release else "更新版本的同心"
    raise ConfigurationError(
        f"数据库结构版本 {revision} 比本程序（同心 {tongxin.__version__}，结构版本 "
        f"{code_head()}）新，枢纽拒绝启动：请安装{need_zh}\n"
        f"the database's schema revision {revision} is newer than this release (Tongxin "
        f"{tongxin.__version__}, schema {code_head()}); the hub refuses to start: install "
        f"{need}"
    )


def _doc(revision: str) -> str:
    script = _script().get_revision(revision)
    assert script is not None
    return (script.doc or "").strip().splitlines()[0] if script.doc else ""


def pending(conn: Connection) -> list[Migration]:
    """The migrations an upgrade to the head would run, oldest first."""
    refuse_newer(conn)
    current = current_revision(conn)
    steps = list(_script().iterate_revisions(code_head(), current))
    return [Migration(s.revision, _doc(s.revision)) for s in reversed(steps)]


def record_software(conn: Connection) -> None:
    """Remember that this release migrated the database to its head."""
    values = {
        "version": tongxin.__version__,
        "revision": code_head(),
        "migrated_at": datetime.now(UTC),
    }
    row = conn.execute(select(schema_software.c.version, schema_software.c.revision)).first()
    if row is None:
        conn.execute(insert(schema_software).values(id=1, **values))
    elif (row.version, row.revision) != (values["version"], values["revision"]):
        conn.execute(update(schema_software).values(**values))
