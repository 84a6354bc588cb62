"""Meetings from a phone: attendance taken by the branch secretary, and self check-in through a
signed, expiring link (the QR code the secretary shows).

A meeting is an ``activities`` record of the standard; every change to it goes through the
normal write path (:func:`tongxin.server._service.write_record`: versions, rules, audit, change
feed). A member's own check-in is not a change to the record: it waits in ``console_checkins``
as "checked in, awaiting confirmation" until the secretary confirms it, which writes the
attendance through the write path.

The check-in link names the meeting and the window it is valid in (from 30 minutes before the
start to 30 minutes after the end) and carries an HMAC from a key derived from the hub's key
(:meth:`FieldCipher.link_tag`), so it can be neither forged nor stretched. A member proves who
they are with the last four digits of their phone or citizen ID, compared with the sealed
fields the hub keeps (never logged, never stored elsewhere). Five wrong tries lock that member
out of that meeting's self check-in; each address has a budget of attempts; every attempt, taken
or refused, is audited (type ``console-checkins``: action ``checkin`` or ``checkin-refused``,
the record the member or meeting, the request id ``checkin:<reason>:<address>``); the
secretary's decisions too (``checkin-confirm``, ``checkin-decline``).
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Column, Connection, DateTime, Integer, String, Table, and_, insert, select
from sqlalchemy import update as sql_update
from sqlmodel import Field

from ._accounts import ConsoleTable
from ._audit import operator_id
from ._hub import Hub
from ._policy import Act, authorize, sees
from ._reads import get_record
from ._security import NOWHERE, Principal, org_path
from ._service import create_record, replace_record
from ._store import open_sealed
from ._tables import audit, json_field, org_tree, record_facts, records
from ._throttle import SlidingWindow

__all__ = [
    "CHECKIN_TYPES",
    "EARLY",
    "LATE",
    "MAX_FAILURES",
    "CheckinEntry",
    "CheckinOutcome",
    "Link",
    "Meeting",
    "Person",
    "branch_members",
    "check_in",
    "checkin_states",
    "confirm_checkins",
    "create_meeting",
    "link_state",
    "list_meetings",
    "load_meeting",
    "meeting_for_link",
    "open_link",
    "save_attendance",
    "shift",
    "sign_link",
    "visible_org",
    "window",
    "window_state",
]

#: The link opens this long before the start and closes this long after the end.
EARLY = timedelta(minutes=30)
LATE = timedelta(minutes=30)
#: A meeting without an end time is taken to last this long.
DEFAULT_LENGTH = timedelta(hours=3)
#: Wrong digits in a row that close a member's self check-in for one meeting.
MAX_FAILURES = 5
#: The meeting types a secretary picks from first (三会一课), then the others.
CHECKIN_TYPES = (
    "general-meeting",
    "committee-meeting",
    "group-meeting",
    "party-lecture",
    "theme-day",
    "organisational-life-meeting",
    "member-appraisal",
    "other",
)
_AUDIT_TYPE = "console-checkins"
_ORPHAN = 2
_DIGITS = re.compile(r"[0-9]{3}[0-9X]")


class CheckinEntry(ConsoleTable, table=True):
    """A member's self check-in at a meeting: its state and the wrong tries so far.

    ``state``: ``tried`` (only wrong digits so far), ``pending`` (checked in, awaiting the
    secretary), ``confirmed`` (written into the meeting's attendance) or ``declined`` (the
    secretary saved the meeting without the member present)."""

    __tablename__ = "console_checkins"

    activity_id: str = Field(sa_column=Column(String(96), primary_key=True))
    member_id: str = Field(sa_column=Column(String(96), primary_key=True))
    organisation_id: str = Field(sa_column=Column(String(96), nullable=False, index=True))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    failures: int = Field(sa_column=Column(Integer, nullable=False))
    checked_in_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    decided_by: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))


checkins: Table = CheckinEntry.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Person:
    """A member of the meeting's branch as the pages show them: id and name only."""

    id: str
    name: str


@dataclass(slots=True)
class Meeting:
    """An activity record, parsed for the pages."""

    record: dict[str, Any]
    version: int
    organisation_name: str = ""

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def organisation_id(self) -> str:
        return str(self.record["organisationId"])

    @property
    def start(self) -> datetime:
        return _instant(self.record.get("startTime")) or datetime.min.replace(tzinfo=UTC)

    @property
    def end(self) -> datetime:
        end = _instant(self.record.get("endTime"))
        return end if end is not None and end >= self.start else shift(self.start, DEFAULT_LENGTH)

    @property
    def attendance(self) -> dict[str, dict[str, Any]]:
        return {
            e["memberId"]: e for e in self.record.get("attendance") or () if isinstance(e, dict)
        }


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def shift(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held at the first or last instant a date can take (a record may
    carry any date the standard allows, up to year 9999)."""
    try:
        return moment + delta
    except OverflowError:
        return (datetime.max if delta > timedelta(0) else datetime.min).replace(tzinfo=UTC)


def window(meeting: Meeting) -> tuple[datetime, datetime]:
    """When the meeting's check-in link is valid."""
    return shift(meeting.start, -EARLY), shift(meeting.end, LATE)


# -- the signed link --------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None


def sign_link(hub: Hub, meeting: Meeting) -> str:
    """The token of the meeting's check-in link: the meeting and its window, signed."""
    opens, closes = window(meeting)
    payload = orjson.dumps([meeting.id, int(opens.timestamp()), int(closes.timestamp())])
    return f"{_b64(payload)}.{_b64(hub.cipher.link_tag(payload))}"


@dataclass(frozen=True, slots=True)
class Link:
    """What a valid token says: the meeting and the window (epoch seconds)."""

    activity_id: str
    opens: int
    closes: int


def open_link(hub: Hub, token: str) -> Link | None:
    """The meeting a token names, or None when it is not one this hub signed (the window is
    checked by :func:`check_in` and the page, which say which side of it the link is on)."""
    if len(token) > 400 or token.count(".") != 1:
        return None
    body, tag = token.split(".")
    payload, given = _unb64(body), _unb64(tag)
    if payload is None or given is None:
        return None
    if not hmac.compare_digest(hub.cipher.link_tag(payload), given):
        return None
    try:
        activity_id, opens, closes = orjson.loads(payload)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return None
    if not (isinstance(activity_id, str) and isinstance(opens, int) and isinstance(closes, int)):
        return None
    return Link(activity_id, opens, closes)


# -- reading ----------------------------------------------------------------------------------
def load_meeting(hub: Hub, principal: Principal, activity_id: str) -> Meeting:
    """The meeting as ``principal`` sees it (404 outside its subtree, as the API answers)."""
    stored = get_record(hub, principal, "activities", activity_id)
    record = orjson.loads(stored.body)
    meeting = Meeting(record, stored.version)
    meeting.organisation_name = _org_name(hub, meeting.organisation_id)
    return meeting


def _org_name(hub: Hub, org_id: str) -> str:
    with hub.db.read() as conn:
        doc = conn.execute(
            select(records.c.doc).where(
                records.c.collection == "organisations", records.c.id == org_id
            )
        ).scalar()
    name = orjson.loads(doc).get("name") if doc else None
    return str(name or org_id)


def _meeting_anyone(hub: Hub, activity_id: str) -> Meeting | None:
    """The meeting for the public check-in page (its link was verified)."""
    with hub.db.read() as conn:
        row = conn.execute(
            select(records.c.doc, records.c.version, records.c.deleted).where(
                records.c.collection == "activities", records.c.id == activity_id
            )
        ).first()
    if row is None or row.deleted or not row.doc:
        return None
    meeting = Meeting(orjson.loads(row.doc), row.version)
    meeting.organisation_name = _org_name(hub, meeting.organisation_id)
    return meeting


def branch_members(hub: Hub, organisation_id: str) -> list[Person]:
    """The members of one organisation (not of its subtree) in good standing, by name."""
    name = json_field(hub.db.dialect, "name")
    status = json_field(hub.db.dialect, "status")
    c = records.c
    query = (
        select(c.id, name.label("name"))
        .where(
            c.collection == "members",
            c.scope_org == organisation_id,
            c.deleted.is_(False),
            c.orphan != _ORPHAN,
            status == "normal",
        )
        .order_by(name, c.id)
        .limit(1000)
    )
    with hub.db.read() as conn:
        return [Person(r.id, str(r.name or r.id)) for r in conn.execute(query).all()]


def list_meetings(hub: Hub, principal: Principal, limit: int = 50) -> list[dict[str, Any]]:
    """The latest meetings of the caller's subtree (start time, newest first)."""
    dialect = hub.db.dialect
    start = json_field(dialect, "startTime")
    c = records.c
    query = (
        select(c.id, c.doc, c.scope_org)
        .where(c.collection == "activities", c.deleted.is_(False), c.orphan != _ORPHAN)
        .order_by(start.desc(), c.id)
        .limit(limit)
    )
    if principal.restricted:
        prefix = principal.subtree or NOWHERE
        inside = select(org_tree.c.id).where(org_tree.c.path.startswith(prefix, autoescape=True))
        query = query.where(c.scope_org.in_(inside))
    with hub.db.read() as conn:
        rows = conn.execute(query).all()
        f = record_facts.c
        names = dict(
            conn.execute(
                select(f.id, f.name).where(
                    f.collection == "organisations", f.id.in_({r.scope_org for r in rows})
                )
            ).all()
        )
    out = []
    for row in rows:
        doc = orjson.loads(row.doc)
        doc["organisationName"] = names.get(row.scope_org) or row.scope_org
        out.append(doc)
    return out


def checkin_states(hub: Hub, activity_id: str) -> dict[str, str]:
    """Member id -> ``pending`` / ``confirmed`` / ``declined`` for one meeting."""
    with hub.db.read() as conn:
        rows = conn.execute(
            select(checkins.c.member_id, checkins.c.state).where(
                checkins.c.activity_id == activity_id, checkins.c.state != "tried"
            )
        ).all()
    return {r.member_id: r.state for r in rows}


# -- writing the meeting ----------------------------------------------------------------------
def _require_manager(principal: Principal) -> None:
    """Only a caller that may write records (secretary, organiser, admin) manages meetings."""
    authorize(principal, Act.WRITE)


def create_meeting(hub: Hub, principal: Principal, fields: dict[str, Any]) -> str:
    """Store a new meeting (an activity record with no attendance yet); its id. Raises the
    :class:`HubError` of the write path (its issues point at the fields)."""
    _require_manager(principal)
    record = {k: v for k, v in fields.items() if v not in (None, "")}
    record["attendance"] = []
    outcome = create_record(hub, principal, "activities", record)
    assert outcome.id is not None
    return outcome.id


def save_attendance(
    hub: Hub,
    principal: Principal,
    actor: str,
    activity_id: str,
    version: int,
    marks: dict[str, tuple[str, str | None]],
) -> list[Any]:
    """Write the meeting's attendance (member id -> status, reason) through the write path at
    ``version``; the warnings of the rules. Pending check-ins of members saved present are
    confirmed, the others declined."""
    _require_manager(principal)
    meeting = load_meeting(hub, principal, activity_id)
    members = {p.id for p in branch_members(hub, meeting.organisation_id)}
    entries: list[dict[str, Any]] = []  # the marked first: /attendance/i is the i-th mark
    for member_id, (status, reason) in marks.items():
        entry: dict[str, Any] = {"memberId": member_id, "status": status}
        if reason:
            entry["reason"] = reason
        entries.append(entry)
    entries += [e for m, e in meeting.attendance.items() if m not in members and m not in marks]
    record = {**meeting.record, "attendance": entries}
    outcome = replace_record(hub, principal, "activities", activity_id, record, version)
    present = {m for m, (status, _) in marks.items() if status == "present"}
    _decide(hub, actor, activity_id, present, set(marks) - present)
    return list(outcome.warnings)


def confirm_checkins(
    hub: Hub, principal: Principal, actor: str, activity_id: str, member_ids: list[str]
) -> int:
    """Write the pending check-ins of ``member_ids`` (all pending ones when empty) into the
    meeting's attendance as present; the number confirmed."""
    _require_manager(principal)
    meeting = load_meeting(hub, principal, activity_id)
    pending = {m for m, s in checkin_states(hub, activity_id).items() if s == "pending"}
    chosen = pending & set(member_ids) if member_ids else pending
    if not chosen:
        return 0
    attendance = meeting.attendance
    for member_id in chosen:
        attendance[member_id] = {"memberId": member_id, "status": "present"}
    record = {**meeting.record, "attendance": list(attendance.values())}
    replace_record(hub, principal, "activities", activity_id, record, meeting.version)
    _decide(hub, actor, activity_id, chosen, set())
    return len(chosen)


def _decide(hub: Hub, actor: str, activity_id: str, present: set[str], absent: set[str]) -> None:
    now = datetime.now(UTC)
    with hub.db.write() as conn:
        for members, state in ((present, "confirmed"), (absent, "declined")):
            if not members:
                continue
            changed = conn.execute(
                sql_update(checkins)
                .where(
                    checkins.c.activity_id == activity_id,
                    checkins.c.member_id.in_(sorted(members)),
                    checkins.c.state == "pending",
                )
                .values(state=state, decided_at=now, decided_by=actor[:32])
            ).rowcount
            if changed:
                action = "checkin-confirm" if state == "confirmed" else "checkin-decline"
                _audit(conn, action, activity_id, f"console:user:{actor}", actor=actor)


def _audit(conn: Connection, action: str, record_id: str, request_id: str, actor: Any) -> None:
    conn.execute(
        insert(audit).values(
            at=datetime.now(UTC),
            token_id=(f"user:{actor}"[:32] if actor else None),
            action=action[:16],
            collection=_AUDIT_TYPE,
            record_id=record_id[:96],
            request_id=(request_id or operator_id())[:64],
        )
    )


# -- the member's own check-in ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CheckinOutcome:
    """The result of a check-in: ``ok``, or the reason it was refused (a key of the page's
    words): ``bad-link``, ``not-yet``, ``closed``, ``gone``, ``limited``, ``bad-digits``,
    ``wrong-digits``, ``locked``, ``twice``, ``other-branch``, ``no-proof``."""

    reason: str
    name: str = ""
    tries_left: int = 0

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


def link_state(link: Link | None, now: datetime) -> str:
    """``open``, ``bad-link``, ``not-yet`` or ``closed``."""
    if link is None:
        return "bad-link"
    stamp = now.timestamp()
    if stamp < link.opens:
        return "not-yet"
    if stamp > link.closes:
        return "closed"
    return "open"


def window_state(meeting: Meeting, now: datetime) -> str:
    """``open``, ``not-yet`` or ``closed`` by the meeting's own window (it may have been moved
    since the link was made)."""
    opens, closes = window(meeting)
    if now < opens:
        return "not-yet"
    return "closed" if now > closes else "open"


def check_in(
    hub: Hub,
    token: str,
    member_id: str,
    digits: str,
    *,
    client: str,
    now: datetime | None = None,
    limiter: SlidingWindow,
) -> CheckinOutcome:
    """A member checks in through a meeting's link with the last four digits of their phone
    or citizen ID. Every attempt within the address's budget is audited (one beyond it is
    refused before the database is touched); the digits never leave this function."""
    now = now or datetime.now(UTC)
    if not limiter.allow(client):  # before anything is read or written: a flood costs nothing
        return CheckinOutcome("limited")
    link = open_link(hub, token)
    reason = link_state(link, now)
    meeting = _meeting_anyone(hub, link.activity_id) if link is not None else None
    if reason == "open" and meeting is None:
        reason = "gone"
    if reason == "open" and meeting is not None:
        reason = window_state(meeting, now)
    if reason != "open" or meeting is None:
        with hub.db.write() as conn:
            subject = link.activity_id if link else "-"
            _audit(conn, "checkin-refused", subject, f"checkin:{reason}:{client}", None)
        return CheckinOutcome(reason)
    with hub.db.write() as conn:
        outcome = _check_member(hub, conn, meeting, member_id, digits, now)
        action, why = ("checkin", "") if outcome.ok else ("checkin-refused", outcome.reason + ":")
        _audit(conn, action, member_id or meeting.id, f"checkin:{why}{client}", None)
    return outcome


def _check_member(
    hub: Hub, conn: Connection, meeting: Meeting, member_id: str, digits: str, now: datetime
) -> CheckinOutcome:
    row = conn.execute(
        select(records.c.doc, records.c.sealed, records.c.scope_org, records.c.deleted).where(
            records.c.collection == "members", records.c.id == member_id
        )
    ).first()
    if row is None or row.deleted or row.scope_org != meeting.organisation_id or not row.doc:
        return CheckinOutcome("other-branch")
    doc = orjson.loads(row.doc)
    if doc.get("status") != "normal":  # not on the branch's list either
        return CheckinOutcome("other-branch")
    name = str(doc.get("name") or "")
    key = and_(checkins.c.activity_id == meeting.id, checkins.c.member_id == member_id)
    entry = conn.execute(select(checkins.c.state, checkins.c.failures).where(key)).first()
    if entry is not None and entry.state != "tried":
        return CheckinOutcome("twice", name)
    failures = entry.failures if entry is not None else 0
    if failures >= MAX_FAILURES:
        return CheckinOutcome("locked", name)
    digits = digits.strip().upper()
    if not _DIGITS.fullmatch(digits):
        return CheckinOutcome("bad-digits", name, MAX_FAILURES - failures)
    proofs = _proofs(hub, member_id, row.sealed)
    if not proofs:
        return CheckinOutcome("no-proof", name)
    matched = False
    for proof in proofs:  # every comparison runs: the time says nothing of which one matched
        matched |= hmac.compare_digest(proof, digits.encode())
    values: dict[str, Any] = (
        {"state": "pending", "checked_in_at": now} if matched else {"failures": failures + 1}
    )
    if entry is None:
        conn.execute(
            insert(checkins).values(
                activity_id=meeting.id,
                member_id=member_id,
                organisation_id=meeting.organisation_id,
                state="tried",
                failures=0,
            )
        )
    conn.execute(sql_update(checkins).where(key).values(**values))
    if matched:
        return CheckinOutcome("ok", name)
    left = MAX_FAILURES - failures - 1
    return CheckinOutcome("wrong-digits" if left > 0 else "locked", name, left)


def _proofs(hub: Hub, member_id: str, sealed: bytes | None) -> list[bytes]:
    """The last four digits of the member's phone and citizen ID, from the sealed fields."""
    opened, _ = open_sealed(hub.cipher, member_id, sealed)
    out = []
    phone = opened.get("phone")
    if isinstance(phone, str):
        only = re.sub(r"[^0-9]", "", phone)
        if len(only) >= 4:
            out.append(only[-4:].encode())
    citizen = opened.get("citizenId")
    if isinstance(citizen, str) and len(citizen) >= 4:
        out.append(citizen[-4:].upper().encode())
    return out


def meeting_for_link(hub: Hub, link: Link) -> Meeting | None:
    """The meeting a verified link names (None: deleted)."""
    return _meeting_anyone(hub, link.activity_id)


def visible_org(hub: Hub, principal: Principal, organisation_id: str) -> bool:
    """Whether ``principal`` may place a meeting in ``organisation_id``."""
    with hub.db.read() as conn:
        path = org_path(conn, organisation_id)
    return path is not None and sees(principal, path)
