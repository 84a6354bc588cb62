"""Finding a member by phone number although phones are stored encrypted: a keyed-hash index.

``console_phone_index`` holds, for each member row, the keyed hash of its phone (the hub's
citizen-ID key, with a ``phone:`` prefix so the two never collide) and the change sequence it
was taken at. Before each phone search the index catches up with the members changed since
(their sequence is above the highest indexed one), decrypting only those; the number itself is
never stored in clear.
"""

from __future__ import annotations

import re

from sqlalchemy import BigInteger, Column, String, Table, delete, func, insert, select
from sqlmodel import Field

from ._accounts import ConsoleTable
from ._hub import Hub
from ._tables import records

__all__ = ["PhoneEntry", "phone_ids", "refresh_phone_index"]

_BATCH = 1000
_DIGITS = re.compile(r"[^0-9+]")


class PhoneEntry(ConsoleTable, table=True):
    """The keyed hash of a member's phone at change sequence ``seq``."""

    __tablename__ = "console_phone_index"

    record_id: str = Field(sa_column=Column(String(96), primary_key=True))
    phone_hash: str | None = Field(default=None, sa_column=Column(String(64), index=True))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


phones: Table = PhoneEntry.__table__  # type: ignore[attr-defined]


def _hash(hub: Hub, phone: str) -> str:
    return hub.cipher.citizen_hash("phone:" + _DIGITS.sub("", phone))


def refresh_phone_index(hub: Hub) -> int:
    """Index the members changed since the last refresh; the number of rows looked at."""
    seen = 0
    while True:
        with hub.db.write() as conn:
            last = conn.execute(select(func.coalesce(func.max(phones.c.seq), 0))).scalar_one()
            rows = conn.execute(
                select(records.c.id, records.c.seq, records.c.sealed)
                .where(records.c.collection == "members", records.c.seq > last)
                .order_by(records.c.seq)
                .limit(_BATCH)
            ).all()
            if not rows:
                return seen
            conn.execute(delete(phones).where(phones.c.record_id.in_([r.id for r in rows])))
            conn.execute(
                insert(phones),
                [
                    {"record_id": r.id, "seq": r.seq, "phone_hash": _phone(hub, r.id, r.sealed)}
                    for r in rows
                ],
            )
        seen += len(rows)


def _phone(hub: Hub, record_id: str, sealed: bytes | None) -> str | None:
    if not sealed:  # a tombstone, or a member without sensitive fields
        return None
    phone = hub.cipher.open(record_id, sealed).get("phone")
    return _hash(hub, phone) if isinstance(phone, str) and phone else None


def phone_ids(hub: Hub, phone: str) -> list[str]:
    """The ids of members whose phone is ``phone`` (after bringing the index up to date)."""
    refresh_phone_index(hub)
    with hub.db.read() as conn:
        return list(
            conn.execute(
                select(phones.c.record_id).where(phones.c.phone_hash == _hash(hub, phone))
            ).scalars()
        )
