"""Statistics of the records in a caller's subtree (``GET /v1/stats``, the console dashboard).

Every number is computed by the database (``GROUP BY`` over ``record_facts``, the typed
projection of the stored records' documents the record store keeps in step); no record is loaded
into Python and no document is parsed. The scope is the caller's organisation subtree (see
:func:`._policy.sees`), narrowed to ``organisationId``'s subtree when given; at a parent hub the
replicas of its children's records lie in that tree too and are counted.

Members "on the rolls" are those whose status is not one of :data:`LEFT` (removed, expelled,
withdrawn, deceased); every breakdown but ``byStatus`` counts them.

The ``feedback`` counts (:func:`._peercounts.feedback_totals`) are of the feedback held at this
hub plus the counts its children report at each pull: feedback is not a record and is never
replicated, only its counts travel upward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    TIMESTAMP,
    ColumnElement,
    Connection,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
)

from tongxin.schemas import codelist, problems

from ._errors import BadRequest, NotFound
from ._hub import Hub
from ._peercounts import feedback_totals
from ._policy import sees
from ._security import Principal, org_path
from ._tables import org_tree, record_facts, records

__all__ = ["LEFT", "StatsQuery", "compute_stats"]

#: Statuses of people no longer on the Party's rolls.
LEFT = ("removed", "expelled", "withdrawn", "deceased")
#: Organisation types that hold members directly (a branch in the size statistics).
BRANCH_TYPES = ("branch", "joint-branch", "temporary-branch")
#: Upper bounds (inclusive) of the age bands, in years; the last band is open.
AGE_BANDS = (30, 40, 50, 60, 70)
#: Branch size bands by members on the rolls (inclusive bounds); the last is open.
SIZE_BANDS = ((0, 2), (3, 6), (7, 50))
#: Items listed beside a count (branches under 3 full members, probationers due).
LIST_LIMIT = 100
_ORPHAN = 2
#: The dates ``from`` and ``to`` may take (ages, terms and probation are counted from them).
_EARLIEST, _LATEST = date(1900, 1, 1), date(2200, 12, 31)
_EDUCATION_GROUPS = {
    "1": ("研究生", "Postgraduate"),
    "2": ("大学本科", "Undergraduate"),
    "3": ("大学专科", "Junior college"),
    "4": ("中等职业教育", "Secondary vocational"),
    "6": ("普通高中", "Senior high school"),
    "7": ("初中", "Junior secondary"),
    "8": ("小学", "Primary"),
    "9": ("其他", "Other"),
}
_UNKNOWN = ("未填写", "Not given")


@dataclass(frozen=True, slots=True)
class StatsQuery:
    """What ``GET /v1/stats`` was asked: an organisation subtree and a period (``to`` is also
    the day ages and probation are counted at)."""

    organisation_id: str | None = None
    start: date | None = None
    end: date | None = None

    @property
    def as_of(self) -> date:
        return self.end or date.today()

    @property
    def period(self) -> tuple[date, date]:
        """The period of the meeting and dues statistics: ``from``–``to``, by default the
        quarter of ``to`` so far."""
        end = self.as_of
        start = self.start or date(end.year, (end.month - 1) // 3 * 3 + 1, 1)
        return start, end


def _scope_prefix(hub: Hub, principal: Principal, query: StatsQuery) -> str | None:
    """The tree path whose subtree is counted (None: the whole hub)."""
    if query.organisation_id is None:
        return principal.subtree if principal.restricted else None
    with hub.db.read() as conn:
        path = org_path(conn, query.organisation_id)
    if path is None or not sees(principal, path):
        raise NotFound(
            problems.NOT_FOUND,
            f"organisations/{query.organisation_id} does not exist",
            f"记录 organisations/{query.organisation_id} 不存在",
        )
    return path


#: The projection of the live records (a tombstone has no row there).
F = record_facts.c


def _named(value: str) -> ColumnElement[Any]:
    """``value`` written into the statement, not bound: the database matches it against the
    condition of a partial index (``_tables.RecordFactRow``) whatever plan it caches."""
    return literal(value, literal_execute=True)


def _live(collection: str, prefix: str | None) -> ColumnElement[bool]:
    c = F
    where = and_(c.collection == _named(collection), c.orphan != _ORPHAN)
    if prefix is not None:
        inside = select(org_tree.c.id).where(org_tree.c.path.startswith(prefix, autoescape=True))
        where = and_(where, c.scope_org.in_(inside))
    return where


def _on_rolls(status: Any = F.status) -> ColumnElement[bool]:
    return func.coalesce(status, "").not_in(LEFT)


def _counts(conn: Connection, key: ColumnElement[Any], where: ColumnElement[bool]) -> list[Any]:
    grouped = key.label("k")
    rows = conn.execute(
        select(grouped, func.count().label("n")).where(where).group_by(grouped).order_by(grouped)
    ).all()
    return [(row.k, row.n) for row in rows]


def _coded(rows: list[Any], list_name: str) -> list[dict[str, Any]]:
    listed = codelist(list_name)
    out = []
    for code, n in rows:
        try:
            zh, en = listed.title(str(code)) if code is not None else _UNKNOWN
        except KeyError:
            zh, en = str(code), str(code)
        out.append(_item(None if code is None else str(code), zh, en, n))
    return out


def _item(code: str | None, zh: str, en: str, count: int) -> dict[str, Any]:
    return {"code": code, "label": {"zh-CN": zh, "en": en}, "count": int(count)}


def _years_before(day: date, years: int) -> str:
    try:
        return day.replace(year=day.year - years).isoformat()
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28).isoformat()


def _age_band(as_of: date) -> ColumnElement[Any]:
    birth = F.birth_date
    whens = [
        (birth > _years_before(as_of, top + 1), literal(f"{i}")) for i, top in enumerate(AGE_BANDS)
    ]
    return case(*whens, else_=literal(str(len(AGE_BANDS))))


def _age_labels() -> list[tuple[str, str]]:
    labels, low = [], 0
    for top in AGE_BANDS:
        labels.append(
            (f"{low}–{top} 岁" if low else f"{top} 岁及以下", f"{low}–{top}" if low else f"≤ {top}")
        )
        low = top + 1
    labels.append((f"{low} 岁及以上", f"≥ {low}"))
    return labels


def _ordered(counts: dict[Any, int], nulls_first: bool) -> list[tuple[Any, int]]:
    """``counts`` in key order, as ``ORDER BY`` gives it (NULL first on SQLite, last on
    PostgreSQL)."""
    return sorted(counts.items(), key=lambda kv: ((kv[0] is None) != nulls_first, kv[0] or ""))


def _members(
    conn: Connection, prefix: str | None, as_of: date, nulls_first: bool
) -> dict[str, Any]:
    """Every breakdown from one grouped scan of the members (the few thousand groups are
    summed here)."""
    age = _age_band(as_of).label("age")
    education = cast(func.substr(F.education, 1, 1), String).label("education")
    keys = (F.status, F.category, F.gender, age, education, F.ethnicity)
    rows = conn.execute(
        select(*keys, func.count().label("n")).where(_live("members", prefix)).group_by(*keys)
    ).all()
    tallies: list[dict[Any, int]] = [{} for _ in range(6)]
    by_status: dict[Any, int] = {}
    total = 0
    for row in rows:
        status, n = row[0], int(row.n)
        by_status[status] = by_status.get(status, 0) + n
        if (status or "") in LEFT:
            continue
        total += n
        for tally, key in zip(tallies, row[:6], strict=True):
            tally[key] = tally.get(key, 0) + n
    _, categories, genders, ages, educations, ethnicities = tallies
    by_age = [
        _item(str(i), zh, en, ages.get(str(i), 0)) for i, (zh, en) in enumerate(_age_labels())
    ]
    by_education = [
        _item(None if g is None else str(g), *_EDUCATION_GROUPS.get(str(g), _UNKNOWN), n)
        for g, n in _ordered(educations, nulls_first)
    ]
    return {
        "total": total,
        "byCategory": _coded(_ordered(categories, nulls_first), "member-category"),
        "byGender": _coded(_ordered(genders, nulls_first), "gender"),
        "byAgeBand": by_age,
        "byEducation": by_education,
        "byEthnicity": _coded(_ordered(ethnicities, nulls_first), "ethnicity"),
        "byStatus": _coded(_ordered(by_status, nulls_first), "member-status"),
    }


Sizes = dict[str, tuple[int, int]]


def _sizes(conn: Connection, prefix: str | None) -> Sizes:
    """Members on the rolls and full members per organisation of the scope."""
    full = case((F.category == "full", 1), else_=0)
    rows = conn.execute(
        select(F.scope_org, func.count(), func.sum(full))
        .where(_live("members", prefix), _on_rolls())
        .group_by(F.scope_org)
    ).all()
    return {org: (int(n), int(f or 0)) for org, n, f in rows}


def _branch(prefix: str | None) -> ColumnElement[bool]:
    return and_(_live("organisations", prefix), F.type.in_(BRANCH_TYPES))


def _branch_list(conn: Connection, prefix: str | None) -> list[Any]:
    """The branches of the scope (id, name) in id order."""
    return list(conn.execute(select(F.id, F.name).where(_branch(prefix)).order_by(F.id)).all())


def _branches(branches: list[Any], sizes: Sizes) -> dict[str, Any]:
    rows: dict[str, int] = {}
    under = []
    for b in branches:
        members, full = sizes.get(b.id, (0, 0))
        band = next(
            (f"{low}-{high}" for low, high in SIZE_BANDS if members <= high),
            f"{SIZE_BANDS[-1][1] + 1}+",
        )
        rows[band] = rows.get(band, 0) + 1
        if full < 3:
            under.append({"id": b.id, "name": b.name, "members": members, "fullMembers": full})
    by_size = []
    for low, high in SIZE_BANDS:
        key = f"{low}-{high}"
        by_size.append(_item(key, f"{low}–{high} 人", f"{low}–{high}", rows.get(key, 0)))
    top = f"{SIZE_BANDS[-1][1] + 1}+"
    by_size.append(_item(top, f"{SIZE_BANDS[-1][1] + 1} 人及以上", top, rows.get(top, 0)))
    return {
        "total": len(branches),
        "bySize": by_size,
        "underThreeFull": {"count": len(under), "items": under[:LIST_LIMIT]},
    }


def _probation(conn: Connection, prefix: str | None, as_of: date) -> dict[str, Any]:
    """Probationary members whose year (from ``joinedDate``) ends within 30 days of ``as_of``,
    and those whose year has already ended."""
    joined = F.joined_date
    base = and_(_live("members", prefix), _on_rolls(), F.category == _named("probationary"))
    year_ago = _years_before(as_of, 1)
    soon = _years_before(as_of + timedelta(days=30), 1)
    due = and_(base, joined >= year_ago, joined <= soon)
    overdue = and_(base, joined < year_ago)
    return {
        "dueWithin30Days": _listed(conn, due),
        "overdue": _listed(conn, overdue),
    }


def _listed(conn: Connection, where: ColumnElement[bool]) -> dict[str, Any]:
    rows = conn.execute(
        select(
            F.id,
            F.name.label("name"),
            F.scope_org.label("org"),
            F.joined_date.label("joined"),
            func.count().over().label("total"),
        )
        .where(where)
        .order_by(F.joined_date, F.id)
        .limit(LIST_LIMIT)
    ).all()
    items = []
    for r in rows:
        joined = date.fromisoformat(str(r.joined))
        items.append(
            {
                "id": r.id,
                "name": r.name,
                "organisationId": r.org,
                "joinedDate": joined.isoformat(),
                "dueDate": _years_before(joined, -1),
            }
        )
    return {"count": int(rows[0].total) if rows else 0, "items": items}


#: 三会一课: the activity types and how often each is required (months per meeting).
REQUIRED_EVERY = {
    "general-meeting": 3,
    "party-lecture": 3,
    "committee-meeting": 1,
    "group-meeting": 1,
}


def _months(start: date, end: date) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _required(start: date, end: date, every: int) -> int:
    """How many meetings a period needs: one per calendar month (every 1) or quarter (3) it
    touches."""
    return len({(int(m[:4]), (int(m[5:]) - 1) // every) for m in _months(start, end)})


def _meetings(
    conn: Connection, prefix: str | None, start: date, end: date, branches: list[Any]
) -> dict[str, Any]:
    """三会一课 per branch in the period, against the required frequencies."""
    day, kind = F.start_day, F.type
    held = conn.execute(
        select(F.scope_org, kind.label("kind"), func.count().label("n"))
        .where(
            _live("activities", prefix),
            kind.in_(REQUIRED_EVERY),
            day >= start.isoformat(),
            day <= end.isoformat(),
        )
        .group_by(F.scope_org, kind)
    ).all()
    counts: dict[tuple[str, str], int] = {(r.scope_org, r.kind): int(r.n) for r in held}
    required = {k: _required(start, end, every) for k, every in REQUIRED_EVERY.items()}
    by_type = []
    for code, need in required.items():
        zh, en = codelist("activity-type").title(code)
        meeting = sum(counts.get((b.id, code), 0) >= need for b in branches)
        item = _item(code, zh, en, sum(counts.get((b.id, code), 0) for b in branches))
        by_type.append({**item, "required": need, "branchesMeeting": meeting})

    def complete(branch_id: str) -> bool:
        return all(counts.get((branch_id, c), 0) >= n for c, n in required.items())

    items = [
        {
            "id": b.id,
            "name": b.name,
            "held": {code: counts.get((b.id, code), 0) for code in required},
            "complete": complete(b.id),
        }
        for b in branches[:LIST_LIMIT]
    ]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "branches": len(branches),
        "branchesComplete": sum(complete(b.id) for b in branches),
        "byType": by_type,
        "items": items,
    }


def _dues(
    conn: Connection,
    prefix: str | None,
    start: date,
    end: date,
    members: int,
    branches: list[Any],
    sizes: Sizes,
) -> dict[str, Any]:
    """Members who paid dues for each month of the period, and the rate against the members on
    the rolls now; per branch, the member-months paid against those due (members on the rolls
    of the branch times the months of the period)."""
    month = F.period
    months = _months(start, end)
    # Distinct (month, payer) pairs first: a hashed DISTINCT, where COUNT(DISTINCT) would sort.
    pairs = (
        select(month.label("m"), F.member_id)
        .where(_live("duesPayments", prefix), month.in_(months), F.member_id.is_not(None))
        .distinct()
        .subquery("pairs")
    )
    paid: dict[str, int] = dict(
        conn.execute(select(pairs.c.m, func.count()).group_by(pairs.c.m)).all()
    )
    by_month = []
    for m in months:
        count = int(paid.get(m, 0))
        rate = round(count / members, 4) if members else None
        by_month.append({"code": m, "label": {"zh-CN": m, "en": m}, "count": count, "rate": rate})
    return {
        "members": members,
        "byMonth": by_month,
        "byBranch": _dues_by_branch(conn, months, branches, sizes),
    }


def _dues_by_branch(
    conn: Connection, months: list[str], branches: list[Any], sizes: Sizes
) -> list[dict[str, Any]]:
    """Per branch (of the payer as a member now): member-months paid in ``months`` and the rate
    against its members on the rolls times the months; branches in id order, at most
    :data:`LIST_LIMIT`."""
    listed = branches[:LIST_LIMIT]
    if not listed:
        return []
    # The payer's organisation is read from ``records`` (its scope index), so a payment of a
    # member since deleted still counts for the member's last organisation. Each member of the
    # listed branches looks up its own months paid (an index lookup per member), rather than
    # every payment of the period being joined to the few members listed.
    d, m = record_facts.alias("d"), records.alias("m")
    months_paid = (
        select(func.count(func.distinct(d.c.period)))
        .where(
            d.c.collection == _named("duesPayments"),
            d.c.member_id == m.c.id,
            d.c.orphan != _ORPHAN,
            d.c.period.in_(months),
        )
        .scalar_subquery()
    )
    paid: dict[str, int] = dict(
        conn.execute(
            select(m.c.scope_org, func.sum(months_paid))
            .where(m.c.collection == "members", m.c.scope_org.in_([b.id for b in listed]))
            .group_by(m.c.scope_org)
        ).all()
    )
    out = []
    for b in listed:
        count = int(paid.get(b.id, 0))
        due = sizes.get(b.id, (0, 0))[0] * len(months)
        out.append(
            {
                "code": b.id,
                "label": {"zh-CN": str(b.name), "en": str(b.name)},
                "count": count,
                "due": due,
                "rate": round(count / due, 4) if due else None,
            }
        )
    return out


#: Bands of the days a transfer took or has been waiting (inclusive upper bounds; last open).
DAY_BANDS = (7, 30, 90)


def _day_labels() -> list[tuple[str, str, str]]:
    labels, low = [], 0
    for top in DAY_BANDS:
        labels.append((f"{low}-{top}", f"{low}–{top} 天", f"{low}–{top} days"))
        low = top + 1
    labels.append((f"{low}+", f"{low} 天及以上", f"{low}+ days"))
    return labels


def _days_between(dialect: str, later: ColumnElement[Any], day: ColumnElement[Any]) -> Any:
    """Whole days from the date text ``day`` to ``later`` (epoch microseconds, or a date)."""
    if dialect == "sqlite":
        return cast(func.julianday(later) - func.julianday(day), Integer)
    return func.date_part("day", later - cast(day, TIMESTAMP))


def _transfers(conn: Connection, dialect: str, prefix: str | None, as_of: date) -> dict[str, Any]:
    """Transfers touching the subtree (sent from it or to it): those in flight (``issued``)
    with the days they have waited, and the days the accepted ones took (from ``issuedDate``
    to the acceptance, the record's last change)."""
    c = F
    where = and_(c.collection == "transfers", c.orphan != _ORPHAN)
    if prefix is not None:
        inside = select(org_tree.c.id).where(org_tree.c.path.startswith(prefix, autoescape=True))
        where = and_(where, or_(c.scope_org.in_(inside), c.scope_org2.in_(inside)))
    state = F.state
    issued = F.issued_date
    if dialect == "sqlite":
        decided = func.datetime(c.updated_us / 1_000_000, "unixepoch")
        today: Any = literal(as_of.isoformat())
    else:
        decided = func.to_timestamp(c.updated_us / 1_000_000.0)
        today = cast(literal(as_of.isoformat()), TIMESTAMP)
    took = _days_between(dialect, decided, issued)
    waited = _days_between(dialect, today, issued)

    def banded(days: Any) -> Any:
        return case(
            *[
                (days <= top, literal(key))
                for top, (key, _, _) in zip(DAY_BANDS, _day_labels(), strict=False)
            ],
            else_=literal(_day_labels()[-1][0]),
        ).label("band")

    def bands(days: Any, cond: ColumnElement[bool]) -> list[dict[str, Any]]:
        band = banded(days)
        got: dict[str, int] = dict(
            conn.execute(select(band, func.count()).where(cond).group_by(band)).all()
        )
        return [_item(key, zh, en, int(got.get(key, 0))) for key, zh, en in _day_labels()]

    by_state = _coded(_counts(conn, state, where), "transfer-state")
    flying = and_(where, state == "issued")
    accepted = and_(where, state == "accepted")
    summary = conn.execute(
        select(func.count(), func.avg(took), func.max(took)).where(accepted)
    ).one()
    return {
        "byState": by_state,
        "inFlight": int(sum(i["count"] for i in by_state if i["code"] == "issued")),
        "waitingDays": bands(waited, flying),
        "accepted": int(summary[0]),
        "averageDays": None if summary[1] is None else round(float(summary[1]), 1),
        "maxDays": None if summary[2] is None else int(summary[2]),
        "tookDays": bands(took, accepted),
    }


def _committees(conn: Connection, prefix: str | None, as_of: date) -> dict[str, Any]:
    """Organisations whose committee's term (``electedDate`` + ``termYears``) ends within 90
    days of ``as_of``, or has ended."""
    elected = F.elected_date
    years = F.term_years
    soon_at = as_of + timedelta(days=90)
    ending, ended = [], []
    for n in range(1, 6):
        ending.append(
            and_(
                years == n,
                elected > _years_before(as_of, n),
                elected <= _years_before(soon_at, n),
            )
        )
        ended.append(and_(years == n, elected <= _years_before(as_of, n)))
    base = and_(_live("organisations", prefix), elected.is_not(None))
    return {
        "endingWithin90Days": _orgs(conn, and_(base, or_(*ending))),
        "ended": _orgs(conn, and_(base, or_(*ended))),
    }


def _orgs(conn: Connection, where: ColumnElement[bool]) -> dict[str, Any]:
    rows = conn.execute(
        select(
            F.id,
            F.name.label("name"),
            F.elected_date.label("elected"),
            F.term_years.label("years"),
            func.count().over().label("total"),
        )
        .where(where)
        .order_by(F.id)
        .limit(LIST_LIMIT)
    ).all()
    items = [
        {
            "id": r.id,
            "name": r.name,
            "electedDate": str(r.elected),
            "termYears": int(r.years),
            "termEnds": _years_before(date.fromisoformat(str(r.elected)), -int(r.years)),
        }
        for r in rows
    ]
    return {"count": int(rows[0].total) if rows else 0, "items": items}


#: Memory PostgreSQL may give each grouping of the statistics (``work_mem``): its estimate of
#: the groups of the members' breakdowns (the product of the keys' distinct values, some
#: thousand times the true 100 or so) must fit, or it sorts the half million rows instead of
#: hashing them.
WORK_MEM = "32MB"


def _snapshot(conn: Connection, dialect: str) -> None:
    """On PostgreSQL, run the statements of one document in one read-only snapshot (the
    numbers agree with each other) with :data:`WORK_MEM`."""
    if dialect != "postgresql":
        return
    conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))


def compute_stats(hub: Hub, principal: Principal, query: StatsQuery) -> dict[str, Any]:
    """The statistics document of ``GET /v1/stats`` for ``principal``."""
    for name, day in (("from", query.start), ("to", query.end)):
        if day is not None and not _EARLIEST <= day <= _LATEST:
            raise BadRequest(
                problems.INVALID_PARAMETER,
                f"{name} must lie between {_EARLIEST} and {_LATEST}",
                f"日期须在 {_EARLIEST} 至 {_LATEST} 之间",
            )
    if query.start is not None and query.end is not None and query.start > query.end:
        raise BadRequest(problems.INVALID_PARAMETER, "from is after to", "起始日期晚于截止日期")
    prefix = _scope_prefix(hub, principal, query)
    dialect = hub.db.dialect
    as_of = query.as_of
    start, end = query.period
    with hub.db.read() as conn:
        _snapshot(conn, dialect)
        members = _members(conn, prefix, as_of, nulls_first=dialect == "sqlite")
        branches = _branch_list(conn, prefix)
        sizes = _sizes(conn, prefix)
        return {
            "organisationId": query.organisation_id or principal.organisation_id,
            "asOf": as_of.isoformat(),
            "from": None if query.start is None else query.start.isoformat(),
            "to": None if query.end is None else query.end.isoformat(),
            "members": members,
            "branches": _branches(branches, sizes),
            "probation": _probation(conn, prefix, as_of),
            "meetings": _meetings(conn, prefix, start, end, branches),
            "dues": _dues(conn, prefix, start, end, members["total"], branches, sizes),
            "committees": _committees(conn, prefix, as_of),
            "feedback": feedback_totals(conn, prefix, start, end),
            "transfers": _transfers(conn, dialect, prefix, as_of),
        }
