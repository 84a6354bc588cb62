"""The feedback channel (意见建议): opinions sent to an organisation from its public form, read,
answered and closed by its secretary in the console (``docs/console.md``).

An item is kept at the hub the form was served by, in ``console_feedback``; it is not a record,
so it is never in the change feed and never replicated to a parent hub. The submitter's name
(unless anonymous) and phone are sealed with the hub's field cipher like members' sensitive
fields (bound to the item's id); the receipt code is kept only as its keyed hash, so neither a
copy of the database nor an administrator can look an item up on the submitter's behalf. The
statistics (:func:`feedback_counts`) are counts only.

Every submission, reply, close and reading of a contact writes an audit row (type ``feedback``);
the submitter's address is never written (anonymous means anonymous).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    LargeBinary,
    String,
    Table,
    Text,
    and_,
    case,
    func,
    insert,
    select,
    update,
)
from sqlmodel import Field

from ._accounts import ConsoleTable
from ._hub import Hub
from ._policy import sees
from ._security import Principal, org_path
from ._tables import audit, org_tree, records

__all__ = [
    "ANSWER_DAYS",
    "CST",
    "MAX_BODY",
    "FeedbackItem",
    "FeedbackRow",
    "FeedbackView",
    "Refusal",
    "Submitted",
    "close_item",
    "feedback_counts",
    "feedback_table",
    "find_by_receipt",
    "list_items",
    "normalise_receipt",
    "open_item",
    "public_organisation",
    "reply_item",
    "submit",
]

#: An answer given within this many days of receipt counts as "answered within 7 days".
ANSWER_DAYS = 7
#: Characters of an opinion, of a reply, of a name.
MAX_BODY = 2000
MAX_REPLY = 2000
MAX_NAME = 40
#: Days are counted in China Standard Time (the local day of every hub so far).
CST = timezone(timedelta(hours=8))
_AUDIT_TYPE = "feedback"
#: Receipt codes: 16 characters of an alphabet without look-alikes (80 random bits).
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_RECEIPT_LEN = 16
_PHONE = re.compile(r"\+?[0-9][0-9 -]{4,22}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Status of an item: waiting for an answer, answered (still open to the submitter), closed.
OPEN, ANSWERED, CLOSED = "open", "answered", "closed"


class FeedbackItem(ConsoleTable, table=True):
    """One opinion sent to an organisation, its answer and its state."""

    __tablename__ = "console_feedback"

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    organisation_id: str = Field(sa_column=Column(String(96), nullable=False, index=True))
    #: The keyed hash of the receipt code (the code itself is shown once, to the submitter).
    receipt_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    body: str = Field(sa_column=Column(Text, nullable=False))
    anonymous: bool = Field(sa_column=Column(Boolean, nullable=False))
    #: Name and phone, sealed with the field cipher (None when neither was given).
    contact_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    status: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    reply: str | None = Field(default=None, sa_column=Column(Text))
    replied_by: str | None = Field(default=None, sa_column=Column(String(32)))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    #: ``created_at`` + 7 days: an answer given by then is "answered within 7 days".
    answer_due: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    replied_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    closed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


feedback_table: Table = FeedbackItem.__table__  # type: ignore[attr-defined]
_fb = feedback_table


class Refusal(Exception):  # noqa: N818 (an outcome shown to a person, not a fault)
    """Input refused, with the key of the message shown to the person (``empty``, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Submitted:
    """A stored opinion: its receipt code (shown once) and organisation's name."""

    receipt: str
    organisation_name: str


@dataclass(frozen=True, slots=True)
class FeedbackView:
    """What the console shows of an item (``name`` and ``phone`` only to the secretary)."""

    id: str
    organisation_id: str
    body: str
    anonymous: bool
    status: str
    reply: str | None
    replied_by: str | None
    created_at: datetime
    replied_at: datetime | None
    closed_at: datetime | None
    name: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """A line of the console's list (no contact details)."""

    id: str
    organisation_id: str
    excerpt: str
    anonymous: bool
    status: str
    created_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _clean(text: str) -> str:
    """Line ends made ``\\n``, control characters dropped, outer white space trimmed."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def normalise_receipt(code: str) -> str | None:
    """A receipt code as typed (any case, dashes and spaces) in its canonical form, or None
    when it cannot be one."""
    plain = re.sub(r"[\s-]", "", code.upper())[: _RECEIPT_LEN + 1]
    if len(plain) != _RECEIPT_LEN or any(ch not in _ALPHABET for ch in plain):
        return None
    return plain


def _show_receipt(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, _RECEIPT_LEN, 4))


def _receipt_hash(hub: Hub, code: str) -> str:
    return hub.cipher.citizen_hash("feedback-receipt:" + code)


def _audit(conn: Connection, action: str, item_id: str, actor: str | None) -> None:
    conn.execute(
        insert(audit).values(
            at=_now(),
            token_id=actor,
            action=action,
            collection=_AUDIT_TYPE,
            record_id=item_id,
            request_id="console:feedback" if actor else "feedback:public-form",
        )
    )


def public_organisation(hub: Hub, organisation_id: str) -> str | None:
    """The name of an organisation this hub owns and that takes feedback, else None (an
    unknown organisation, a deleted one, or another hub's replica)."""
    with hub.db.read() as conn:
        row = conn.execute(
            select(records.c.doc, records.c.owner).where(
                records.c.collection == "organisations",
                records.c.id == organisation_id,
                records.c.deleted.is_(False),
            )
        ).first()
    if row is None or row.owner != hub.hub_id:
        return None
    doc = row.doc if isinstance(row.doc, dict) else _json(row.doc)
    name = doc.get("name")
    return name if isinstance(name, str) else organisation_id


def _json(raw: Any) -> dict[str, Any]:
    value = orjson.loads(raw) if isinstance(raw, str | bytes) else {}
    return value if isinstance(value, dict) else {}


def submit(
    hub: Hub, organisation_id: str, body: str, *, anonymous: bool, name: str, phone: str
) -> Submitted:
    """Store an opinion for ``organisation_id``; refuses (:class:`Refusal`) an empty or
    too-long text, a malformed phone, an organisation that takes no feedback here."""
    body, name, phone = _clean(body), _clean(name), phone.strip()
    if not body:
        raise Refusal("empty")
    if len(body) > MAX_BODY:
        raise Refusal("too-long")
    if len(name) > MAX_NAME:
        raise Refusal("name-too-long")
    if phone and not _PHONE.fullmatch(phone):
        raise Refusal("bad-phone")
    org_name = public_organisation(hub, organisation_id)
    if org_name is None:
        raise Refusal("no-organisation")
    contact = {k: v for k, v in (("name", "" if anonymous else name), ("phone", phone)) if v}
    item_id = secrets.token_hex(16)
    code = "".join(secrets.choice(_ALPHABET) for _ in range(_RECEIPT_LEN))
    now = _now()
    with hub.db.write() as conn:
        conn.execute(
            insert(_fb).values(
                id=item_id,
                organisation_id=organisation_id,
                receipt_hash=_receipt_hash(hub, code),
                body=body,
                anonymous=anonymous,
                contact_sealed=hub.cipher.seal("feedback:" + item_id, contact) if contact else None,
                status=OPEN,
                created_at=now,
                answer_due=now + timedelta(days=ANSWER_DAYS),
            )
        )
        _audit(conn, "received", item_id, None)
    return Submitted(_show_receipt(code), org_name)


def find_by_receipt(hub: Hub, code: str) -> FeedbackView | None:
    """The item of a receipt code (without contact details), or None: a malformed code and an
    unknown one answer alike."""
    plain = normalise_receipt(code)
    digest = _receipt_hash(hub, plain or "-")  # the same work either way
    if plain is None:
        return None
    with hub.db.read() as conn:
        row = conn.execute(select(_fb).where(_fb.c.receipt_hash == digest)).first()
    return None if row is None else _view(row)


def _view(row: Any, contact: dict[str, Any] | None = None) -> FeedbackView:
    contact = contact or {}
    return FeedbackView(
        id=row.id,
        organisation_id=row.organisation_id,
        body=row.body,
        anonymous=bool(row.anonymous),
        status=row.status,
        reply=row.reply,
        replied_by=row.replied_by,
        created_at=_aware(row.created_at) or _now(),
        replied_at=_aware(row.replied_at),
        closed_at=_aware(row.closed_at),
        name=contact.get("name"),
        phone=contact.get("phone"),
    )


def _inside(prefix: str | None) -> Any:
    if prefix is None:
        return None
    return _fb.c.organisation_id.in_(
        select(org_tree.c.id).where(org_tree.c.path.startswith(prefix, autoescape=True))
    )


def list_items(
    hub: Hub, principal: Principal, status: str | None, limit: int = 100
) -> tuple[dict[str, int], list[FeedbackRow]]:
    """The counts by status and the newest items (of ``status`` when given) of the caller's
    subtree."""
    where = _inside(principal.subtree if principal.restricted else None)
    counts_query = select(_fb.c.status, func.count().label("n")).group_by(_fb.c.status)
    query = select(_fb).order_by(_fb.c.created_at.desc(), _fb.c.id).limit(limit)
    if where is not None:
        counts_query = counts_query.where(where)
        query = query.where(where)
    if status in (OPEN, ANSWERED, CLOSED):
        query = query.where(_fb.c.status == status)
    with hub.db.read() as conn:
        counts = {r.status: int(r.n) for r in conn.execute(counts_query)}
        rows = conn.execute(query).all()
    items = [
        FeedbackRow(
            r.id,
            r.organisation_id,
            r.body[:60] + ("…" if len(r.body) > 60 else ""),
            bool(r.anonymous),
            r.status,
            _aware(r.created_at) or _now(),
        )
        for r in rows
    ]
    return {k: counts.get(k, 0) for k in (OPEN, ANSWERED, CLOSED)}, items


def _visible(conn: Connection, principal: Principal, item_id: str) -> Any:
    """The row of ``item_id`` if the caller's subtree holds its organisation, else None (the
    same answer as for an unknown id)."""
    if len(item_id) > 32:
        return None
    row = conn.execute(select(_fb).where(_fb.c.id == item_id)).first()
    if row is None or not sees(principal, org_path(conn, row.organisation_id)):
        return None
    return row


def open_item(hub: Hub, principal: Principal, item_id: str) -> FeedbackView | None:
    """An item with its contact details, for the secretary (reading a contact is audited)."""
    with hub.db.write() as conn:
        row = _visible(conn, principal, item_id)
        if row is None:
            return None
        contact: dict[str, Any] = {}
        if row.contact_sealed is not None:
            contact = hub.cipher.open("feedback:" + row.id, bytes(row.contact_sealed))
            _audit(conn, "contact-read", row.id, principal.token_id)
    return _view(row, contact)


def reply_item(hub: Hub, principal: Principal, item_id: str, text: str) -> bool:
    """Answer an item (again, replacing the answer, while it is not closed); False when not
    found or closed."""
    text = _clean(text)
    if not text:
        raise Refusal("empty-reply")
    if len(text) > MAX_REPLY:
        raise Refusal("too-long")
    with hub.db.write() as conn:
        row = _visible(conn, principal, item_id)
        if row is None or row.status == CLOSED:
            return False
        values: dict[str, Any] = {
            "reply": text,
            "replied_by": principal.token_id.removeprefix("user:")[:32],
            "status": ANSWERED,
        }
        if row.replied_at is None:
            values["replied_at"] = _now()
        conn.execute(update(_fb).where(_fb.c.id == row.id).values(**values))
        _audit(conn, "replied", row.id, principal.token_id)
    return True


def close_item(hub: Hub, principal: Principal, item_id: str) -> bool:
    """Close an item (answered or not); False when not found or already closed."""
    with hub.db.write() as conn:
        row = _visible(conn, principal, item_id)
        if row is None or row.status == CLOSED:
            return False
        conn.execute(update(_fb).where(_fb.c.id == row.id).values(status=CLOSED, closed_at=_now()))
        _audit(conn, "closed", row.id, principal.token_id)
    return True


def feedback_counts(conn: Connection, prefix: str | None, start: date, end: date) -> dict[str, Any]:
    """The feedback statistics of ``GET /v1/stats``: items received at this hub from ``start``
    to ``end`` (days in China Standard Time) for organisations under ``prefix``; of them, those
    answered within :data:`ANSWER_DAYS` days, and those still open (neither answered nor
    closed). One ``GROUP BY`` over the status."""
    # In UTC: SQLite keeps a time's wall clock without its offset, and every time is stored UTC.
    since = datetime.combine(start, time(), CST).astimezone(UTC)
    until = datetime.combine(end + timedelta(days=1), time(), CST).astimezone(UTC)
    where = and_(_fb.c.created_at >= since, _fb.c.created_at < until)
    inside = _inside(prefix)
    if inside is not None:
        where = and_(where, inside)
    in_time = func.sum(
        case(
            (and_(_fb.c.replied_at.is_not(None), _fb.c.replied_at <= _fb.c.answer_due), 1), else_=0
        )
    )
    rows = conn.execute(
        select(_fb.c.status, func.count().label("n"), in_time.label("in_time"))
        .where(where)
        .group_by(_fb.c.status)
    ).all()
    by_status = {r.status: (int(r.n), int(r.in_time or 0)) for r in rows}
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "received": sum(n for n, _ in by_status.values()),
        "answeredWithin7Days": sum(t for _, t in by_status.values()),
        "open": by_status.get(OPEN, (0, 0))[0],
    }
