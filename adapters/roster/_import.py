"""Import: roster rows to member records, every row checked with every rule of the standard and
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

from ._headers import FIELDS, IGNORE, apply_mapping, find_header, normalise_header
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

__all__ = ["Candidate", "Options", "Roster", "branch_type", "organisation_id"]

DATES = ("birthDate", "joinedDate", "fullMembershipDate", "lostContactSince")
TEXTS = ("name", "nativePlace", "workUnit")
REQUIRED = ("name", "gender", "joinedDate")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,31}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MEMBER_PATH = re.compile(r"^/members/(\d+)(?:/([^/]+))?")


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
        info = SheetInfo(file, name, header)
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
        for col in sorted(header.texts):
            name, text = header.fields.get(col), header.texts[col]
            if name is None:
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
        missing = [f for f in REQUIRED if f not in cols]
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

    def _defaults(self, c: Candidate) -> None:
        rec = c.record
        cid = rec.get("citizenId", "")
        if "birthDate" not in rec and "birthDate" not in c.bad and len(cid) == 18:
            rec["birthDate"] = f"{cid[6:10]}-{cid[10:12]}-{cid[12:14]}"
        rec.setdefault("status", "normal") if "status" not in c.bad else None
        if "category" not in c.cols:
            rec["category"] = "full" if "fullMembershipDate" in rec else "probationary"
        if c.branch is None and not self.options.organisation:
            c.at("organisation", roster_rule("ROS-016").issue("/organisationId"))
            c.bad.add("organisationId")

    # -- ids and the standard's check ---------------------------------------------------
    def assign_ids(self, known: dict[str, str]) -> None:
        """Give each candidate its id: the member already holding its citizen ID (``known``),
        else its id column, else a new one. A second row of the same person is ROS-020."""
        seen: dict[str, int] = {}
        prefix = self.options.hub_id + ":"
        for c in self.candidates:
            cid = str(c.record.get("citizenId", "")).upper()
            if cid:
                if cid in seen:
                    c.at("citizenId", roster_rule("ROS-020").issue("/citizenId", first=seen[cid]))
                    continue
                seen[cid] = c.row
            given = c.record.get("id")
            if cid in known:
                c.record["id"] = known[cid]
            elif not (isinstance(given, str) and ID_RE.match(given)):
                c.record["id"] = prefix + "m-" + secrets.token_hex(8)

    def check(
        self, organisations: list[dict[str, Any]], others: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Check every candidate with every rule of the standard, in a package with the
        ``organisations`` and the ``others`` members already there. Returns the accepted
        member records."""
        live = [c for c in self.candidates if not c.rejected]
        members = [self._wire(c) for c in live]
        package = {
            "schemaVersion": "1.0",
            "publisher": self.options.hub_id,
            "publishedAt": self.options.stamp,
            "organisations": organisations,
            "members": members + others,
        }
        org_index = {o["id"]: i for i, o in enumerate(organisations)}
        for issue in iter_issues(package, as_of=self.options.as_of):
            found = _MEMBER_PATH.match(issue.path)
            if found and int(found[1]) < len(live):
                self._map(live[int(found[1])], found[2], issue)
            elif issue.path.startswith("/organisations/"):
                self._org_issue(organisations, org_index, issue)
        accepted = [m for m, c in zip(members, live, strict=True) if not c.rejected]
        for m in accepted:  # checked as typed (MBR-009 names a lower-case x), stored upper
            if isinstance(m.get("citizenId"), str):
                m["citizenId"] = m["citizenId"].upper()
        return accepted

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
    *((f, "text") for f in (*TEXTS, "id")),
    ("organisation", "branch"),
    ("citizenId", "citizenId"),  # before the dates: a month-only birth date takes its day
    *((f, "code") for f in CODED),
    ("phone", "phone"),
    *((f, "date") for f in DATES),
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
