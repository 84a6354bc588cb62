"""Import: roster rows to member records (a members sheet) or applicant records (an applicants
sheet: 入党申请人、积极分子、发展对象), every row checked with every rule of the standard and
every issue mapped back to its cell."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from tongxin.schemas import Issue, Severity, codelist, iter_issues

from ._headers import (
    APPLICANT_FIELDS,
    APPLICANT_ONLY,
    FIELDS,
    IGNORE,
    SHEET_STAGES,
    apply_mapping,
    find_header,
    normalise_header,
    sheet_kind,
)
from ._model import AttentionRow, CellIssue, ImportResult, SheetInfo
from ._normalise import (
    CODED,
    Finding,
    citizen_id_value,
    clean_text,
    code_value,
    date_value,
    phone_value,
)
from ._read import ReadError, column_letter, read_sheets
from ._rules import roster_rule

__all__ = [
    "Candidate",
    "Options",
    "Roster",
    "branch_type",
    "implied_stage",
    "organisation_id",
]

DATES = (
    "birthDate", "joinedDate", "fullMembershipDate", "lostContactSince", "applicationDate",
    "talkDate", "activistDate", "candidateDate", "branchVoteDate", "approvalDate",
)  # fmt: skip
TEXTS = ("name", "nativePlace", "workUnit")
REQUIRED = {
    "members": ("name", "gender", "joinedDate"),
    "applicants": ("name", "gender", "applicationDate"),
}
#: The member-id lists of an applicant, written as names (or record ids) in a roster.
PEOPLE = ("sponsors", "introducers")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,31}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_RECORD_PATH = re.compile(r"^/(members|applicants)/(\d+)(?:/([^/]+))?")
_SPLIT = re.compile(r"[、,，;；/\s]+")


@dataclass(slots=True)
class Options:
    """How to import: the hub id of new ids, the root organisation, a mapping, the sheet."""

    hub_id: str
    organisation: str | None = None
    mapping: dict[str, str] | None = None
    sheet: str | None = None
    as_of: date = field(default_factory=date.today)
    stamp: str = "2026-01-01T08:00:00+08:00"


@dataclass(slots=True)
class Candidate:
    """One data row on its way to becoming a member record."""

    info: SheetInfo
    row: int
    cells: list[Any]
    record: dict[str, Any]
    branch: str | None
    cols: dict[str, int]
    issues: list[CellIssue] = field(default_factory=list)
    bad: set[str] = field(default_factory=set)
    #: the names (or ids) typed in the sponsors and introducers cells of an applicant
    people: dict[str, list[str]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``members`` or ``applicants``: the collection the row's record belongs to."""
        return self.info.kind

    @property
    def rejected(self) -> bool:
        return any(i.severity is Severity.ERROR for i in self.issues)

    def at(self, name: str | None, issue: Issue) -> None:
        """Record ``issue`` at the column of field ``name`` (or at the row)."""
        col = self.cols.get(name) if name else None
        header = self.info.header.texts.get(col) if col is not None else None
        letter = column_letter(col) if col is not None else None
        self.issues.append(CellIssue.of(issue, self.info.file, self.info.sheet, self.row, letter,
                                        header))  # fmt: skip


def _belongs(name: str, applicants: bool) -> bool:
    """Whether the field ``name`` is one of the record of a members or an applicants sheet."""
    if name == IGNORE:
        return True
    return name in APPLICANT_FIELDS if applicants else name not in APPLICANT_ONLY


def implied_stage(sheet: str, record: dict[str, Any]) -> str:
    """The stage of an applicant row without one: from the sheet's name (发展对象 → candidate),
    else from the latest date given (确定为发展对象日期 → candidate …)."""
    for word, stage in SHEET_STAGES:
        if word in sheet:
            return stage
    if "candidateDate" in record:
        return "candidate"
    return "activist" if "activistDate" in record else "applicant"


def _person(
    token: str, ids: set[str], by_name: dict[str, list[dict[str, Any]]], org: Any
) -> str | None:
    """The member id ``token`` (a name or an id) names: an id known, a unique name, or a name
    unique within the applicant's organisation."""
    if token in ids:
        return token
    found = by_name.get(token, [])
    if len(found) > 1:
        found = [m for m in found if m.get("organisationId") == org]
    return str(found[0]["id"]) if len(found) == 1 else None


def branch_type(name: str) -> str:
    """The organisation type a branch name implies (联合党支部 → joint-branch …)."""
    for suffix, kind in (
        ("联合党支部", "joint-branch"),
        ("临时党支部", "temporary-branch"),
        ("党总支", "general-branch"),
        ("总支部", "general-branch"),
        ("党小组", "party-group"),
        ("党委", "primary-committee"),
    ):
        if name.endswith(suffix):
            return kind
    return "branch"


def organisation_id(hub_id: str, root: str, name: str) -> str:
    """The stable id of the branch ``name`` created under ``root`` (names are not personal)."""
    digest = hashlib.sha256(f"{root}\n{name}".encode()).hexdigest()[:12]
    return f"{hub_id}:o-{digest}"


class Roster:
    """An import in progress: files read into candidates, then ids, then the standard's check."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.result = ImportResult()
        self.candidates: list[Candidate] = []
        #: ids of the organisations this import creates (their issues are reported)
        self.created: set[str] = set()

    # -- reading ------------------------------------------------------------------------
    def read(self, paths: Iterable[Path]) -> None:
        """Read every file; raises :class:`ReadError` for a file that cannot be read."""
        for path in paths:
            self.result.files.append(str(path))
            found = False
            for sheet in read_sheets(path, self.options.sheet):
                found = self._read_sheet(str(path), sheet.name, sheet.rows) or found
            if not found:
                raise ReadError(path, "no roster header row found in any sheet",
                                "所有工作表中都没有找到花名册表头")  # fmt: skip

    def _read_sheet(self, file: str, name: str, rows: Iterator[list[Any]]) -> bool:
        head = [r for _, r in zip(range(30), rows, strict=False)]
        header = find_header(head)
        if header is not None and self.options.mapping:
            apply_mapping(header, self.options.mapping)
        if header is None:
            if any(any(c != "" for c in r) for r in head):
                issue = roster_rule("ROS-001").issue("")
                self.result.issues.append(CellIssue.of(issue, file, name, None, None, None))
            return False
        info = SheetInfo(file, name, header, sheet_kind(name, header))
        self.result.sheets.append(info)
        cols = self._columns(info)
        repeats = {_texts(r) for r in head[: header.last_row + 1]} - {()}
        for index, row in enumerate(_chain(head[header.data_start :], rows), header.data_start):
            texts = _texts(row)
            if not texts or texts in repeats:
                self.result.skipped += 1
                continue
            self.candidates.append(self._candidate(info, index + 1, list(row), cols))
        return True

    def _columns(self, info: SheetInfo) -> dict[str, int]:
        header, cols = info.header, dict[str, int]()
        applicants = info.kind == "applicants"
        if applicants and "stage" not in header.fields.values():
            for col, name in header.fields.items():  # 人员类别: 入党积极分子, 发展对象 …
                if name == "category":
                    header.fields[col] = "stage"
                    break
        for col in sorted(header.texts):
            name, text = header.fields.get(col), header.texts[col]
            if name is not None and not _belongs(name, applicants):
                record = ("入党申请人", "an applicant") if applicants else ("党员", "a member")
                issue = roster_rule("ROS-005").issue(
                    "", header=text, record_zh=record[0], record_en=record[1]
                )
                self._sheet_issue(info, col, issue)
            elif name is None:
                self._sheet_issue(info, col, roster_rule("ROS-002").issue("", header=text))
            elif name == IGNORE:
                continue
            elif name in cols:
                first = header.texts[cols[name]]
                self._sheet_issue(
                    info, col, roster_rule("ROS-004").issue("", header=text, first=first)
                )
            else:
                cols[name] = col
        missing = [f for f in REQUIRED[info.kind] if f not in cols]
        if "birthDate" not in cols and "citizenId" not in cols:
            missing.append("birthDate")
        if "organisation" not in cols and not self.options.organisation:
            missing.append("organisation")
        for name in missing:
            self._sheet_issue(info, None, roster_rule("ROS-003").issue("", title=FIELDS[name][0]))
        return cols

    def _sheet_issue(self, info: SheetInfo, col: int | None, issue: Issue) -> None:
        letter = column_letter(col) if col is not None else None
        text = info.header.texts.get(col) if col is not None else None
        row = info.header.last_row + 1 if col is not None else None
        self.result.issues.append(CellIssue.of(issue, info.file, info.sheet, row, letter, text))

    # -- one row ------------------------------------------------------------------------
    def _candidate(
        self, info: SheetInfo, row: int, cells: list[Any], cols: dict[str, int]
    ) -> Candidate:
        c = Candidate(info, row, cells, {}, None, cols)
        rec, width = c.record, len(cells)
        for name, col, kind in _plan(cols):
            if col >= width:
                continue
            value = cells[col]
            if value is None or (value.__class__ is str and not value.strip()):
                continue
            if kind == "text":
                rec[name] = clean_text(value)
            elif kind == "branch":
                c.branch = clean_text(value) or None
            elif kind == "citizenId":
                rec[name], found = citizen_id_value(value)
                for f in found:
                    self._finding(c, name, f)
            elif kind == "code":
                code = code_value(name, value)
                if isinstance(code, Finding):
                    self._finding(c, name, code)
                else:
                    rec[name] = code
            elif kind == "phone":
                rec[name] = phone_value(value)
            elif kind == "people":
                # split before cleaning: a space between two names is a separator here
                tokens = (clean_text(t) for t in _SPLIT.split(str(value)))
                c.people[name] = [t for t in tokens if t]
            elif kind == "hours":
                self._hours(c, name, value)
            else:
                self._date(c, name, value)
        self._defaults(c)
        return c

    def _finding(self, c: Candidate, name: str, finding: Finding) -> None:
        rule = roster_rule(finding.rule)
        c.at(name, rule.issue(f"/{name}", **finding.params))
        if rule.severity is Severity.ERROR:
            c.bad.add(name)

    def _date(self, c: Candidate, name: str, value: Any) -> None:
        parsed = date_value(value)
        if isinstance(parsed, Finding):
            self._finding(c, name, parsed)
            return
        iso, whole = parsed
        if not whole:
            cid = str(c.record.get("citizenId", ""))
            from_id = f"{cid[6:10]}-{cid[10:12]}-{cid[12:14]}" if len(cid) == 18 else ""
            if name == "birthDate" and from_id.startswith(iso):
                full, zh, en = from_id, "日取自公民身份号码", "day taken from the citizen ID"
            else:
                full, zh, en = f"{iso}-01", "按当月1日", "first of the month"
            params = {"value": clean_text(value), "date": full, "how_zh": zh, "how_en": en}
            self._finding(c, name, Finding("ROS-011", params))
            iso = full
        c.record[name] = iso

    def _hours(self, c: Candidate, name: str, value: Any) -> None:
        text = clean_text(value).removesuffix("学时").removesuffix("课时").strip()
        try:
            number = float(text)
        except ValueError:
            number = -1.0
        if number.is_integer() and 0 <= number <= 1000:
            c.record[name] = int(number)
        else:
            self._finding(c, name, Finding("ROS-017", {"value": clean_text(value)}))

    def _defaults(self, c: Candidate) -> None:
        rec = c.record
        cid = rec.get("citizenId", "")
        if "birthDate" not in rec and "birthDate" not in c.bad and len(cid) == 18:
            rec["birthDate"] = f"{cid[6:10]}-{cid[10:12]}-{cid[12:14]}"
        if c.kind == "applicants":
            if "stage" not in rec and "stage" not in c.bad:
                rec["stage"] = implied_stage(c.info.sheet, rec)
        else:
            rec.setdefault("status", "normal") if "status" not in c.bad else None
            if "category" not in c.cols:
                rec["category"] = "full" if "fullMembershipDate" in rec else "probationary"
        if c.branch is None and not self.options.organisation:
            c.at("organisation", roster_rule("ROS-016").issue("/organisationId"))
            c.bad.add("organisationId")

    # -- ids and the standard's check ---------------------------------------------------
    def assign_ids(
        self, known: dict[str, str], known_applicants: dict[str, str] | None = None
    ) -> None:
        """Give each candidate its id: the member (or applicant) already holding its citizen
        ID (``known``, ``known_applicants``), else its id column, else a new one. A second row
        of the same person in the same kind of sheet is ROS-020."""
        seen: dict[tuple[str, str], int] = {}
        prefix = self.options.hub_id + ":"
        for c in self.candidates:
            holders = known if c.kind == "members" else (known_applicants or {})
            cid = str(c.record.get("citizenId", "")).upper()
            if cid:
                if (c.kind, cid) in seen:
                    first = seen[(c.kind, cid)]
                    c.at("citizenId", roster_rule("ROS-020").issue("/citizenId", first=first))
                    continue
                seen[(c.kind, cid)] = c.row
            given = c.record.get("id")
            if cid in holders:
                c.record["id"] = holders[cid]
            elif not (isinstance(given, str) and ID_RE.match(given)):
                letter = "m-" if c.kind == "members" else "a-"
                c.record["id"] = prefix + letter + secrets.token_hex(8)

    def link_people(self, members: Iterable[dict[str, Any]]) -> None:
        """Resolve each applicant's sponsors and introducers (names or ids) to member ids, and
        give an admitted applicant without a member record the member holding its citizen ID.
        ``members`` are those already known (package or hub); the members of this import are
        added. A name matching no member, or several outside the applicant's organisation, is
        ROS-015."""
        rows = [c for c in self.candidates if c.kind == "applicants"]
        if not rows:
            return
        by_id = {m["id"]: m for m in members if isinstance(m.get("id"), str)}
        known = {(m.get("name"), m.get("birthDate")) for m in by_id.values()}
        for c in self.candidates:  # a member of this import replaces the one it updates; a
            r = c.record  # row of a member known under another id is that member
            live = c.kind == "members" and not c.rejected and isinstance(r.get("id"), str)
            if live and (r["id"] in by_id or (r.get("name"), r.get("birthDate")) not in known):
                by_id[r["id"]] = r
        everyone, ids = list(by_id.values()), set(by_id)
        by_name: dict[str, list[dict[str, Any]]] = {}
        by_cid: dict[str, str] = {}
        for m in everyone:
            by_name.setdefault(str(m.get("name", "")), []).append(m)
            if m.get("citizenId") and m.get("id"):
                by_cid[str(m["citizenId"]).upper()] = m["id"]
        for c in rows:
            for name, typed in c.people.items():
                found = [_person(t, ids, by_name, c.record.get("organisationId")) for t in typed]
                for token, rid in zip(typed, found, strict=True):
                    if rid is None:
                        self._finding(c, name, Finding("ROS-015", {"value": token}))
                if all(found):
                    c.record[name] = [r for r in found if r]
            cid = str(c.record.get("citizenId", "")).upper()
            admitted = c.record.get("stage") == "admitted"
            if admitted and "memberId" not in c.record and cid in by_cid:
                c.record["memberId"] = by_cid[cid]

    def check(
        self,
        organisations: list[dict[str, Any]],
        others: list[dict[str, Any]],
        other_applicants: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Check every candidate with every rule of the standard (of version 1.1, which 1.0
        records pass alike), in a package with the ``organisations``, the ``others`` members
        and the ``other_applicants`` already there. Returns the accepted records, members
        first (:meth:`accepted_of` splits them)."""
        live = {k: [c for c in self.candidates if not c.rejected and c.kind == k]
                for k in ("members", "applicants")}  # fmt: skip
        wire = {k: [self._wire(c) for c in rows] for k, rows in live.items()}
        package = {
            "schemaVersion": "1.1",
            "publisher": self.options.hub_id,
            "publishedAt": self.options.stamp,
            "organisations": organisations,
            "members": wire["members"] + others,
            "applicants": wire["applicants"] + (other_applicants or []),
        }
        org_index = {o["id"]: i for i, o in enumerate(organisations)}
        for issue in iter_issues(package, as_of=self.options.as_of):
            found = _RECORD_PATH.match(issue.path)
            if found and int(found[2]) < len(live[found[1]]):
                self._map(live[found[1]][int(found[2])], found[3], issue)
            elif issue.path.startswith("/organisations/"):
                self._org_issue(organisations, org_index, issue)
        accepted = [
            r
            for k in ("members", "applicants")
            for r, c in zip(wire[k], live[k], strict=True)
            if not c.rejected
        ]
        for m in accepted:  # checked as typed (MBR-009 names a lower-case x), stored upper
            if isinstance(m.get("citizenId"), str):
                m["citizenId"] = m["citizenId"].upper()
        return accepted

    def accepted_of(self, kind: str) -> set[str]:
        """The ids of the accepted records of ``kind`` (``members`` or ``applicants``)."""
        return {c.record["id"] for c in self.candidates
                if c.kind == kind and not c.rejected and "id" in c.record}  # fmt: skip

    def _wire(self, c: Candidate) -> dict[str, Any]:
        rec = {k: v for k, v in c.record.items() if k not in c.bad} if c.bad else c.record
        rec.setdefault("version", 1)
        rec.setdefault("updatedAt", self.options.stamp)
        return rec

    def _map(self, c: Candidate, name: str | None, issue: Issue) -> None:
        if name == "organisationId":
            if issue.rule == "PKG-003" and c.record.get(name) == self.options.organisation:
                return  # the root organisation is the hub's, not the roster's
            name = "organisation"
        if name in c.bad or (name == "organisation" and "organisationId" in c.bad):
            return  # already reported at the cell by a roster rule
        if issue.rule == "SCH-001" and issue.message_en.startswith("required field") and name:
            title = FIELDS.get(name, (name, ()))[0]
            issue = Issue(issue.rule, issue.severity, issue.path, f"缺少必填项“{title}”",
                          issue.message_en)  # fmt: skip
        c.at(name, issue)

    def _org_issue(self, orgs: list[dict[str, Any]], index: dict[str, int], issue: Issue) -> None:
        n = int(issue.path.split("/")[2])
        org = orgs[n] if n < len(orgs) else {}
        if issue.rule == "PKG-003" and org.get("parentId") == self.options.organisation:
            return  # the root is the hub's, not part of a roster package
        if org.get("id") not in self.created:
            return
        info = self.result.sheets[0] if self.result.sheets else None
        if info is None:
            return
        col = next((c for c, f in info.header.fields.items() if f == "organisation"), None)
        text = org.get("name")
        zh, en = f"{text}：{issue.message_zh}", f"{text}: {issue.message_en}"
        issue = Issue(issue.rule, issue.severity, issue.path, zh, en)
        letter = column_letter(col) if col is not None else None
        header = info.header.texts.get(col) if col is not None else None
        self.result.issues.append(CellIssue.of(issue, info.file, info.sheet, None, letter,
                                               header))  # fmt: skip

    # -- the result ---------------------------------------------------------------------
    def finish(self) -> ImportResult:
        """Count rows, collect issues and the rows needing attention."""
        r = self.result
        for c in self.candidates:
            r.rows += 1
            if c.rejected:
                r.rejected += 1
            else:
                r.accepted += 1
            if c.issues:
                r.issues.extend(c.issues)
                r.attention.append(AttentionRow(c.info, c.row, c.cells, c.issues))
        r.issues.sort(key=_order)
        return r


def _order(i: CellIssue) -> tuple[str, str, int, str]:
    return (i.file, i.sheet, i.row or 0, i.column or "")


_KINDS = (
    *((f, "text") for f in (*TEXTS, "id", "memberId")),
    ("organisation", "branch"),
    ("citizenId", "citizenId"),  # before the dates: a month-only birth date takes its day
    *((f, "code") for f in CODED),
    ("phone", "phone"),
    *((f, "date") for f in DATES),
    ("trainingHours", "hours"),
    *((f, "people") for f in PEOPLE),
)


@lru_cache(maxsize=64)
def _plan_of(cols: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int, str], ...]:
    where = dict(cols)
    return tuple((f, where[f], kind) for f, kind in _KINDS if f in where)


def _plan(cols: dict[str, int]) -> tuple[tuple[str, int, str], ...]:
    """(field, column, kind) of a sheet's columns, in the order the fields are read."""
    return _plan_of(tuple(cols.items()))


def _texts(row: list[Any]) -> tuple[str, ...]:
    """The row's non-blank cells as trimmed text: blank rows and repeated headers compare by it."""
    return tuple(t for t in (str(c).strip() for c in row if c != "" and c is not None) if t)


def _present(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or value.strip() != "")


def _chain(first: list[list[Any]], rest: Iterator[list[Any]]) -> Iterator[list[Any]]:
    yield from first
    yield from rest


def title_of(name: str) -> str:
    """The roster header of a field (``gender`` → 性别)."""
    return FIELDS[name][0] if name in FIELDS else name


def codelist_title(name: str, code: str) -> str:
    """The Chinese title of ``code`` of the coded field ``name``."""
    return codelist(CODED[name]).title(code)[0]


__all__ += ["codelist_title", "normalise_header", "title_of"]
