"""Backup, verification and restore of a whole hub (``tongxin backup`` / ``tongxin restore``).

A backup is one consistent snapshot taken while the hub keeps serving:

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies the database in one read
  transaction into a private temporary file; writers go on meanwhile (WAL);
- PostgreSQL: one ``SERIALIZABLE READ ONLY DEFERRABLE`` transaction streams every table with
  ``COPY … TO STDOUT`` — one snapshot of all tables, no client tools to keep in step with the
  server's version, and a row count per table for verification. A restore rebuilds the schema with
  the hub's own migrations (to the backup's revision), loads the rows with ``COPY … FROM STDIN``
  and then upgrades to the code's revision;

plus the field-encryption key, the signing key store and a manifest (hub id, name, epoch, key
fingerprint, schema revision, per-table row counts, SHA-256 of every entry), all in one file
encrypted with a passphrase (:mod:`._backupfile`). Backups and restores write audit entries
(action ``backup`` / ``restore``, type ``hub``, id = the backup's id). A restore gives the hub a
new random feed epoch.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tongxin.federation import key_store_path

from ._audit import audit_operator
from ._backupfile import MIN_PASSPHRASE, BackupError, SealingWriter, open_stream
from ._crypto import FieldCipher, KeyRing, load_key
from ._db import Database, migrate
from ._schema import known
from ._settings import Settings
from ._tables import hub_identity

__all__ = ["BackupError", "BackupInfo", "backup", "restore", "verify", "verify_backup"]

MANIFEST = "manifest.json"
SQLITE_ENTRY = "database.sqlite"
KEY_ENTRY = "field-key"
KEYSTORE_ENTRY = "signing-keys.json"
_SKIP = frozenset({"alembic_version"})


@dataclass(frozen=True)
class BackupInfo:
    """What a backup holds (its manifest)."""

    manifest: dict[str, Any]

    @property
    def backup_id(self) -> str:
        return str(self.manifest["backupId"])

    @property
    def tables(self) -> dict[str, int]:
        return {name: int(t["rows"]) for name, t in self.manifest["tables"].items()}

    def summary(self) -> str:
        m = self.manifest
        rows = sum(self.tables.values())
        return (
            f"backup {m['backupId']} of hub {m['hub']['id']} ({m['dialect']}, schema "
            f"{m['schemaRevision']}, {rows} rows in {len(self.tables)} tables, "
            f"taken {m['createdAt']})"
        )


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(
            f"the backup passphrase must have at least {MIN_PASSPHRASE} characters",
            f"备份口令至少需要 {MIN_PASSPHRASE} 个字符",
        )


def private_file(path: Path) -> IO[bytes]:
    """A new file, mode 0600 (it replaces nothing: the caller renames it into place)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "wb")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _blocks(f: IO[bytes]) -> Iterator[bytes]:
    while block := f.read(1 << 20):
        yield block


def _pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# -- taking a snapshot ------------------------------------------------------------------------


def _snapshot_sqlite(settings: Settings, work: Path) -> tuple[dict[str, Any], list[Path]]:
    path = settings.sqlite_path()
    if path is None or not path.exists():
        raise BackupError(f"no SQLite database at {path}", f"在 {path} 没有 SQLite 数据库")
    copy = work / SQLITE_ENTRY
    private_file(copy).close()
    source = sqlite3.connect(path, timeout=60)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)  # one step: a single read transaction, a consistent copy
    finally:
        source.close()
    try:
        tables = _sqlite_counts(target)
        (revision,) = target.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        target.close()
    return {"schemaRevision": revision, "tables": tables}, [copy]


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, Any]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        name: {"rows": conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]}
        for name in names
        if name not in _SKIP
    }


def _snapshot_postgresql(settings: Settings, work: Path) -> tuple[dict[str, Any], list[Path]]:
    import psycopg
    from psycopg import sql

    tables: dict[str, Any] = {}
    files: list[Path] = []
    with psycopg.connect(_pg_dsn(settings.database_url)) as pg:
        pg.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
        pg.read_only = True
        pg.deferrable = True
        with pg.transaction():
            row = pg.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = None if row is None else row[0]
            names = [
                r[0]
                for r in pg.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "ORDER BY tablename"
                )
                if r[0] not in _SKIP
            ]
            for name in names:
                columns = [
                    r[0]
                    for r in pg.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = %s "
                        "ORDER BY ordinal_position",
                        (name,),
                    )
                ]
                target = work / f"tables/{name}.copy"
                target.parent.mkdir(mode=0o700, exist_ok=True)
                rows = 0
                query = sql.SQL("COPY {} ({}) TO STDOUT").format(
                    sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
                )
                with private_file(target) as out, pg.cursor().copy(query) as copy:
                    for block in copy:
                        data = bytes(block)
                        rows += data.count(b"\n")
                        out.write(data)
                tables[name] = {"rows": rows, "columns": columns}
                files.append(target)
    return {"schemaRevision": revision, "tables": tables}, files


def backup(settings: Settings, out: Path, passphrase: str) -> BackupInfo:
    """Write an encrypted backup of the hub described by ``settings`` to ``out`` (mode 0600)."""
    check_passphrase(passphrase)
    key = load_key(settings, create=False)
    path = settings.sqlite_path()
    if settings.is_sqlite and (path is None or not path.exists()):
        raise BackupError(f"no SQLite database at {path}", f"在 {path} 没有 SQLite 数据库")
    db = Database(settings)
    try:
        try:
            identity = db.identity()
        except DBAPIError:
            identity = None
        if identity is None:
            raise BackupError(
                "this database holds no hub yet (run `tongxin init`)",
                "该数据库中还没有枢纽（请先运行 `tongxin init`）",
            )
        backup_id = uuid.uuid4().hex
        with tempfile.TemporaryDirectory(prefix="tongxin-backup-") as tmp:
            work = Path(tmp)
            if db.dialect == "sqlite":
                snapshot, files = _snapshot_sqlite(settings, work)
            else:
                snapshot, files = _snapshot_postgresql(settings, work)
            keyfile = work / KEY_ENTRY
            with private_file(keyfile) as f:
                f.write(key.encode())
            files.append(keyfile)
            store = key_store_path(settings.database_url)
            if store.exists():
                copy = work / KEYSTORE_ENTRY
                with private_file(copy) as f:
                    f.write(store.read_bytes())
                files.append(copy)
            manifest = {
                "format": "tongxin-backup-manifest/1",
                "backupId": backup_id,
                "createdAt": datetime.now(UTC).isoformat(timespec="seconds"),
                "dialect": db.dialect,
                "hub": {
                    "id": identity.hub_id,
                    "name": identity.name,
                    "epoch": identity.epoch,
                    "keyId": FieldCipher(key).key_id,
                },
                **snapshot,
                "files": {
                    str(f.relative_to(work)): {"sha256": _sha256(f), "size": f.stat().st_size}
                    for f in files
                },
            }
            manifest_file = work / MANIFEST
            with private_file(manifest_file) as f:
                f.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
            _write_archive(out, passphrase, work, [*files, manifest_file])
        with db.write() as conn:
            _audit(conn, "backup", backup_id)
    finally:
        db.dispose()
    return BackupInfo(manifest)


def _write_archive(out: Path, passphrase: str, work: Path, files: list[Path]) -> None:
    out = out.absolute()
    partial = out.with_name(out.name + ".partial")
    try:
        with private_file(partial) as raw:
            writer = SealingWriter(raw, passphrase)
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for f in files:
                    info = tar.gettarinfo(str(f), arcname=str(f.relative_to(work)))
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with f.open("rb") as data:
                        tar.addfile(info, data)
            writer.finish()
            raw.flush()
            os.fsync(raw.fileno())
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


def _audit(conn: Any, action: str, backup_id: str) -> None:
    audit_operator(conn, action, backup_id)


# -- reading a backup --------------------------------------------------------------------------


@contextlib.contextmanager
def _unpacked(path: Path, passphrase: str) -> Iterator[tuple[Path, BackupInfo]]:
    """Decrypt and check the whole backup into a private temporary directory."""
    try:
        source = path.open("rb")
    except OSError as error:
        raise BackupError(
            f"cannot read {path}: {error.strerror}", f"无法读取 {path}：{error.strerror}"
        ) from None
    with source, tempfile.TemporaryDirectory(prefix="tongxin-restore-") as tmp:
        work = Path(tmp)
        reader = open_stream(source, passphrase)
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in tar:
                    name = member.name
                    if not member.isfile() or name.startswith("/") or ".." in name.split("/"):
                        raise BackupError(
                            f"unexpected entry {name!r}", f"备份中有意外的条目 {name!r}"
                        )
                    target = work / name
                    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    data = tar.extractfile(member)
                    assert data is not None
                    with private_file(target) as out:
                        shutil.copyfileobj(data, out, 1 << 20)
        except tarfile.TarError as error:
            raise BackupError(
                f"the backup's contents are not readable ({error})", "备份内容无法读取"
            ) from None
        reader.drain()
        yield work, _check(work)


def _check(work: Path) -> BackupInfo:
    """Check the manifest against the entries: digests, sizes, key fingerprint, row counts."""
    try:
        manifest = orjson.loads((work / MANIFEST).read_bytes())
        files: dict[str, Any] = manifest["files"]
        tables: dict[str, Any] = manifest["tables"]
        dialect = manifest["dialect"]
        key_id = manifest["hub"]["keyId"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise BackupError(
            f"the manifest is missing or unreadable ({error})", "清单缺失或无法读取"
        ) from None
    present = {str(p.relative_to(work)) for p in work.rglob("*") if p.is_file()} - {MANIFEST}
    if present != set(files):
        raise BackupError(
            f"the entries do not match the manifest ({sorted(present ^ set(files))})",
            "备份条目与清单不一致",
        )
    for name, meta in files.items():
        if _sha256(work / name) != meta["sha256"] or (work / name).stat().st_size != meta["size"]:
            raise BackupError(f"entry {name} does not match its digest", f"条目 {name} 与摘要不符")
    try:
        ring = KeyRing.parse((work / KEY_ENTRY).read_bytes())
    except ValueError:
        ring = None
    if ring is None or ring.key_id != key_id:
        raise BackupError(
            "the field-encryption key in the backup is not the key of its data",
            "备份中的字段加密密钥与数据不匹配",
        )
    if dialect == "sqlite":
        conn = sqlite3.connect(work / SQLITE_ENTRY)
        try:
            (result,) = conn.execute("PRAGMA integrity_check").fetchone()
            if result != "ok":
                raise BackupError(
                    f"the database fails SQLite's integrity check ({result})",
                    "数据库未通过 SQLite 完整性检查",
                )
            counts = {name: t["rows"] for name, t in _sqlite_counts(conn).items()}
        finally:
            conn.close()
    else:
        counts = {}
        for name in tables:
            with (work / f"tables/{name}.copy").open("rb") as f:
                counts[name] = sum(block.count(b"\n") for block in _blocks(f))
    expected = {name: int(t["rows"]) for name, t in tables.items()}
    if counts != expected:
        wrong = sorted(n for n in set(counts) | set(expected) if counts.get(n) != expected.get(n))
        raise BackupError(
            f"row counts differ from the manifest in {', '.join(wrong)}",
            f"以下表的行数与清单不符：{', '.join(wrong)}",
        )
    return BackupInfo(manifest)


def verify(path: Path, passphrase: str) -> BackupInfo:
    """Check a backup (authentication of every chunk, manifest, digests, row counts) without
    restoring it."""
    with _unpacked(path, passphrase) as (_, info):
        return info


#: ``verify`` under the name ``tongxin.server`` publishes it by.
verify_backup = verify


# -- restoring ---------------------------------------------------------------------------------


def _occupied(settings: Settings, db: Database) -> bool:
    """True when the target database already holds tables."""
    from sqlalchemy import inspect

    if db.dialect == "sqlite":
        path = settings.sqlite_path()
        if path is None or not path.exists() or path.stat().st_size == 0:
            return False
    with db.writer.connect() as conn:
        return bool(inspect(conn).get_table_names())


def _place(source: Path, target: Path, *, force: bool, what: tuple[str, str]) -> None:
    """Put a key file in place (mode 0600): refuse to replace a different one unless ``force``."""
    if target.exists() and target.read_bytes() != source.read_bytes() and not force:
        raise BackupError(
            f"{target} exists and differs from the backup's {what[0]}: use --force to replace it",
            f"{target} 已存在且与备份中的{what[1]}不同：如确需覆盖，请加 --force",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".restoring")
    with private_file(tmp) as out:
        out.write(source.read_bytes())
    tmp.replace(target)


def restore(settings: Settings, path: Path, passphrase: str, *, force: bool = False) -> BackupInfo:
    """Restore a backup into the (empty) database and key locations of ``settings``."""
    with _unpacked(path, passphrase) as (work, info):
        manifest = info.manifest
        dialect = "sqlite" if settings.is_sqlite else "postgresql"
        if manifest["dialect"] != dialect:
            raise BackupError(
                f"this is a {manifest['dialect']} backup; restore it into a {manifest['dialect']} "
                "database",
                f"这是 {manifest['dialect']} 备份，请恢复到 {manifest['dialect']} 数据库",
            )
        revision = manifest["schemaRevision"]
        if not known(str(revision)):
            raise BackupError(
                f"the backup's schema revision {revision} is newer than this version of Tongxin: "
                "install the version that wrote it (or newer)",
                f"备份的数据库结构版本 {revision} 比本程序新：请安装写出该备份的版本（或更新版本）",
            )
        key = KeyRing.parse((work / KEY_ENTRY).read_bytes())
        if settings.secret_key is not None and load_key(settings, create=False) != key:
            raise BackupError(
                "TONGXIN_SECRET_KEY is not the backup's key: unset it (the key file is "
                "restored) or set it to the backed-up key",
                "TONGXIN_SECRET_KEY 与备份中的密钥不同：请取消该设置（将恢复密钥文件）"
                "或设为备份中的密钥",
            )
        db = Database(settings)
        try:
            if _occupied(settings, db) and not force:
                raise BackupError(
                    "the target database is not empty (a live hub?): restore into an empty "
                    "database, or use --force to replace it after stopping the hub",
                    "目标数据库不为空（是否为正在运行的枢纽？）：请恢复到空数据库，"
                    "或先停止枢纽再使用 --force 覆盖",
                )
            if settings.secret_key is None:
                _place(
                    work / KEY_ENTRY,
                    settings.resolved_key_file(),
                    force=force,
                    what=("field-encryption key", "字段加密密钥"),
                )
            if (work / KEYSTORE_ENTRY).exists():
                _place(
                    work / KEYSTORE_ENTRY,
                    key_store_path(settings.database_url),
                    force=force,
                    what=("signing key store", "签名密钥库"),
                )
            if db.dialect == "sqlite":
                db.dispose()
                _restore_sqlite(settings, work)
                db = Database(settings)
            else:
                _restore_postgresql(settings, db, work, manifest)
            migrate(db.writer)
            with db.write() as conn:
                conn.execute(update(hub_identity).values(epoch=uuid.uuid4().hex))
                _audit(conn, "restore", info.backup_id)
        finally:
            db.dispose()
    return info


def _restore_sqlite(settings: Settings, work: Path) -> None:
    target = settings.sqlite_path()
    assert target is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    tmp = target.with_name(target.name + ".restoring")
    shutil.copyfile(work / SQLITE_ENTRY, tmp)
    tmp.chmod(0o600)
    tmp.replace(target)


def _restore_postgresql(settings: Settings, db: Database, work: Path, manifest: Any) -> None:
    import psycopg
    from psycopg import sql

    db.dispose()
    with psycopg.connect(_pg_dsn(settings.database_url)) as pg:
        names = [
            r[0]
            for r in pg.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        ]
        for name in names:
            pg.execute(sql.SQL("DROP TABLE {} CASCADE").format(sql.Identifier(name)))
        pg.execute("DROP FUNCTION IF EXISTS tongxin_audit_append_only() CASCADE")
        pg.commit()
    migrate(db.writer, manifest["schemaRevision"])
    db.dispose()
    with psycopg.connect(_pg_dsn(settings.database_url)) as pg, pg.transaction():
        for name, table in manifest["tables"].items():
            ident = sql.Identifier(name)
            pg.execute(sql.SQL("TRUNCATE {}").format(ident))
            query = sql.SQL("COPY {} ({}) FROM STDIN").format(
                ident, sql.SQL(", ").join(map(sql.Identifier, table["columns"]))
            )
            with (work / f"tables/{name}.copy").open("rb") as f, pg.cursor().copy(query) as copy:
                for block in _blocks(f):
                    copy.write(block)
            for column in table["columns"]:
                row = pg.execute("SELECT pg_get_serial_sequence(%s, %s)", (name, column)).fetchone()
                if row and row[0]:
                    pg.execute(
                        sql.SQL(
                            "SELECT setval(%s, coalesce(max({c}), 1), max({c}) IS NOT NULL) "
                            "FROM {t}"
                        ).format(c=sql.Identifier(column), t=ident),
                        (row[0],),
                    )
