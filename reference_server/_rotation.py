"""Data-key rotation: ``tongxin keys rotate-data-key`` (``docs/operations.md``).

A new data key becomes the current key of the key file's ring, next to the old one; then every
sealed value (records' sensitive fields, transfer members and letters, refused changes) is opened
and sealed again with the new key in small write transactions while the hub serves (a serving
hub re-reads the key file, so it opens both keys and seals new writes with the new one). Each
value is replaced only if it did not change meanwhile. Sweeps repeat until one finds nothing to
re-seal; then the old key leaves the key file. The citizen-ID hash key does not change, so the
hash column and its uniqueness are untouched. A killed rotation is resumed by running the
command again: a ring that still holds a previous key is finished, not rotated again.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Table, and_, func, select, tuple_, update

from ._audit import audit_operator
from ._crypto import FieldCipher, read_key_file, write_key_file
from ._db import Database
from ._errors import ConfigurationError
from ._feedback import feedback_table
from ._letters_at_rest import is_sealed
from ._settings import Settings
from ._tables import records, refused_changes, transfer_letters

__all__ = ["RotationResult", "rotate_data_key"]

_LETTER_PREFIX = "sealed:"


@dataclass(frozen=True, slots=True)
class _Sealed:
    """One column of sealed values: its table, key columns, and the associated data of a row."""

    table: Table
    keys: tuple[str, ...]
    column: str
    aad: Callable[[Any], str]
    text: bool = False  # a ``sealed:``-prefixed base64 text (the transfer letters)


_COLUMNS = (
    _Sealed(records, ("collection", "id"), "sealed", lambda r: r.id),
    _Sealed(
        refused_changes, ("peer_hub", "collection", "record_id"), "sealed", lambda r: r.record_id
    ),
    _Sealed(transfer_letters, ("transfer_id",), "member_sealed", lambda r: r.transfer_id),
    _Sealed(
        transfer_letters, ("transfer_id",), "letter", lambda r: "letter:" + r.transfer_id, True
    ),
    _Sealed(feedback_table, ("id",), "contact_sealed", lambda r: "feedback:" + r.id),
)


@dataclass(slots=True)
class RotationResult:
    resumed: bool
    resealed: int
    sweeps: int


def _blob(spec: _Sealed, value: Any) -> bytes | None:
    if value is None:
        return None
    if spec.text:
        return base64.b64decode(value[len(_LETTER_PREFIX) :]) if is_sealed(value) else None
    return bytes(value)


def _stored(spec: _Sealed, blob: bytes) -> Any:
    return _LETTER_PREFIX + base64.b64encode(blob).decode() if spec.text else blob


def _sweep(
    db: Database,
    cipher: FieldCipher,
    spec: _Sealed,
    batch_size: int,
    on_batch: Callable[[int], None],
) -> int:
    """Re-seal every value of ``spec`` not sealed with the current key; how many were."""
    table = spec.table
    keys: Sequence[Column[Any]] = [table.c[k] for k in spec.keys]
    col = table.c[spec.column]
    after: tuple[Any, ...] | None = None
    resealed = 0
    while True:
        with db.write() as conn:
            query = select(*keys, col).where(col.is_not(None)).order_by(*keys).limit(batch_size)
            if after is not None:
                query = query.where(tuple_(*keys) > tuple_(*after))
            rows = conn.execute(query).all()
            for row in rows:
                blob = _blob(spec, row[-1])
                if blob is None or cipher.sealed_with_current(blob):
                    continue
                fields = cipher.open(spec.aad(row), blob)
                fresh = _stored(spec, cipher.seal(spec.aad(row), fields))
                match = and_(*(k == row[i] for i, k in enumerate(keys)), col == row[-1])
                done = conn.execute(update(table).where(match).values({spec.column: fresh}))
                resealed += done.rowcount
        if not rows:
            return resealed
        after = tuple(row[: len(keys)])
        on_batch(len(rows))


def _total(db: Database) -> int:
    with db.read() as conn:
        return sum(
            conn.execute(
                select(func.count()).select_from(s.table).where(s.table.c[s.column].is_not(None))
            ).scalar_one()
            for s in _COLUMNS
        )


def _audit(db: Database, action: str) -> None:
    with db.write() as conn:
        audit_operator(conn, action, "data-key")


def rotate_data_key(
    settings: Settings,
    *,
    batch_size: int = 500,
    settle_seconds: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> RotationResult:
    """Rotate (or finish rotating) the data key of the hub described by ``settings``.

    ``progress(done, total)`` is called after every batch; ``after_batch(n)`` too, with the
    number of batches so far (a test's hook to kill the process midway). The old key is dropped
    only after a sweep that finds nothing, ``settle_seconds`` of waiting (longer than any write
    takes, so a write that sealed its fields with the old key before the new one was added has
    committed), and a confirming sweep that finds nothing either.
    """
    if settings.secret_key is not None:
        raise ConfigurationError(
            "data-key rotation needs a key file: TONGXIN_SECRET_KEY cannot be rewritten "
            "(move the key into a key file first)"
        )
    if batch_size < 1:
        raise ConfigurationError("--batch-size must be at least 1")
    path: Path = settings.resolved_key_file()
    ring = read_key_file(path)
    db = Database(settings)
    try:
        identity = db.identity()
        if identity is None:
            raise ConfigurationError("this database holds no hub yet (run `tongxin init`)")
        cipher = FieldCipher(ring)
        db.ensure_identity(identity.hub_id, identity.name, cipher.key_id)
        resumed = len(ring.data) > 1
        if not resumed:
            ring = ring.with_data((os.urandom(32), *ring.data))
            _audit(db, "datakey.start")
            write_key_file(path, ring)
        cipher = FieldCipher(ring)
        total = _total(db)
        done = 0
        batches = 0

        def on_batch(n: int) -> None:
            nonlocal done, batches
            done += n
            batches += 1
            if progress is not None:
                progress(min(done, total), total)
            if after_batch is not None:
                after_batch(batches)

        resealed = 0
        sweeps = 0
        settled = False
        while True:
            sweeps += 1
            found = sum(_sweep(db, cipher, s, batch_size, on_batch) for s in _COLUMNS)
            resealed += found
            if not found and settled:
                break
            if not found:
                # let writes in flight since the start commit, including those of a serving
                # hub that has not looked at the key file yet (it looks every CHECK_SECONDS)
                time.sleep(settle_seconds + FieldCipher.CHECK_SECONDS)
                settled = True
            total += _total(db)  # the confirming sweep
        write_key_file(path, ring.with_data((ring.current,)))
        _audit(db, "datakey.done")
        return RotationResult(resumed, resealed, sweeps)
    finally:
        db.dispose()
