"""The error workbook (``--report ERRORS.xlsx``): the rows needing attention with their original
cells, problem cells highlighted and a Chinese error column, so a branch can fix them and
import the file again; a second sheet lists every issue. Written by xlsxwriter in
constant-memory mode (rows in order, flushed as they are written)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from tongxin.schemas import Severity

from ._headers import match
from ._model import AttentionRow, ImportResult

__all__ = ["ATTENTION_SHEET", "ISSUES_SHEET", "write_error_workbook"]

ATTENTION_SHEET = "需要处理的行"
ISSUES_SHEET = "问题清单"
_SEVERITY_ZH = {"error": "错误", "warning": "警告", "info": "提示"}


def _letters_to_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def write_error_workbook(result: ImportResult, path: Path) -> None:
    """Write the error workbook of ``result`` to ``path``."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    bold = book.add_format({"bold": True, "bg_color": "#D9D9D9", "border": 1})
    red = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
    yellow = book.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"})
    red_date = book.add_format({"bg_color": "#FFC7CE", "num_format": "yyyy-mm-dd"})
    yellow_date = book.add_format({"bg_color": "#FFEB9C", "num_format": "yyyy-mm-dd"})
    plain_date = book.add_format({"num_format": "yyyy-mm-dd"})
    wrap = book.add_format({"text_wrap": True, "font_color": "#9C0006"})
    if not result.attention:
        book.add_worksheet(ATTENTION_SHEET).write_row(0, 0, ["问题说明", "原行号"], bold)
    formats = (red, yellow, (red_date, yellow_date, plain_date))
    groups: dict[int, list[AttentionRow]] = {}
    for row in result.attention:
        groups.setdefault(id(row.sheet), []).append(row)
    for k, rows in enumerate(groups.values(), 1):
        name = ATTENTION_SHEET if len(groups) == 1 else f"{ATTENTION_SHEET}{k}"
        sheet = book.add_worksheet(name)
        texts = rows[0].sheet.header.texts
        extra = max(max(texts, default=0) + 1, max(len(r.cells) for r in rows))
        for col, text in texts.items():
            sheet.write(0, col, _importable(text), bold)
        sheet.write_row(0, extra, ["问题说明", "原行号"], bold)
        sheet.freeze_panes(1, 0)
        sheet.set_column(extra, extra, 60)
        for n, row in enumerate(rows, 1):
            _attention_row(sheet, n, row, extra, wrap, formats)
    issues = book.add_worksheet(ISSUES_SHEET)
    issues.write_row(
        0, 0, ["文件", "工作表", "行", "列", "列标题", "规则", "级别", "说明", "Message"], bold
    )
    for n, i in enumerate(result.issues, 1):
        issues.write_row(
            n, 0,
            [i.file, i.sheet, i.row if i.row is not None else "", i.column or "", i.header or "",
             i.rule, _SEVERITY_ZH[i.severity.value], i.message_zh, i.message_en],
        )  # fmt: skip
    book.close()


def _importable(text: str) -> str:
    """The part of a two-row header text that names the field (入党情况/入党时间 → 入党时间)."""
    return next((p for p in text.split("/") if match(p)), text)


def _attention_row(
    sheet: Any, n: int, row: AttentionRow, extra: int, wrap: Any, formats: Any
) -> None:
    red, yellow, dates = formats
    lines = [
        f"{i.column or ''}{'列' if i.column else ''}{i.header or ''}："
        f"【{_SEVERITY_ZH[i.severity.value]}】{i.message_zh}"
        for i in row.issues
    ]
    marks: dict[int, Severity] = {}
    for i in row.issues:
        if i.column:
            col = _letters_to_index(i.column)
            if marks.get(col) is not Severity.ERROR:
                marks[col] = i.severity
    for col, value in enumerate(row.cells):
        mark = marks.get(col)
        fmt = red if mark is Severity.ERROR else yellow if mark else None
        _write(sheet, n, col, value, fmt, dates, mark)
    sheet.write(n, extra, "\n".join(lines), wrap)
    sheet.write(n, extra + 1, row.row)


def _write(
    sheet: Any, row: int, col: int, value: Any, fmt: Any, dates: tuple[Any, Any, Any], mark: Any
) -> None:
    if isinstance(value, datetime | date):
        red_date, yellow_date, plain_date = dates
        date_fmt = red_date if mark is Severity.ERROR else yellow_date if mark else plain_date
        sheet.write_datetime(row, col, value, date_fmt)
    elif isinstance(value, str):
        sheet.write_string(row, col, value, fmt)
    elif value is None:
        sheet.write_blank(row, col, None, fmt)
    else:
        sheet.write(row, col, value, fmt)
