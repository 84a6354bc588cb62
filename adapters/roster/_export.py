"""Export to the standard roster layout: Chinese headers, titles instead of codes, real Excel
dates, one sheet with a branch column (written by xlsxwriter in constant-memory mode). An
exported roster imports back to the same records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import xlsxwriter

from ._headers import FIELDS
from ._normalise import CODED
from ._package import subtree_ids

__all__ = ["EXPORT_COLUMNS", "SHEET_NAME", "write_roster"]

SHEET_NAME = "党员花名册"
#: the standard roster layout, in order (``-`` is the running number 序号)
EXPORT_COLUMNS = (
    "-", "name", "gender", "ethnicity", "birthDate", "citizenId", "education", "nativePlace",
    "organisation", "category", "joinedDate", "fullMembershipDate", "status",
    "lostContactSince", "phone", "workUnit", "id",
)  # fmt: skip
_DATES = {"birthDate", "joinedDate", "fullMembershipDate", "lostContactSince"}
_WIDTHS = {"citizenId": 21, "organisation": 18, "workUnit": 24, "id": 26, "phone": 14}


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
) -> int:
    """Write ``members`` as a roster workbook; returns the number of rows written."""
    names = {o["id"]: o.get("name", o["id"]) for o in organisations}
    titles = _titles()
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    head = book.add_format({"bold": True, "align": "center", "border": 1, "bg_color": "#F2F2F2"})
    big = book.add_format({"bold": True, "font_size": 16, "align": "center"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    text = book.add_format({"num_format": "@"})
    sheet = book.add_worksheet(SHEET_NAME)
    sheet.merge_range(0, 0, 0, len(EXPORT_COLUMNS) - 1, title, big)
    for col, name in enumerate(EXPORT_COLUMNS):
        sheet.write_string(1, col, FIELDS[name][0], head)
        sheet.set_column(col, col, _WIDTHS.get(name, 11 if name in _DATES else 9))
    sheet.freeze_panes(2, 2)
    ordered = sorted(members, key=lambda m: (names.get(m.get("organisationId", ""), ""),
                                             m.get("id", "")))  # fmt: skip
    for n, m in enumerate(ordered, 1):
        row = n + 1
        for col, name in enumerate(EXPORT_COLUMNS):
            if name == "-":
                sheet.write_number(row, col, n)
                continue
            if name == "organisation":
                value: Any = names.get(m.get("organisationId", ""), m.get("organisationId"))
            else:
                value = m.get(name)
            if value is None or value == "":
                continue
            if name in CODED:
                sheet.write_string(row, col, titles[name].get(value, value))
            elif name in _DATES:
                sheet.write_datetime(row, col, date.fromisoformat(value), day)
            else:
                sheet.write_string(row, col, str(value), text)
    book.close()
    return len(ordered)
