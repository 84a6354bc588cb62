"""Feedback counts travel upward, never feedback (``spec/federation.md`` §4.6).

Feedback (意见建议, :mod:`._feedback`) stays at the hub whose form received it. What a parent
hub learns of its children's feedback is integers: for each organisation and day (China
Standard Time) on which feedback was received, how many items, how many of them were answered
within 7 days, and how many are still open. A child serves them on the signed peer route
``GET /v1/federation/feedback-counts`` (a parent only, authenticated exactly like the change
feed); the parent fetches them at the end of each pull (:func:`._pull.sync_peer`) and replaces
what it held for that peer (:func:`store_counts`): a pull read twice changes nothing.

A hub serves its own counts and those it holds from its own children, so counts climb a
hierarchy as records do. ``GET /v1/stats`` adds the stored counts of the organisations in the
caller's subtree to the feedback held locally (:func:`feedback_totals`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    literal_column,
    select,
)
from sqlmodel import Field

from ._accounts import ConsoleTable
from ._feedback import OPEN, feedback_counts, feedback_table
from ._hub import Hub
from ._peers import Peer
from ._policy import PeerAct, authorize_peer
from ._store import insert_many
from ._tables import org_tree

__all__ = [
    "FORMAT",
    "CountsError",
    "PeerFeedbackCount",
    "feedback_totals",
    "peer_counts_table",
    "served_counts",
    "store_counts",
]

#: The ``format`` of the counts document.
FORMAT = "tongxin-feedback-counts/1"
#: At most this many rows are taken from one peer (a county has some thousand branches).
MAX_ROWS = 200_000
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_FIELDS = ("received", "answeredWithin7Days", "open")
#: Above this many changed rows the peer's rows are rewritten whole rather than one by one.
_REWRITE = 200


class PeerFeedbackCount(ConsoleTable, table=True):
    """Feedback counts of one organisation on one day, as a child peer last reported them."""

    __tablename__ = "peer_feedback_counts"

    peer_hub: str = Field(sa_column=Column(String(32), primary_key=True))
    organisation_id: str = Field(sa_column=Column(String(96), primary_key=True))
    #: The day the items were received (``YYYY-MM-DD``, China Standard Time).
    day: str = Field(sa_column=Column(String(10), primary_key=True))
    received: int = Field(sa_column=Column(Integer, nullable=False))
    answered: int = Field(sa_column=Column(Integer, nullable=False))
    open: int = Field(sa_column=Column(Integer, nullable=False))


peer_counts_table: Table = PeerFeedbackCount.__table__  # type: ignore[attr-defined]
_pc = peer_counts_table
Counts = dict[tuple[str, str], list[int]]


class CountsError(ValueError):
    """A peer's counts document is malformed (the pull reports it; nothing is stored)."""


def _cst_day(dialect: str, stamp: Any) -> Any:
    """The China Standard Time day (``YYYY-MM-DD``) of a stored UTC time, in SQL."""
    if dialect == "sqlite":  # SQLite keeps the UTC wall clock as text
        return func.date(stamp, "+8 hours")
    local = func.timezone("UTC", stamp) + literal_column("interval '8 hours'")
    return func.to_char(local, "YYYY-MM-DD")


def _local(conn: Connection, dialect: str) -> Counts:
    """This hub's own feedback as counts by organisation and day, one ``GROUP BY``: only the
    columns counted are read (never a text, name, phone or receipt)."""
    f = feedback_table.c
    day = _cst_day(dialect, f.created_at).label("day")
    in_time = and_(f.replied_at.is_not(None), f.replied_at <= f.answer_due)
    query = select(
        f.organisation_id,
        day,
        func.count().label("received"),
        func.sum(case((in_time, 1), else_=0)).label("answered"),
        func.sum(case((f.status == OPEN, 1), else_=0)).label("open"),
    ).group_by(f.organisation_id, day)
    return {
        (r.organisation_id, str(r.day)): [int(r.received), int(r.answered or 0), int(r.open or 0)]
        for r in conn.execute(query)
    }


def served_counts(hub: Hub, peer: Peer) -> dict[str, Any]:
    """The counts document for ``peer``: a parent only (403 ``relation-not-allowed``
    otherwise, as for the feed). This hub's own feedback and the counts it holds from its
    children, summed by organisation and day."""
    authorize_peer(peer.hub_id, peer.relation, PeerAct.PULL_FEED)
    with hub.db.read() as conn:
        counts = _local(conn, hub.db.dialect)
        stored = select(
            _pc.c.organisation_id,
            _pc.c.day,
            func.sum(_pc.c.received).label("received"),
            func.sum(_pc.c.answered).label("answered"),
            func.sum(_pc.c.open).label("open"),
        ).group_by(_pc.c.organisation_id, _pc.c.day)
        for row in conn.execute(stored):
            slot = counts.setdefault((row.organisation_id, row.day), [0, 0, 0])
            slot[0] += int(row.received)
            slot[1] += int(row.answered)
            slot[2] += int(row.open)
    items = [
        {"organisationId": org, "day": day, **dict(zip(_FIELDS, slot, strict=True))}
        for (org, day), slot in sorted(counts.items())
    ]
    return {"format": FORMAT, "hubId": hub.hub_id, "items": items}


def _parse(document: Any, may_speak_for: Callable[[str], bool]) -> Counts:
    """The rows of a peer's counts document; raises :class:`CountsError` on anything but
    integers under known keys. Organisations the peer may not speak for are left out."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CountsError("not a feedback counts document")
    items = document.get("items")
    if not isinstance(items, list) or len(items) > MAX_ROWS:
        raise CountsError(f"items is not a list of at most {MAX_ROWS} rows")
    counts: Counts = {}
    for item in items:
        if not isinstance(item, dict) or set(item) != {"organisationId", "day", *_FIELDS}:
            raise CountsError("a row has other members than the counts")
        org, day = item["organisationId"], item["day"]
        if not (isinstance(org, str) and 0 < len(org) <= 96 and ":" in org):
            raise CountsError("a row's organisationId is not an identifier")
        if not (isinstance(day, str) and _DAY.fullmatch(day)):
            raise CountsError("a row's day is not a date")
        try:
            date.fromisoformat(day)
        except ValueError:
            raise CountsError("a row's day is not a date") from None
        values = [item[name] for name in _FIELDS]
        if not all(type(v) is int and 0 <= v <= 2**31 - 1 for v in values):
            raise CountsError("a count is not a non-negative integer")
        received, answered, still_open = values
        if answered > received or still_open > received:
            raise CountsError("a row counts more answered or open items than received")
        if (org, day) in counts:
            raise CountsError("a row is repeated")
        if may_speak_for(org.split(":", 1)[0]):
            counts[(org, day)] = values
    return counts


def store_counts(
    hub: Hub, peer_hub: str, document: Any, may_speak_for: Callable[[str], bool]
) -> int:
    """Replace what this hub holds from ``peer_hub`` with the counts of ``document`` (one
    transaction; the same document twice leaves the same rows). Only the rows that changed are
    written, so a pull every few seconds of unchanged counts writes nothing. The number of rows
    kept."""
    counts = _parse(document, may_speak_for)
    c = _pc.c
    with hub.db.write() as conn:
        query = select(c.organisation_id, c.day, c.received, c.answered, c.open)
        held = {
            (r.organisation_id, r.day): [r.received, r.answered, r.open]
            for r in conn.execute(query.where(c.peer_hub == peer_hub))
        }
        changed = sorted(k for k in held.keys() | counts.keys() if held.get(k) != counts.get(k))
        if len(changed) > _REWRITE:
            conn.execute(delete(_pc).where(c.peer_hub == peer_hub))
            changed = sorted(counts)
        else:
            for org, day in changed:
                conn.execute(
                    delete(_pc).where(
                        c.peer_hub == peer_hub, c.organisation_id == org, c.day == day
                    )
                )
        rows = [
            {
                "peer_hub": peer_hub,
                "organisation_id": org,
                "day": day,
                "received": counts[(org, day)][0],
                "answered": counts[(org, day)][1],
                "open": counts[(org, day)][2],
            }
            for org, day in changed
            if (org, day) in counts
        ]
        if rows:
            insert_many(conn, _pc, rows)
    return len(counts)


def _peer_totals(conn: Connection, prefix: str | None, start: date, end: date) -> list[int]:
    """The stored peers' counts of organisations under ``prefix`` received from ``start`` to
    ``end``; one ``SUM``."""
    where = and_(_pc.c.day >= start.isoformat(), _pc.c.day <= end.isoformat())
    if prefix is not None:
        inside = select(org_tree.c.id).where(org_tree.c.path.startswith(prefix, autoescape=True))
        where = and_(where, _pc.c.organisation_id.in_(inside))
    row = conn.execute(
        select(func.sum(_pc.c.received), func.sum(_pc.c.answered), func.sum(_pc.c.open)).where(
            where
        )
    ).one()
    return [int(v or 0) for v in row]


def feedback_totals(conn: Connection, prefix: str | None, start: date, end: date) -> dict[str, Any]:
    """The ``feedback`` block of ``GET /v1/stats``: the feedback held at this hub
    (:func:`._feedback.feedback_counts`) plus the counts its children reported for
    organisations under ``prefix``."""
    block = feedback_counts(conn, prefix, start, end)
    for name, value in zip(_FIELDS, _peer_totals(conn, prefix, start, end), strict=True):
        block[name] += value
    return block
