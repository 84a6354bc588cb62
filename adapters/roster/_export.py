"""Export to the standard roster layout: Chinese headers, titles instead of codes, real Excel
dates, one sheet of members with a branch column and, when there are applicants, a second
sheet of them (written by xlsxwriter in constant-memory mode). An exported roster imports back
to the same records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import xlsxwriter

from ._headers import FIELDS
from ._normalise import CODED
from ._package import subtree_ids

__all__ = ["APPLICANT_COLUMNS", "APPLICANT_SHEET", "EXPORT_COLUMNS", "SHEET_NAME", "write_roster"]

SHEET_NAME = "党员花名册"
APPLICANT_SHEET = "入党申请人"
#: the standard roster layout, in order (``-`` is the running number 序号)
EXPORT_COLUMNS = (
    "-", "name", "gender", "ethnicity", "birthDate", "citizenId", "education", "nativePlace",
    "organisation", "category", "joinedDate", "fullMembershipDate", "status",
    "lostContactSince", "phone", "workUnit", "id",
)  # fmt: skip
#: the applicants sheet (入党申请人、积极分子、发展对象), in order; sponsors and introducers are
#: written as member names (as ids when two members share the name)
APPLICANT_COLUMNS = (
    "-", "name", "gender", "birthDate", "citizenId", "phone", "organisation", "stage",
    "applicationDate", "talkDate", "activistDate", "candidateDate", "trainingHours", "sponsors",
    "introducers", "branchVoteDate", "approvalDate", "memberId", "id",
)  # fmt: skip
_DATES = {
    "birthDate", "joinedDate", "fullMembershipDate", "lostContactSince", "applicationDate",
    "talkDate", "activistDate", "candidateDate", "branchVoteDate", "approvalDate",
}  # fmt: skip
_WIDTHS = {"citizenId": 21, "organisation": 18, "workUnit": 24, "id": 26, "phone": 14,
           "memberId": 26, "sponsors": 14, "introducers": 14}  # fmt: skip


def _titles() -> dict[str, dict[str, str]]:
    from tongxin.schemas import codelist

    return {f: {c.code: c.title_zh for c in codelist(n).codes} for f, n in CODED.items()}


def select(
    organisations: list[dict[str, Any]], members: Iterable[dict[str, Any]], root: str | None
) -> list[dict[str, Any]]:
    """The members under ``root`` (its whole subtree), or all."""
    if root is None:
        return list(members)
    keep = subtree_ids(organisations, root) | {root}
    return [m for m in members if m.get("organisationId") in keep]


def write_roster(
    path: Path,
    organisations: list[dict[str, Any]],
    members: list[dict[str, Any]],
    title: str = SHEET_NAME,
    applicants: list[dict[str, Any]] | None = None,
) -> int:
    """Write ``members`` as a roster workbook (and ``applicants``, when given, on a second
    sheet); returns the number of members written."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = _Sheet(book, organisations)
    count = sheet.write(SHEET_NAME, title, EXPORT_COLUMNS, members, {})
    if applicants:
        names: dict[str, list[str]] = {}
        for m in members:
            names.setdefault(str(m.get("name", "")), []).append(m["id"])
        people = {i: n for n, ids in names.items() if len(ids) == 1 for i in ids}
        heading = title.removesuffix("党员花名册") + "入党申请人名册"
        sheet.write(APPLICANT_SHEET, heading, APPLICANT_COLUMNS, applicants, people)
    book.close()
    return count


class _Sheet:
    """Writes one roster sheet: a merged title row, the header row, one record per row."""

    def __init__(self, book: Any, organisations: list[dict[str, Any]]) -> None:
        self.book = book
        self.names = {o["id"]: o.get("name", o["id"]) for o in organisations}
        self.titles = _titles()
        self.head = book.add_format(
            {"bold": True, "align": "center", "border": 1, "bg_color": "#F2F2F2"}
        )
        self.big = book.add_format({"bold": True, "font_size": 16, "align": "center"})
        self.day = book.add_format({"num_format": "yyyy-mm-dd"})
        self.text = book.add_format({"num_format": "@"})

    def write(
        self,
        name: str,
        title: str,
        columns: tuple[str, ...],
        records: list[dict[str, Any]],
        people: dict[str, str],
    ) -> int:
        sheet = self.book.add_worksheet(name)
        sheet.merge_range(0, 0, 0, len(columns) - 1, title, self.big)
        for col, field in enumerate(columns):
            sheet.write_string(1, col, FIELDS[field][0], self.head)
            sheet.set_column(col, col, _WIDTHS.get(field, 11 if field in _DATES else 9))
        sheet.freeze_panes(2, 2)
        names = self.names
        ordered = sorted(records, key=lambda m: (names.get(m.get("organisationId", ""), ""),
                                                 m.get("id", "")))  # fmt: skip
        for n, m in enumerate(ordered, 1):
            row = n + 1
            for col, field in enumerate(columns):
                if field == "-":
                    sheet.write_number(row, col, n)
                    continue
                if field == "organisation":
                    value: Any = names.get(m.get("organisationId", ""), m.get("organisationId"))
                elif field in ("sponsors", "introducers"):
                    value = "、".join(people.get(i, i) for i in m.get(field) or ())
                else:
                    value = m.get(field)
                if value is None or value == "":
                    continue
                if field in CODED:
                    sheet.write_string(row, col, self.titles[field].get(value, value))
                elif field in _DATES:
                    sheet.write_datetime(row, col, date.fromisoformat(value), self.day)
                elif field == "trainingHours":
                    sheet.write_number(row, col, value)
                else:
                    sheet.write_string(row, col, str(value), self.text)
        return len(ordered)
