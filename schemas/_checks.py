"""The rules beyond the schema, on plain wire dicts.

Contract: the checks receive *well-formed* records — every field present has passed the
schema (see :func:`well_formed`, which drops the fields the schema rejected). This keeps the
hot path free of type guards and date parsing: ISO dates compare correctly as strings.

:class:`PackageState` remembers what cross-record checks need (ids, citizen IDs, full members
per organisation, the organisation tree, general meetings) in compact sets, so a package of a
million members validates in bounded memory.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ._checkdigits import (
    citizen_id_birth_date,
    citizen_id_check,
    credit_code_check,
    valid_credit_code,
)
from ._digest11 import applicant_digest, leaders_digest
from ._issues import Issue
from ._rules import RULES
from ._schemacheck import deprecations, field_title, record_errors
from ._zh import CHECK_ZH, class_zh, collection_zh

__all__ = [
    "Digest",
    "DuesPolicy",
    "MemberColumns",
    "PackageState",
    "RecordContext",
    "check_record",
    "digest",
    "member_columns",
    "record_issues",
    "well_formed",
]

R = RULES
_PII = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|1[3-9][0-9]{9})(?![0-9])")
_FREE_TEXT = {
    "organisations": ("name", "hostUnit"),
    "members": ("workUnit", "nativePlace"),
    "activities": ("topic", "location", "presenter", "recorder", "decisions"),
    "duesPayments": (),
    "transfers": (),
    "applicants": (),
}
CENT = Decimal("0.01")


def well_formed(record: dict[str, Any], schema_issues: Iterable[Issue]) -> dict[str, Any]:
    """``record`` without the top-level fields that have schema issues (relative pointers)."""
    bad = {issue.path.split("/", 2)[1] for issue in schema_issues if issue.path.count("/")}
    return {k: v for k, v in record.items() if k not in bad} if bad else record


def plus_years(iso: str, years: int | float) -> str:
    """The ISO date ``years`` later, as a string: the corresponding day of that year, or the
    last day of the month when it has none (29 February in a common year ends on 28 February;
    Civil Code art. 202). Periods of years (probation, age, terms of office) end on this day.
    (JSON integers may arrive as ``5.0``.)"""
    year = int(iso[:4]) + int(years)
    if iso[4:10] == "-02-29" and not _leap(year):
        return f"{year:04d}-02-28{iso[10:]}"
    if 1000 <= year <= 9999:  # the common case, without the cost of a format
        return str(year) + iso[4:]
    return f"{year:04d}{iso[4:]}"


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def months_later_end(period: str, months: int) -> str:
    """The ISO date of the last day of the month ``months`` after ``period`` (YYYY-MM)."""
    total = int(period[:4]) * 12 + int(period[5:7]) - 1 + months
    year, month = divmod(total, 12)
    leap = month == 1 and _leap(year)
    return f"{year:04d}-{month + 1:02d}-{_MONTH_DAYS[month] + leap:02d}"


@dataclass(frozen=True, slots=True)
class DuesPolicy:
    """The dues brackets of 中组发〔2008〕3号; provinces may override the flat amounts."""

    salaried: tuple[tuple[Decimal, Decimal], ...] = (
        (Decimal(3000), Decimal("0.005")),
        (Decimal(5000), Decimal("0.01")),
        (Decimal(10000), Decimal("0.015")),
    )
    salaried_top: Decimal = Decimal("0.02")
    retired: tuple[tuple[Decimal, Decimal], ...] = ((Decimal(5000), Decimal("0.005")),)
    retired_top: Decimal = Decimal("0.01")
    flat: Decimal = Decimal("0.20")
    farmer_range: tuple[Decimal, Decimal] = (Decimal("0.20"), Decimal("1.00"))

    def expected(self, member_class: str, base: Decimal | None) -> tuple[Decimal, Decimal] | None:
        """The (lowest, highest) amount allowed, or None when the class is not checked."""
        if member_class in ("salaried", "annual-salary", "self-employed", "retired"):
            if base is None:
                return None
            brackets, top = (
                (self.retired, self.retired_top)
                if member_class == "retired"
                else (self.salaried, self.salaried_top)
            )
            rate = next((r for limit, r in brackets if base <= limit), top)
            amount = (base * rate).quantize(CENT, ROUND_HALF_UP)
            return amount, amount
        if member_class in ("student", "unemployed", "relief"):
            return self.flat, self.flat
        if member_class == "farmer":
            return self.farmer_range
        return None


@dataclass(slots=True)
class RecordContext:
    """What record checks need besides the record: the reference date and the dues policy."""

    as_of: date
    dues: DuesPolicy = field(default_factory=DuesPolicy)
    as_of_iso: str = ""
    #: the version of the standard the document declares, and the rules it adds (1.1 on)
    version: str = "1.0"
    more: Callable[[str, dict[str, Any], str, RecordContext, list[Issue]], None] | None = None

    def __post_init__(self) -> None:
        self.set_as_of(self.as_of)

    def set_as_of(self, day: date) -> None:
        """Change the reference date of time-dependent rules."""
        self.as_of, self.as_of_iso = day, day.isoformat()


def _pii(collection: str, r: dict[str, Any], at: str, out: list[Issue]) -> None:
    for name in _FREE_TEXT[collection]:
        text = r.get(name)
        if text is not None and (found := _PII.search(text)):
            is_id = len(found.group()) == 18
            out.append(
                R["PII-001"].issue(
                    f"{at}/{name}",
                    field=name,
                    field_zh=field_title(collection, name),
                    kind_zh="身份号码" if is_id else "手机号码",
                    kind_en="an ID number" if is_id else "a phone number",
                )
            )


def _deprecated(
    collection: str, r: dict[str, Any], at: str, out: list[Issue], version: str = "1.0"
) -> None:
    fields, coded = deprecations(collection, version)
    for name, version in fields:
        if r.get(name) is not None:
            out.append(
                R["SCH-002"].issue(
                    f"{at}/{name}",
                    what=name,
                    what_zh=f"字段“{field_title(collection, name)}”",
                    version=version,
                    hint_zh="请改用字段说明中的替代字段（见数据项表）",
                    hint_en="see the field's description for its replacement",
                )
            )
    for name, retired in coded:
        value = r.get(name)
        if value in retired:
            out.append(
                R["SCH-002"].issue(
                    f"{at}/{name}",
                    what=f"{name} = {value}",
                    what_zh=f"“{field_title(collection, name)}”的代码 {value}",
                    version=retired[value],
                    hint_zh="请改用代码表中的现行代码（见代码表说明）",
                    hint_en="see the codelist's description",
                )
            )


def _member(r: dict[str, Any], at: str, ctx: RecordContext, out: list[Issue]) -> None:
    birth = r.get("birthDate")
    cid = r.get("citizenId")
    if cid is not None:
        citizen_id_issues(r, cid, birth, at, out)
    joined = r.get("joinedDate")
    if birth and joined and joined < plus_years(birth, 18):
        out.append(R["MBR-004"].issue(f"{at}/joinedDate", joined=joined, birth=birth))
    full = r.get("fullMembershipDate")
    category = r.get("category")
    if category == "full":
        if full is None:
            out.append(R["MBR-006"].issue(f"{at}/fullMembershipDate"))
        elif joined:
            if full < (due := plus_years(joined, 1)):
                out.append(R["MBR-005"].issue(f"{at}/fullMembershipDate", full=full, due=due))
            elif full > plus_years(joined, 2):
                out.append(
                    R["MBR-008"].issue(
                        f"{at}/fullMembershipDate",
                        joined=joined,
                        how_zh=f"于 {full} 转正",
                        how_en=f"confirmed on {full}",
                    )
                )
    elif category == "probationary":
        if full is not None:
            out.append(R["MBR-007"].issue(f"{at}/fullMembershipDate"))
        elif joined and ctx.as_of_iso > plus_years(joined, 2):
            out.append(
                R["MBR-008"].issue(
                    f"{at}/category",
                    joined=joined,
                    how_zh=f"截至 {ctx.as_of} 仍为预备党员",
                    how_en=f"still probationary on {ctx.as_of}",
                )
            )


def citizen_id_issues(
    r: dict[str, Any], cid: str, birth: str | None, at: str, out: list[Issue]
) -> None:
    if citizen_id_check(cid[:17]) != cid[17].upper():
        out.append(
            R["MBR-001"].issue(
                f"{at}/citizenId",
                value=cid,
                why_zh=CHECK_ZH.format(expected=citizen_id_check(cid[:17])),
                why_en="wrong check character",
            )
        )
        return
    if birth is None or birth.replace("-", "") != cid[6:14]:
        id_birth = citizen_id_birth_date(cid)
        if id_birth is None:
            out.append(
                R["MBR-001"].issue(
                    f"{at}/citizenId",
                    value=cid,
                    why_zh="第七至十四位不是真实的出生日期：请核对号码",
                    why_en="no such birth date",
                )
            )
        elif birth is not None:
            out.append(R["MBR-002"].issue(f"{at}/birthDate", birth=birth, id_birth=id_birth))
    gender = r.get("gender")
    if (gender == "1" or gender == "2") and (gender == "1") != (cid[16] in "13579"):
        out.append(R["MBR-003"].issue(f"{at}/gender", gender=gender))
    if cid[17] == "x":
        out.append(R["MBR-009"].issue(f"{at}/citizenId"))


def _organisation(r: dict[str, Any], at: str, ctx: RecordContext, out: list[Issue]) -> None:
    code = r.get("creditCode")
    if code is not None and not valid_credit_code(code):
        out.append(
            R["ORG-001"].issue(
                f"{at}/creditCode",
                value=code,
                why_zh=CHECK_ZH.format(expected=credit_code_check(code[:17])),
                why_en="wrong check character",
            )
        )
    elected, years = r.get("electedDate"), r.get("termYears")
    if elected and years and (ended := plus_years(elected, years)) < ctx.as_of_iso:
        out.append(
            R["ORG-004"].issue(f"{at}/electedDate", elected=elected, years=years, ended=ended)
        )


def _instant(value: str) -> datetime | None:
    """An RFC 3339 date-time as a datetime, or None for the few that Python cannot hold (a
    leap second, year 0000); the rule then has nothing to compare."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _activity(r: dict[str, Any], at: str, ctx: RecordContext, out: list[Issue]) -> None:
    start, end = r.get("startTime"), r.get("endTime")
    if start and end and (a := _instant(start)) and (b := _instant(end)) and b < a:
        out.append(R["ACT-001"].issue(f"{at}/endTime", start=start, end=end))
    for i, entry in enumerate(r.get("attendance") or ()):
        reason = entry.get("reason")
        if reason and _PII.search(reason):
            out.append(
                R["PII-001"].issue(
                    f"{at}/attendance/{i}/reason",
                    field="reason",
                    field_zh="缺席原因",
                    kind_zh="身份号码或手机号码",
                    kind_en="an ID or phone number",
                )
            )


def _dues(r: dict[str, Any], at: str, ctx: RecordContext, out: list[Issue]) -> None:
    amount, base, member_class = r.get("amount"), r.get("base"), r.get("memberClass")
    if amount and member_class:
        allowed = ctx.dues.expected(member_class, Decimal(base) if base else None)
        if allowed is not None and not allowed[0] <= Decimal(amount) <= allowed[1]:
            low, high = allowed
            out.append(
                R["DUE-001"].issue(
                    f"{at}/amount",
                    member_class=member_class,
                    class_zh=class_zh(member_class),
                    base=base or "-",
                    expected=low if low == high else f"{low}–{high}",
                    amount=amount,
                )
            )
    period, paid = r.get("period"), r.get("paidDate")
    if period and paid and paid > (limit := months_later_end(period, 6)):
        out.append(R["DUE-002"].issue(f"{at}/paidDate", period=period, paid=paid, limit=limit))


def _transfer(r: dict[str, Any], at: str, ctx: RecordContext, out: list[Issue]) -> None:
    issued, days = r.get("issuedDate"), r.get("validDays", 90)
    if r.get("state") == "issued" and issued:
        try:
            expired = (date.fromisoformat(issued) + timedelta(days=int(days))).isoformat()
        except (ValueError, OverflowError):  # RFC 3339 allows year 0000, Python does not
            return
        if expired < ctx.as_of_iso:
            out.append(R["TRF-001"].issue(f"{at}/state", issued=issued, days=days, expired=expired))


_CHECKS: dict[str, Callable[[dict[str, Any], str, RecordContext, list[Issue]], None]] = {
    "organisations": _organisation,
    "members": _member,
    "activities": _activity,
    "duesPayments": _dues,
    "transfers": _transfer,
}


def check_record(
    collection: str, record: dict[str, Any], at: str, ctx: RecordContext
) -> list[Issue]:
    """Every single-record rule for a well-formed ``record`` found at pointer ``at``."""
    issues: list[Issue] = []
    if (check := _CHECKS.get(collection)) is not None:
        check(record, at, ctx, issues)
    if ctx.more is not None:
        ctx.more(collection, record, at, ctx, issues)
    _pii(collection, record, at, issues)
    _deprecated(collection, record, at, issues, ctx.version)
    return issues


#: (collection, field) references checked inside a package; toOrganisationId is usually another
#: hub's organisation and is not expected to resolve.
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "organisations": (("parentId", "organisations"),),
    "members": (("organisationId", "organisations"),),
    "activities": (("organisationId", "organisations"),),
    "duesPayments": (("memberId", "members"),),
    "transfers": (("memberId", "members"), ("fromOrganisationId", "organisations")),
    "applicants": (("organisationId", "organisations"), ("memberId", "members")),
}


_REFERENCE_FIELDS = {c: tuple(name for name, _ in refs) for c, refs in REFERENCES.items()}
#: What cross-record checks keep of one record: (id, reference values in the order of
#: REFERENCES, a per-type extra or None).
Digest = tuple[str | None, tuple[str | None, ...], Any]


def digest(collection: str, r: dict[str, Any]) -> Digest:
    """Reduce a well-formed record to what :class:`PackageState` needs of it."""
    refs = tuple(map(r.get, _REFERENCE_FIELDS[collection]))
    extra: Any = None
    if collection == "members":
        cid = r.get("citizenId")
        cid_key = int(cid[:17]) * 11 + (10 if cid[17] in "Xx" else int(cid[17])) if cid else None
        full = r.get("category") == "full" and r.get("status") == "normal"
        extra = (cid_key, r.get("organisationId") if full else None, r.get("joinedDate"))
    elif collection == "organisations":
        extra = (r.get("parentId"), r.get("type", ""), leaders_digest(r))
    elif collection == "activities" and (attendance := r.get("attendance")):
        attendees = tuple(e["memberId"] for e in attendance)
        meeting = None
        if r.get("type") == "general-meeting" and (org := r.get("organisationId")):
            present = tuple(e["memberId"] for e in attendance if e["status"] == "present")
            listed = tuple(e["memberId"] for e in attendance if e["status"] != "observer")
            meeting = (org, present, listed)
        extra = (attendees, meeting)
    elif collection == "applicants":
        extra = applicant_digest(r)
    return r.get("id"), refs, extra


_DIGITS = "0123456789"


@dataclass(slots=True)
class MemberColumns:
    """The digests of a run of members reduced to columns, so the bookkeeping of a batch
    is a few set operations in C (:meth:`PackageState.add_members`): every member has an id
    made of ``prefix`` and up to 18 digits (stored as :meth:`IdSet.key` would store it)."""

    prefix: str
    keys: list[int]
    #: runs of equal organisationId values: (value, number of members)
    refs: list[tuple[str | None, int]]
    #: citizen-ID keys, None where the member has none
    citizen_ids: list[int | None]
    #: the organisation of each full member in normal standing, None for the others
    full: list[str | None]
    #: join dates (kept by the 1.1 rules)
    joined: list[str | None]

    def digests(self) -> list[Digest]:
        """The digests the columns were made of."""
        refs = [ref for ref, count in self.refs for _ in range(count)]
        prefix = self.prefix
        return [
            (prefix + str(key >> 5).zfill(key & 31), (ref,), (cid, full, joined))
            for key, ref, cid, full, joined in zip(
                self.keys, refs, self.citizen_ids, self.full, self.joined, strict=True
            )
        ]


def member_columns(digests: list[Digest | None]) -> MemberColumns | None:
    """The digests of members as :class:`MemberColumns`, or None when one of them does not
    fit (no id, or an id of another shape)."""
    prefix: str | None = None
    keys: list[int] = []
    refs: list[tuple[str | None, int]] = []
    cids: list[int | None] = []
    full: list[str | None] = []
    joined: list[str | None] = []
    last: str | None = None
    run = 0
    for d in digests:
        if d is None:
            return None
        rid, (ref,), (cid, org, day) = d
        if rid is None:
            return None
        p = rid.rstrip(_DIGITS)
        if p != prefix:
            if prefix is not None:
                return None
            prefix = p
        rest = rid[len(p) :]
        if not rest or len(rest) > 18:
            return None
        keys.append(int(rest) * 32 + len(rest))
        if ref != last or not run:
            if run:
                refs.append((last, run))
            last, run = ref, 0
        run += 1
        cids.append(cid)
        full.append(org)
        joined.append(day)
    if prefix is None:
        return None
    if run:
        refs.append((last, run))
    return MemberColumns(prefix, keys, refs, cids, full, joined)


class IdSet:
    """A set of record ids kept compact for packages of millions: an id made of the set's
    prefix (learned from the first id seen) and up to 18 ASCII digits is stored as a small
    int (value × 32 + digit count, so ``m07`` and ``m7`` stay apart); any other id as itself.
    """

    __slots__ = ("items", "prefix")

    def __init__(self) -> None:
        self.prefix: str | None = None
        self.items: set[int | str] = set()

    def key(self, rid: str) -> int | str:
        """The stored form of ``rid``."""
        prefix = self.prefix
        if prefix is None:
            prefix = self.prefix = rid.rstrip("0123456789")
        if rid.startswith(prefix):
            rest = rid[len(prefix) :]
            if rest.isdigit() and len(rest) <= 18 and rest.isascii():
                return int(rest) * 32 + len(rest)
        return rid

    def add(self, rid: str) -> int | str:
        """Add ``rid``; return its stored form."""
        key = self.key(rid)
        self.items.add(key)
        return key

    def __contains__(self, rid: str) -> bool:
        return self.key(rid) in self.items


@dataclass(slots=True)
class PackageState:
    """Cross-record state of one package, fed record by record, finished once at the end."""

    ids: dict[str, IdSet] = field(default_factory=lambda: {c: IdSet() for c in REFERENCES})
    citizen_ids: set[int] = field(default_factory=set)
    #: stored forms (``IdSet.key``) of the member ids of full members in normal standing
    full_members: set[int | str] = field(default_factory=set)
    full_per_org: Counter[str] = field(default_factory=Counter)
    #: organisation id -> (index, parent id, type)
    org_parent: dict[str, tuple[int, str | None, str]] = field(default_factory=dict)
    #: (pointer, target collection, target id, field) of references not yet resolved
    pending: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: (pointer, organisation id, present member ids, listed member ids) of general meetings
    meetings: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)
    #: per collection, the last value of each reference (REFERENCES order) found to resolve
    found: dict[str, list[str | None]] = field(
        default_factory=lambda: {c: [None] * len(refs) for c, refs in REFERENCES.items()}
    )
    #: the cross-record state of the rules 1.1 adds (``_checks11.State11``), None for 1.0
    more: Any = None

    def add(self, collection: str, r: dict[str, Any], index: int) -> list[Issue]:
        """Remember what later checks need of a well-formed record; return the issues found
        already (duplicates)."""
        return self.add_digest(collection, index, digest(collection, r))

    def add_digest(self, collection: str, index: int, d: Digest) -> list[Issue]:
        """:meth:`add` for a record already reduced by :func:`digest` (in a worker process)."""
        issues: list[Issue] = []
        rid, refs, extra = d
        ids = self.ids
        key: int | str | None = None
        if rid is not None:
            seen = ids[collection]
            key = seen.key(rid)
            items = seen.items
            before = len(items)
            items.add(key)
            if len(items) == before:
                at = f"/{collection}/{index}/id"
                issues.append(
                    R["PKG-001"].issue(
                        at, id=rid, collection=collection, collection_zh=collection_zh(collection)
                    )
                )
        # Records of one organisation come together: a reference found already is not looked
        # up again (ids are never removed, so it stays found).
        found = self.found[collection]
        for n, ref in enumerate(refs):
            if ref is not None and ref != found[n]:
                name, target = REFERENCES[collection][n]
                targets = ids[target]
                if targets.key(ref) in targets.items:
                    found[n] = ref
                else:
                    self.pending.append((f"/{collection}/{index}/{name}", target, ref, name))
        if extra is None:
            return issues
        if collection == "members" and self.more is None:  # the bulk of a 1.0 package
            cid_key, full_org = extra[0], extra[1]
            if cid_key is not None:
                citizen_ids = self.citizen_ids
                before = len(citizen_ids)
                citizen_ids.add(cid_key)
                if len(citizen_ids) == before:
                    issues.append(R["PKG-002"].issue(f"/members/{index}/citizenId"))
            if full_org is not None:
                if key is not None:
                    self.full_members.add(key)
                self.full_per_org[full_org] += 1
        else:
            self._extra(collection, index, rid, key, extra, issues)
        return issues

    def add_members(self, start: int, columns: MemberColumns) -> bool:
        """:meth:`add_digest` for a batch of members starting at index ``start``, as set
        operations over its columns. Returns False, having changed nothing, when the batch
        holds a duplicate id or citizen ID (or ids of another shape): then add the members one
        by one (``columns.digests()``) to find them."""
        seen = self.ids["members"]
        if seen.prefix not in (None, columns.prefix):
            return False
        keys, cids = columns.keys, columns.citizen_ids
        if None in cids:
            cids = [c for c in cids if c is not None]
        items, citizen_ids = seen.items, self.citizen_ids
        if (
            len(set(keys)) != len(keys)
            or not items.isdisjoint(keys)
            or len(set(cids)) != len(cids)
            or not citizen_ids.isdisjoint(cids)
        ):
            return False
        seen.prefix = columns.prefix
        items.update(keys)
        citizen_ids.update(cids)  # type: ignore[arg-type]
        found = self.found["members"]
        targets = self.ids["organisations"]
        index = start
        for ref, count in columns.refs:
            if ref is not None and ref != found[0]:
                if targets.key(ref) in targets.items:
                    found[0] = ref
                else:
                    self.pending += (
                        (f"/members/{i}/organisationId", "organisations", ref, "organisationId")
                        for i in range(index, index + count)
                    )
            index += count
        full = columns.full
        if full.count(None) != len(full):
            self.full_members.update(
                k for k, org in zip(keys, full, strict=True) if org is not None
            )
            self.full_per_org.update(org for org in full if org is not None)
        if self.more is not None:
            self.more.add_members(keys, full, columns.joined)
        return True

    def _extra(
        self,
        collection: str,
        index: int,
        rid: str | None,
        key: int | str | None,
        extra: Any,
        issues: list[Issue],
    ) -> None:
        if self.more is not None:
            self.more.add(collection, index, rid, key, extra)
        if collection == "members":
            cid_key, full_org = extra[:2]
            if cid_key is not None:
                citizen_ids = self.citizen_ids
                if cid_key in citizen_ids:
                    issues.append(R["PKG-002"].issue(f"/members/{index}/citizenId"))
                else:
                    citizen_ids.add(cid_key)
            if full_org is not None:
                if key is not None:
                    self.full_members.add(key)
                self.full_per_org[full_org] += 1
        elif collection == "organisations" and rid is not None:
            parent, org_type = extra[:2]
            self.org_parent[rid] = (index, parent, org_type)
        elif collection == "activities":
            attendees, meeting = extra
            members = self.ids["members"]
            for i, member in enumerate(attendees):
                if members.key(member) not in members.items:
                    at = f"/activities/{index}/attendance/{i}/memberId"
                    self.pending.append((at, "members", member, "memberId"))
            if meeting is not None:
                org, present, listed = meeting
                self.meetings.append((f"/activities/{index}/attendance", org, present, listed))

    def finish(self) -> Iterator[Issue]:
        """The issues that need the whole package: references, cycles, branch size, quorum."""
        for at, target, ref, name in self.pending:
            if ref not in self.ids[target]:
                field_zh = field_title(at.split("/")[1], name)
                yield R["PKG-003"].issue(at, field=name, field_zh=field_zh, target=ref)
        yield from self._cycles()
        for org, (index, _, org_type) in self.org_parent.items():
            if org_type == "branch" and self.full_per_org[org] < 3:
                yield R["ORG-003"].issue(f"/organisations/{index}", count=self.full_per_org[org])
        member_key, full = self.ids["members"].key, self.full_members
        for at, org, present, listed in self.meetings:
            listed_full = sum(1 for m in listed if member_key(m) in full)
            due = max(self.full_per_org[org], listed_full)
            came = sum(1 for m in present if member_key(m) in full)
            if due and came * 2 <= due:
                yield R["ACT-002"].issue(at, due=due, present=came)
        if self.more is not None:
            yield from self.more.finish(self)

    def _cycles(self) -> Iterator[Issue]:
        done: set[str] = set()
        for start in self.org_parent:
            path: list[str] = []
            node: str | None = start
            while node is not None and node in self.org_parent and node not in done:
                if node in path:
                    cycle = path[path.index(node) :]
                    first = min(cycle, key=lambda n: self.org_parent[n][0])
                    loop = " → ".join([*cycle, node])
                    index = self.org_parent[first][0]
                    yield R["ORG-002"].issue(f"/organisations/{index}/parentId", cycle=loop)
                    break
                path.append(node)
                node = self.org_parent[node][1]
            done.update(path)


def record_issues(
    collection: str, index: int, record: Any, ctx: RecordContext
) -> tuple[list[Issue], Digest | None]:
    """Schema and single-record issues of one record at its final pointer, and its digest."""
    at = f"/{collection}/{index}"
    schema_issues = record_errors(collection, record, ctx.version)
    if not isinstance(record, dict):
        return [i.under(at) for i in schema_issues], None
    if schema_issues:
        record = well_formed(record, schema_issues)
        issues = [i.under(at) for i in schema_issues]
        issues += check_record(collection, record, at, ctx)
    else:
        issues = check_record(collection, record, at, ctx)
    return issues, digest(collection, record)
