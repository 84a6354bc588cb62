"""Reading roster files: XLSX/XLS/ODS with python-calamine (size and sheet dimensions checked
first; openpyxl read-only as a fallback when installed), CSV in UTF-8, UTF-8 with BOM or
GB18030/GBK, found by charset-normalizer. Rows come out 0-based with every merged range filled
with its top-left value, so a column index is the Excel column and ``row + 1`` the Excel row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MAX_BYTES", "MAX_CELLS", "ReadError", "Sheet", "column_letter", "read_sheets"]

MAX_BYTES = 512 * 1024 * 1024
MAX_CELLS = 60_000_000
MAX_COLUMNS = 1000
Row = list[Any]


class ReadError(Exception):
    """A file that cannot be read as a roster: missing, too big, not a spreadsheet."""

    def __init__(self, path: Path, en: str, zh: str) -> None:
        super().__init__(f"{path}: {en}")
        self.path, self.en, self.zh = path, en, zh


@dataclass(slots=True)
class Sheet:
    """One sheet: its name and an iterator of its rows (0-based, merged cells filled)."""

    name: str
    rows: Iterator[Row]
    height: int


def column_letter(index: int) -> str:
    """Excel's column letters for a 0-based index (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def read_sheets(path: Path, only: str | None = None) -> list[Sheet]:
    """The sheets of ``path`` (only the one named ``only`` when given)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(path, exc.strerror or str(exc), "无法打开该文件") from None
    if size > MAX_BYTES:
        raise ReadError(path, f"larger than {MAX_BYTES} bytes", "文件过大")
    if path.suffix.lower() in {".csv", ".txt", ".tsv"}:
        sheets = [_csv_sheet(path)]
    else:
        sheets = _workbook_sheets(path)
    if only is not None:
        sheets = [s for s in sheets if s.name == only]
        if not sheets:
            raise ReadError(path, f"no sheet named {only!r}", f"没有名为“{only}”的工作表")
    return sheets


def decode(data: bytes) -> str:
    """CSV bytes as text: BOM, then strict UTF-8, then charset-normalizer's best guess (GB
    family read as GB18030, its superset)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1_000_000]).best()
    encoding = (best.encoding if best is not None else "gb18030").lower()
    if encoding.replace("-", "").replace("_", "") in {"gbk", "gb2312", "gb18030", "hz", "cp936"}:
        encoding = "gb18030"
    return data.decode(encoding)


def _csv_sheet(path: Path) -> Sheet:
    try:
        text = decode(path.read_bytes())
    except (OSError, UnicodeDecodeError, LookupError) as exc:
        raise ReadError(path, f"cannot decode the text ({exc})", "无法识别文件的编码") from None
    sample = text[:20000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    lines = text.count("\n") + 1
    return Sheet(path.stem, iter(csv.reader(io.StringIO(text), dialect)), lines)


def _workbook_sheets(path: Path) -> list[Sheet]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        sheets = []
        for name in book.sheet_names:
            sheet = book.get_sheet_by_name(name)
            height, width = sheet.total_height, sheet.total_width
            if width > MAX_COLUMNS or height * width > MAX_CELLS:
                raise ReadError(
                    path,
                    f"sheet {name!r} is {height} rows × {width} columns, too large",
                    f"工作表“{name}”有 {height} 行 × {width} 列，超出上限",
                )
            sheets.append(Sheet(name, _calamine_rows(sheet), sheet.end[0] + 1 if sheet.end else 0))
        return sheets
    except ReadError:
        raise
    except (CalamineError, OSError, ValueError) as exc:
        fallback = _openpyxl_sheets(path)
        if fallback is not None:
            return fallback
        raise ReadError(
            path, f"not a readable spreadsheet ({exc})", "不是可读取的电子表格"
        ) from None


def _calamine_rows(sheet: Any) -> Iterator[Row]:
    start = sheet.start
    pad = [""] * (start[1] if start else 0)
    merges: list[tuple[tuple[int, int], tuple[int, int]]] = list(sheet.merged_cell_ranges or [])
    rows: Iterator[Row] = ((pad + r) if pad else r for r in sheet.iter_rows())
    return _fill_merged(rows, merges) if merges else rows


def _fill_merged(rows: Iterator[Row], merges: list[Any]) -> Iterator[Row]:
    """Copy each merged range's top-left value into the rest of the range."""
    anchors: dict[tuple[int, int], Any] = {}
    by_row: dict[int, list[tuple[int, int, int, int]]] = {}
    for (r0, c0), (r1, c1) in merges:
        for r in range(r0, r1 + 1):
            by_row.setdefault(r, []).append((r0, c0, r1, c1))
    for index, row in enumerate(rows):
        for r0, c0, _r1, c1 in by_row.get(index, ()):
            if index == r0:
                anchors[(r0, c0)] = row[c0] if c0 < len(row) else ""
            value = anchors.get((r0, c0), "")
            if len(row) <= c1:
                row = row + [""] * (c1 + 1 - len(row))
            for c in range(c0, c1 + 1):
                if (index, c) != (r0, c0):
                    row[c] = value
        yield row


def _openpyxl_sheets(path: Path) -> list[Sheet] | None:
    try:
        import openpyxl
    except ImportError:
        return None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:
        return None

    def rows(ws: Any) -> Iterator[Row]:
        for r in ws.iter_rows(values_only=True):
            yield ["" if v is None else v for v in r]

    return [Sheet(ws.title, rows(ws), ws.max_row or 0) for ws in book.worksheets]
