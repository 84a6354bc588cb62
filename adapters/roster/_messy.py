"""Messy synthetic rosters, as branches really type them, for tests and the benchmark: title
rows, two-row headers, synonyms, repeated header rows, blank rows, dates typed ten ways,
full-width digits, 15-digit IDs, 男/女, +86 phones, and planted bad rows whose cell and rule
are known. The people come from ``tongxin.schemas._synthetic``: never real people."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import xlsxwriter

from tongxin.schemas import citizen_id_check
from tongxin.schemas._synthetic import SyntheticHub, member

__all__ = ["COLUMNS", "Messy", "Planted", "messy_roster"]

#: (field, header as this branch typed it)
COLUMNS = (
    ("-", "序号"), ("name", "党员姓名"), ("gender", "性别"), ("ethnicity", "民族"),
    ("birthDate", "出生年月"), ("citizenId", "身份证号码"), ("education", "文化程度"),
    ("organisation", "所在党支部"), ("category", "人员类别"), ("joinedDate", "入党时间"),
    ("fullMembershipDate", "转正时间"), ("phone", "手机号码"), ("workUnit", "工作单位及职务"),
    ("remark", "备注"),
)  # fmt: skip
_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@dataclass(frozen=True, slots=True)
class Planted:
    """A bad cell planted on purpose: its data row (0-based), field and expected rule."""

    index: int
    field: str
    rule: str


@dataclass(slots=True)
class Messy:
    """A generated roster: the rendered rows, the expected records, and what was planted."""

    hub: SyntheticHub
    rows: list[list[Any]] = field(default_factory=list)
    expected: list[dict[str, Any] | None] = field(default_factory=list)
    planted: list[Planted] = field(default_factory=list)
    warnings: list[Planted] = field(default_factory=list)


def _date_forms(iso: str, n: int, excel: bool) -> Any:
    d = date.fromisoformat(iso)
    forms: list[Any] = [
        f"{d:%Y-%m-%d}", f"{d.year}/{d.month}/{d.day}", f"{d:%Y.%m.%d}", f"{d:%Y%m%d}",
        f"{d.year}年{d.month}月{d.day}日",
    ]  # fmt: skip
    if excel:
        forms += [d, (d - date(1899, 12, 30)).days]
    return forms[n % len(forms)]


def _render(rec: dict[str, Any], n: int, excel: bool, branch: str) -> list[Any]:
    cid = rec["citizenId"]
    name = rec["name"]
    if n % 5 == 1:
        name = name[0] + " " + name[1:]
    male = rec["gender"] == "1"
    gender = (["男", "男性", "1"] if male else ["女", "女性", "2"])[n % 3]
    id_cell: Any = cid
    if n % 7 == 3:
        id_cell = cid.translate(_FULLWIDTH)
    elif n % 7 == 5 and cid[6:8] == "19":
        id_cell = cid[:6] + cid[8:17]
    if cid.endswith("X") and n % 2:
        id_cell = cid[:-1] + "x"
    birth = _date_forms(rec["birthDate"], n, excel)
    if n % 11 == 4:  # month only: the day comes from the citizen ID
        birth = f"{rec['birthDate'][:4]}.{rec['birthDate'][5:7]}"
    phone = rec["phone"]
    phone = [phone, f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}", f"{phone[:3]}-{phone[3:7]}-"
             f"{phone[7:]}", phone.translate(_FULLWIDTH)][n % 4]  # fmt: skip
    full = rec.get("fullMembershipDate")
    return [
        n + 1, name, gender, ["汉", "汉族", "01", "1"][n % 4], birth, id_cell,
        ["大学本科", "本科", "21", "大学本科毕业"][n % 4], branch,
        "正式党员" if rec["category"] == "full" else "预备党员",
        _date_forms(rec["joinedDate"], n + 1, excel),
        _date_forms(full, n + 2, excel) if full else "", phone, rec["workUnit"],
        "" if n % 3 else "按时交纳党费",
    ]  # fmt: skip


def _plant(m: Messy, row: list[Any], n: int, excel: bool) -> None:
    """Spoil row ``n`` in one of the ways that must be caught (one every 10 rows)."""
    kind = (n // 10) % (9 if excel else 8)
    spoil: dict[int, tuple[str, str, Any]] = {
        0: ("citizenId", "MBR-001", None),
        1: ("gender", "MBR-003", None),
        2: ("birthDate", "ROS-010", lambda _c: "1985-13-45"),
        3: ("gender", "ROS-012", lambda _c: "不详"),
        4: ("joinedDate", "MBR-004", None),
        5: ("fullMembershipDate", "MBR-006", lambda _c: ""),
        6: ("citizenId", "ROS-020", None),
        7: ("phone", "SCH-001", lambda _c: "12345"),
        8: ("citizenId", "ROS-014", None),
    }
    name, rule, change = spoil[kind]
    col = [f for f, _ in COLUMNS].index(name)
    rec = m.expected[n]
    assert rec is not None
    if kind == 0:
        cid = rec["citizenId"]
        row[col] = cid[:17] + ("0" if cid[17] != "0" else "1")
    elif kind == 1:
        row[col] = "女" if rec["gender"] == "1" else "男"
    elif kind == 4:
        row[col] = f"{int(rec['birthDate'][:4]) + 10}-01-01"
    elif kind == 5:
        if rec["category"] != "full":
            return
        row[col] = ""
    elif kind == 6:
        if n == 0:
            return
        first = m.expected[n - 1]
        if first is None or "citizenId" not in first:
            return
        row[col] = first["citizenId"]
    elif kind == 8:
        row[col] = float(rec["citizenId"][:17] + "0")
    else:
        row[col] = change(str(row[col]))
    m.planted.append(Planted(n, name, rule))
    m.expected[n] = None


def messy_roster(
    count: int,
    *,
    seed: int = 3,
    excel: bool = True,
    bad: bool = True,
    hub_id: str = "cd-wuhou",
    division: str = "510107",
) -> Messy:
    """``count`` data rows of a messy roster (every tenth row spoiled when ``bad``); people
    of another ``division`` have other citizen IDs."""
    hub = SyntheticHub(hub_id=hub_id, members=count, per_branch=25, seed=seed, division=division)
    rng = random.Random(seed)
    m = Messy(hub)
    for n in range(count):
        rec = member(hub, n, rng)
        branch = f"第{n // hub.per_branch + 1}党支部"
        drop = ("id", "version", "updatedAt", "organisationId")
        expected = {k: v for k, v in rec.items() if k not in drop}
        expected["organisation"] = branch
        m.expected.append(expected)
        row = _render(rec, n, excel, branch)
        if rec["citizenId"].endswith("X") and row[5] != rec["citizenId"] and row[5].endswith("x"):
            m.warnings.append(Planted(n, "citizenId", "MBR-009"))
        m.rows.append(row)
        if bad and n % 10 == 7:
            _plant(m, row, n, excel)
    return m


def _layout(m: Messy, two_row: bool, page: int) -> list[list[Any]]:
    """All sheet rows: title, header (one or two rows), data with a blank row and a repeated
    header every ``page`` rows."""
    headers = [h for _, h in COLUMNS]
    title = [f"中共示范县委直属机关委员会党员花名册（{m.hub.hub_id}）"]
    head: list[list[Any]]
    if two_row:
        top = list(headers)
        bottom: list[Any] = [""] * len(headers)
        for f in ("joinedDate", "fullMembershipDate"):
            i = [c for c, _ in COLUMNS].index(f)
            top[i], bottom[i] = "入党情况", headers[i]
        head = [top, bottom]
    else:
        head = [headers]
    out: list[list[Any]] = [title, [""], *head]
    for n, row in enumerate(m.rows):
        if n and n % page == 0:
            out += [[""], *head]
        out.append(row)
    return out


def write_xlsx(m: Messy, path: Path, *, two_row: bool = False, page: int = 40) -> dict[int, int]:
    """Write the roster as XLSX; returns data index → Excel row."""
    # merged two-row headers go back a row, which constant-memory mode cannot do
    book = xlsxwriter.Workbook(str(path), {"constant_memory": not two_row})
    sheet = book.add_worksheet("花名册")
    day = book.add_format({"num_format": "yyyy年m月d日"})
    rows = _layout(m, two_row, page)
    width = len(COLUMNS)
    where: dict[int, int] = {}
    n = 0
    for r, row in enumerate(rows):
        if r == 0:
            sheet.merge_range(0, 0, 0, width - 1, row[0])
            continue
        if two_row and row and row[0] == "序号" and r + 1 < len(rows):
            _two_row_header(book, sheet, r, row, rows[r + 1])
            continue
        if two_row and r > 0 and rows[r - 1] and rows[r - 1][0] == "序号":
            continue
        for c, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(r, c, value, day)
            elif value != "":
                sheet.write(r, c, value)
        if row and isinstance(row[0], int) and len(row) == width:
            where[n] = r + 1
            n += 1
    book.close()
    return where


def _two_row_header(book: Any, sheet: Any, r: int, top: list[Any], bottom: list[Any]) -> None:
    fmt = book.add_format({"bold": True, "align": "center", "valign": "vcenter"})
    c = 0
    while c < len(top):
        if bottom[c] == "":
            sheet.merge_range(r, c, r + 1, c, top[c], fmt)
            c += 1
        else:
            sheet.merge_range(r, c, r, c + 1, top[c], fmt)
            sheet.write(r + 1, c, bottom[c], fmt)
            sheet.write(r + 1, c + 1, bottom[c + 1], fmt)
            c += 2


def write_csv(m: Messy, path: Path, *, encoding: str = "gbk", page: int = 40) -> dict[int, int]:
    """Write the roster as CSV (GBK by default); returns data index → line number."""
    rows = _layout(m, False, page)
    where: dict[int, int] = {}
    n = 0
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        for r, row in enumerate(rows):
            writer.writerow(["" if v is None else v for v in row])
            if row and isinstance(row[0], int) and len(row) == len(COLUMNS):
                where[n] = r + 1
                n += 1
    return where


def check_digit_ok(cid: str) -> bool:
    """Whether an 18-character ID carries its true check character."""
    return len(cid) == 18 and citizen_id_check(cid[:17]) == cid[17].upper()
