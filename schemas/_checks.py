"""The rules beyond the schema, on plain wire dicts.

Record checks look at one record; :class:`PackageState` remembers what later checks need
(ids, citizen IDs, full members per organisation, the organisation tree, general meetings) in
compact sets, so a package of a million members validates in bounded memory.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ._checkdigits import citizen_id_birth_date, citizen_id_is_male, valid_citizen_id, valid_credit_code
from ._issues import Issue
from ._rules import RULES
from ._schemacheck import deprecations

__all__ = ["DuesPolicy", "PackageState", "RecordContext", "check_record"]

R = RULES
_PII = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|1[3-9][0-9]{9})(?![0-9])")
_FREE_TEXT = {
    "organisations": ("name", "hostUnit"),
    "members": ("workUnit", "nativePlace"),
    "activities": ("topic", "location", "presenter", "recorder", "decisions"),
    "duesPayments": (),
    "transfers": (),
}
CENT = Decimal("0.01")


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return parsed if parsed is None or parsed.tzinfo is not None else None


def add_years(day: date, years: int) -> date:
    """``day`` plus whole years; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months_end(year: int, month: int, months: int) -> date:
    """The last day of the month ``months`` after year-month."""
    total = year * 12 + month - 1 + months
    y, m = divmod(total, 12)
    return date(y, m + 1, calendar.monthrange(y, m + 1)[1])


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


def _pii(collection: str, record: dict[str, Any], at: str) -> Iterator[Issue]:
    for name in _FREE_TEXT[collection]:
        text = record.get(name)
        if isinstance(text, str) and (found := _PII.search(text)):
            is_id = len(found.group()) == 18
            yield R["PII-001"].issue(
                f"{at}/{name}",
                field=name,
                kind_zh="身份号码" if is_id else "手机号码",
                kind_en="an ID number" if is_id else "a phone number",
            )


def _deprecated(collection: str, record: dict[str, Any], at: str) -> Iterator[Issue]:
    fields, coded = deprecations(collection)
    for name in fields:
        if record.get(name) is not None:
            yield R["SCH-002"].issue(
                f"{at}/{name}", what=name, version="1.0",
                hint_zh="见数据标准的替代字段", hint_en="see its replacement in the standard",
            )
    for name, codes in coded:
        value = record.get(name)
        if value in codes:
            yield R["SCH-002"].issue(
                f"{at}/{name}", what=f"{name} = {value}", version="1.0",
                hint_zh="见代码表说明", hint_en="see the codelist's description",
            )


def _member(r: dict[str, Any], at: str, ctx: RecordContext) -> Iterator[Issue]:
    birth = _date(r.get("birthDate"))
    cid = r.get("citizenId")
    if isinstance(cid, str) and len(cid) == 18 and cid[:17].isdigit() and cid[:17].isascii():
        if not valid_citizen_id(cid):
            yield R["MBR-001"].issue(
                f"{at}/citizenId", value=cid, why_zh="校验位错误", why_en="wrong check character"
            )
        else:
            id_birth = citizen_id_birth_date(cid)
            if id_birth is None:
                yield R["MBR-001"].issue(
                    f"{at}/citizenId", value=cid, why_zh="出生日期不存在", why_en="no such birth date"
                )
            elif birth is not None and id_birth != birth:
                yield R["MBR-002"].issue(f"{at}/birthDate", birth=birth, id_birth=id_birth)
            gender = r.get("gender")
            if gender in ("1", "2") and (gender == "1") != citizen_id_is_male(cid):
                yield R["MBR-003"].issue(f"{at}/gender", gender=gender)
            if cid[17] == "x":
                yield R["MBR-009"].issue(f"{at}/citizenId")
    joined = _date(r.get("joinedDate"))
    if birth is not None and joined is not None and joined < add_years(birth, 18):
        yield R["MBR-004"].issue(f"{at}/joinedDate", joined=joined, birth=birth)
    full = _date(r.get("fullMembershipDate"))
    category = r.get("category")
    if category == "full":
        if r.get("fullMembershipDate") is None:
            yield R["MBR-006"].issue(f"{at}/fullMembershipDate")
        elif joined is not None and full is not None:
            if full < add_years(joined, 1):
                yield R["MBR-005"].issue(f"{at}/fullMembershipDate", full=full, due=add_years(joined, 1))
            elif full > add_years(joined, 2):
                yield R["MBR-008"].issue(
                    f"{at}/fullMembershipDate", joined=joined,
                    how_zh=f"于 {full} 转正", how_en=f"confirmed on {full}",
                )
    elif category == "probationary":
        if r.get("fullMembershipDate") is not None:
            yield R["MBR-007"].issue(f"{at}/fullMembershipDate")
        elif joined is not None and ctx.as_of > add_years(joined, 2):
            yield R["MBR-008"].issue(
                f"{at}/category", joined=joined,
                how_zh=f"截至 {ctx.as_of} 仍为预备党员", how_en=f"still probationary on {ctx.as_of}",
            )


def _organisation(r: dict[str, Any], at: str, ctx: RecordContext) -> Iterator[Issue]:
    code = r.get("creditCode")
    if isinstance(code, str) and len(code) == 18 and not valid_credit_code(code):
        yield R["ORG-001"].issue(
            f"{at}/creditCode", value=code, why_zh="校验码错误", why_en="wrong check character"
        )
    elected, years = _date(r.get("electedDate")), r.get("termYears")
    if elected is not None and isinstance(years, int) and years > 0:
        ended = add_years(elected, years)
        if ended < ctx.as_of:
            yield R["ORG-004"].issue(f"{at}/electedDate", elected=elected, years=years, ended=ended)


def _activity(r: dict[str, Any], at: str, ctx: RecordContext) -> Iterator[Issue]:
    start, end = _datetime(r.get("startTime")), _datetime(r.get("endTime"))
    if start is not None and end is not None and end < start:
        yield R["ACT-001"].issue(f"{at}/endTime", start=r["startTime"], end=r["endTime"])
    attendance = r.get("attendance")
    if isinstance(attendance, list):
        for i, entry in enumerate(attendance):
            reason = entry.get("reason") if isinstance(entry, dict) else None
            if isinstance(reason, str) and _PII.search(reason):
                yield R["PII-001"].issue(
                    f"{at}/attendance/{i}/reason", field="reason",
                    kind_zh="身份号码或手机号码", kind_en="an ID or phone number",
                )


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        return None


def _dues(r: dict[str, Any], at: str, ctx: RecordContext) -> Iterator[Issue]:
    amount, base = _decimal(r.get("amount")), _decimal(r.get("base"))
    member_class = r.get("memberClass")
    if amount is not None and isinstance(member_class, str):
        allowed = ctx.dues.expected(member_class, base)
        if allowed is not None and not allowed[0] <= amount <= allowed[1]:
            low, high = allowed
            yield R["DUE-001"].issue(
                f"{at}/amount", member_class=member_class, base=r.get("base", "-"),
                expected=low if low == high else f"{low}–{high}", amount=r["amount"],
            )
    period, paid = r.get("period"), _date(r.get("paidDate"))
    if isinstance(period, str) and paid is not None and len(period) == 7 and period[:4].isdigit():
        try:
            limit = add_months_end(int(period[:4]), int(period[5:7]), 6)
        except ValueError:
            return
        if paid > limit:
            yield R["DUE-002"].issue(f"{at}/paidDate", period=period, paid=paid, limit=limit)


def _transfer(r: dict[str, Any], at: str, ctx: RecordContext) -> Iterator[Issue]:
    issued, days = _date(r.get("issuedDate")), r.get("validDays", 90)
    if r.get("state") == "issued" and issued is not None and isinstance(days, int):
        expired = date.fromordinal(issued.toordinal() + days)
        if expired < ctx.as_of:
            yield R["TRF-001"].issue(f"{at}/state", issued=issued, days=days, expired=expired)


_CHECKS: dict[str, Callable[[dict[str, Any], str, RecordContext], Iterator[Issue]]] = {
    "organisations": _organisation,
    "members": _member,
    "activities": _activity,
    "duesPayments": _dues,
    "transfers": _transfer,
}


def check_record(collection: str, record: dict[str, Any], at: str, ctx: RecordContext) -> list[Issue]:
    """Every single-record rule for ``record`` found at pointer ``at``."""
    issues = list(_CHECKS[collection](record, at, ctx))
    issues.extend(_pii(collection, record, at))
    issues.extend(_deprecated(collection, record, at))
    return issues


_GENERAL_MEETING = "general-meeting"
_ALWAYS_SMALL = frozenset({"joint-branch", "temporary-branch"})
#: (collection, field) references checked inside a package; toOrganisationId is usually another
#: hub's organisation and is not expected to resolve.
REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "organisations": (("parentId", "organisations"),),
    "members": (("organisationId", "organisations"),),
    "activities": (("organisationId", "organisations"),),
    "duesPayments": (("memberId", "members"),),
    "transfers": (("memberId", "members"), ("fromOrganisationId", "organisations")),
}


@dataclass(slots=True)
class PackageState:
    """Cross-record state of one package, fed record by record, finished once at the end."""

    ids: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in REFERENCES})
    citizen_ids: set[int] = field(default_factory=set)
    full_members: set[str] = field(default_factory=set)
    full_per_org: Counter[str] = field(default_factory=Counter)
    org_parent: dict[str, tuple[int, str | None, str]] = field(default_factory=dict)
    #: (pointer, target collection, target id, field) of references not yet resolved
    pending: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: (pointer, organisation id, present member ids, listed member ids) of general meetings
    meetings: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)

    def add(self, collection: str, record: dict[str, Any], at: str) -> list[Issue]:
        """Record what later checks need; return the issues found already (duplicates)."""
        issues: list[Issue] = []
        rid = record.get("id")
        if isinstance(rid, str):
            seen = self.ids[collection]
            if rid in seen:
                issues.append(R["PKG-001"].issue(f"{at}/id", id=rid, collection=collection))
            seen.add(rid)
        for name, target in REFERENCES[collection]:
            ref = record.get(name)
            if isinstance(ref, str) and ref not in self.ids[target]:
                self.pending.append((f"{at}/{name}", target, ref, name))
        if collection == "members":
            self._member(record, at, rid, issues)
        elif collection == "organisations" and isinstance(rid, str):
            index = int(at.rsplit("/", 1)[1])
            parent = record.get("parentId")
            self.org_parent[rid] = (index, parent if isinstance(parent, str) else None, str(record.get("type")))
        elif collection == "activities" and record.get("type") == _GENERAL_MEETING:
            self._meeting(record, at)
        return issues

    def _member(self, record: dict[str, Any], at: str, rid: Any, issues: list[Issue]) -> None:
        cid = record.get("citizenId")
        if isinstance(cid, str) and len(cid) == 18 and cid[:17].isdigit():
            key = int(cid[:17]) * 11 + (10 if cid[17] in "Xx" else int(cid[17]) if cid[17].isdigit() else 0)
            if key in self.citizen_ids:
                issues.append(R["PKG-002"].issue(f"{at}/citizenId"))
            self.citizen_ids.add(key)
        if record.get("category") == "full" and record.get("status") in ("normal", None):
            if isinstance(rid, str):
                self.full_members.add(rid)
            org = record.get("organisationId")
            if isinstance(org, str):
                self.full_per_org[org] += 1

    def _meeting(self, record: dict[str, Any], at: str) -> None:
        org = record.get("organisationId")
        attendance = record.get("attendance")
        if not isinstance(org, str) or not isinstance(attendance, list):
            return
        entries = [e for e in attendance if isinstance(e, dict) and isinstance(e.get("memberId"), str)]
        present = tuple(e["memberId"] for e in entries if e.get("status") == "present")
        listed = tuple(e["memberId"] for e in entries if e.get("status") != "observer")
        self.meetings.append((f"{at}/attendance", org, present, listed))

    def finish(self) -> Iterator[Issue]:
        """The issues that need the whole package: references, cycles, branch size, quorum."""
        for at, target, ref, name in self.pending:
            if ref not in self.ids[target]:
                yield R["PKG-003"].issue(at, field=name, target=ref)
        yield from self._cycles()
        for org, (index, _, org_type) in self.org_parent.items():
            if org_type == "branch" and self.full_per_org[org] < 3:
                yield R["ORG-003"].issue(f"/organisations/{index}", count=self.full_per_org[org])
        for at, org, present, listed in self.meetings:
            listed_full = sum(1 for m in listed if m in self.full_members)
            due = max(self.full_per_org[org], listed_full)
            came = sum(1 for m in present if m in self.full_members)
            if due and came * 2 <= due:
                yield R["ACT-002"].issue(at, due=due, present=came)

    def _cycles(self) -> Iterator[Issue]:
        done: set[str] = set()
        for start in self.org_parent:
            path: list[str] = []
            node: str | None = start
            while node is not None and node in self.org_parent and node not in done:
                if node in path:
                    cycle = path[path.index(node):]
                    first = min(cycle, key=lambda n: self.org_parent[n][0])
                    index = self.org_parent[first][0]
                    loop = " → ".join([*cycle, node])
                    yield R["ORG-002"].issue(f"/organisations/{index}/parentId", cycle=loop)
                    break
                path.append(node)
                node = self.org_parent[node][1]
            done.update(path)

