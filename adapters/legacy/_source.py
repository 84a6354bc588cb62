"""The source database: MySQL/MariaDB (PyMySQL), PostgreSQL (psycopg) or SQLite, reached
through SQLAlchemy; queries are read in batches through server-side cursors, so a table of a
million rows is read in bounded memory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from ._mapping import MappingError

__all__ = ["SourceError", "Table", "columns_of", "connect", "inspect_source", "rows"]

BATCH = 2000


class SourceError(Exception):
    """The source database cannot be read; ``zh`` and ``en`` say why."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    """A read-only session on the source."""
    try:
        engine = sa.create_engine(make_url(url), pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise SourceError(f"cannot use {url}: {exc}", f"无法使用数据库地址 {url}：{exc}") from None
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        message = str(exc).splitlines()[0]
        raise SourceError(
            f"source database failed: {message}", f"读取源数据库失败：{message}"
        ) from None
    finally:
        engine.dispose()


def columns_of(conn: Connection, query: str) -> list[str]:
    """The column names a query returns (run with no rows)."""
    result = conn.execute(sa.text(f"SELECT * FROM ({query}) AS q WHERE 1 = 0"))
    names = list(result.keys())
    result.close()
    return names


def rows(
    conn: Connection, query: str, *, cursor: str | None = None, since: Any = None
) -> Iterator[list[dict[str, Any]]]:
    """The query's rows in batches; with ``cursor``, only rows whose cursor column is greater
    than ``since``."""
    sql = query
    params: dict[str, Any] = {}
    if cursor is not None and since is not None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", cursor):
            raise MappingError(
                f"cursor {cursor!r} is not a column name", f"cursor {cursor!r} 不是列名"
            )
        sql = f"SELECT * FROM ({query}) AS q WHERE q.{cursor} > :since"
        params["since"] = since
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
        sa.text(sql), params
    )
    try:
        for part in result.mappings().partitions(BATCH):
            yield [dict(row) for row in part]
    finally:
        result.close()


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the source and its columns."""

    name: str
    columns: tuple[str, ...]
    rows: int | None


def inspect_source(url: str) -> list[Table]:
    """Every table of the source with its columns (and row count where cheap)."""
    with connect(url) as conn:
        inspector = sa.inspect(conn)
        out = []
        for name in sorted(inspector.get_table_names()):
            columns = tuple(c["name"] for c in inspector.get_columns(name))
            quoted = conn.dialect.identifier_preparer.quote(name)
            count = conn.execute(sa.text(f"SELECT COUNT(*) FROM {quoted}")).scalar()
            out.append(Table(name, columns, int(count) if count is not None else None))
        return out
