"""The agent's memory between runs: the hash of every row the hub has acknowledged, in a small
SQLite file beside the mapping (0600). It advances only after the hub's answer, so an agent
killed at any moment resumes without a gap or a duplicate."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["State"]


class State:
    """Acknowledged rows and per-collection cursors."""

    def __init__(self, path: Path) -> None:
        # created 0600 before SQLite opens it: never readable by others, not even for a moment
        # (SQLite gives its journal the same mode)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.db = sqlite3.connect(path)
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS acked (collection TEXT, id TEXT, hash TEXT,"
            " PRIMARY KEY (collection, id)) WITHOUT ROWID;"
            "CREATE TABLE IF NOT EXISTS cursors (collection TEXT PRIMARY KEY, value TEXT);"
            "CREATE TEMP TABLE seen (collection TEXT, id TEXT, PRIMARY KEY (collection, id))"
            " WITHOUT ROWID;"
        )

    def close(self) -> None:
        self.db.close()

    def known(self, collection: str, ids: list[str]) -> dict[str, str]:
        """The acknowledged hash of each of ``ids`` that has one."""
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            out.update(
                self.db.execute(
                    f"SELECT id, hash FROM acked WHERE collection = ? AND id IN ({marks})",
                    [collection, *chunk],
                ).fetchall()
            )
        return out

    def mark_seen(self, collection: str, ids: Iterable[str]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO seen VALUES (?, ?)", ((collection, i) for i in ids)
        )

    def unseen(self, collection: str) -> Iterator[str]:
        """Acknowledged ids this run did not meet in the source: deleted there."""
        yield from (
            row[0]
            for row in self.db.execute(
                "SELECT id FROM acked WHERE collection = ? AND id NOT IN"
                " (SELECT id FROM seen WHERE collection = ?) ORDER BY id",
                (collection, collection),
            ).fetchall()
        )

    def acknowledge(self, collection: str, done: Iterable[tuple[str, str]]) -> None:
        """Rows the hub has written (or found unchanged): remember their hashes."""
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO acked VALUES (?, ?, ?)",
                ((collection, i, h) for i, h in done),
            )

    def forget(self, collection: str, ids: Iterable[str]) -> None:
        """Rows the hub has deleted."""
        with self.db:
            self.db.executemany(
                "DELETE FROM acked WHERE collection = ? AND id = ?", ((collection, i) for i in ids)
            )

    def cursor(self, collection: str) -> Any:
        row = self.db.execute(
            "SELECT value FROM cursors WHERE collection = ?", (collection,)
        ).fetchone()
        return None if row is None else row[0]

    def set_cursor(self, collection: str, value: Any) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO cursors VALUES (?, ?)", (collection, str(value))
            )
