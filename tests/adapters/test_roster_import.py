"""``tongxin roster import`` as a new user runs it, on generated messy rosters (XLSX, GBK CSV,
two-row header) with planted bad rows: every bad row at its Excel row and column with the right
rule, every good row accepted with the right codes and dates, nothing counted twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from tongxin.adapters.roster import column_letter, load_package
from tongxin.adapters.roster._messy import COLUMNS, Messy, messy_roster, write_csv, write_xlsx
from tongxin.cli import app

ROOT = "cd-wuhou:o00000000"
FIELDS = [f for f, _ in COLUMNS]
runner = CliRunner()


def run(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["roster", "import", *args, "--format", "json"])
    return result.exit_code, orjson.loads(result.stdout)


def write(kind: str, m: Messy, folder: Path) -> tuple[Path, dict[int, int]]:
    if kind == "csv-gbk":
        path = folder / "花名册.csv"
        return path, write_csv(m, path, encoding="gbk")
    path = folder / "花名册.xlsx"
    return path, write_xlsx(m, path, two_row=kind == "xlsx-two-row")


@pytest.fixture(scope="module")
def messy() -> Messy:
    return messy_roster(100)


@pytest.mark.parametrize("kind", ["xlsx", "xlsx-two-row", "csv-gbk"])
def test_every_bad_row_at_its_cell_and_every_good_row_right(
    kind: str, messy: Messy, tmp_path: Path
) -> None:
    m = messy if kind != "csv-gbk" else messy_roster(100, excel=False)
    path, where = write(kind, m, tmp_path)
    out = tmp_path / "package.json"
    code, report = run(str(path), "--organisation", ROOT, "--out", str(out))
    assert code == 1
    assert report["rows"] == 100 == report["accepted"] + report["rejected"]
    assert report["rejected"] == len(m.planted)
    # a blank row and a repeated header (one or two rows) before rows 41 and 81
    assert report["skipped"] == 2 * (1 + (2 if kind == "xlsx-two-row" else 1))
    errors = {(i["row"], i["column"], i["rule"]) for i in report["issues"]
              if i["severity"] == "error"}  # fmt: skip
    for p in m.planted:
        assert (where[p.index], column_letter(FIELDS.index(p.field)), p.rule) in errors, p
    planted_rows = {where[p.index] for p in m.planted}
    assert {r for r, _, _ in errors} == planted_rows  # no good row refused
    for issue in report["issues"]:
        assert issue["file"] == str(path)
        assert issue["message"]["zh-CN"]
        assert issue["message"]["en"]
    package = load_package(out)
    assert package is not None
    names = {o["id"]: o["name"] for o in package["organisations"]}
    got = {r["citizenId"]: r for r in package["members"]}
    good = [e for e in m.expected if e is not None]
    assert len(got) == len(good)
    for want in good:
        record = dict(got[want["citizenId"]])
        assert names[record.pop("organisationId")] == want["organisation"]
        for key in ("id", "version", "updatedAt"):
            record.pop(key)
        assert record == {k: v for k, v in want.items() if k != "organisation"}


def test_reimport_creates_nobody_twice(messy: Messy, tmp_path: Path) -> None:
    path, _ = write("xlsx", messy, tmp_path)
    out = tmp_path / "package.json"
    run(str(path), "--organisation", ROOT, "--out", str(out))
    first = load_package(out)
    code, report = run(str(path), "--organisation", ROOT, "--out", str(out))
    second = load_package(out)
    assert first is not None
    assert second is not None
    assert code == 1
    assert report["accepted"] == len(first["members"])
    assert second["members"] == first["members"]  # same ids, same versions
    assert second["organisations"] == first["organisations"]
    # a corrected roster (one name changed) updates that member in place
    fixed = messy_roster(100)
    fixed.rows[0][1] = "王改名"
    path2, _ = write("xlsx", fixed, tmp_path / "..")
    run(str(path2), "--organisation", ROOT, "--out", str(out))
    third = load_package(out)
    assert third is not None
    assert len(third["members"]) == len(first["members"])
    changed = [m for m in third["members"] if m["name"] == "王改名"]
    assert len(changed) == 1
    assert changed[0]["version"] == 2
    assert changed[0]["id"] == first["members"][0]["id"]


def test_error_workbook_reads_back(messy: Messy, tmp_path: Path) -> None:
    path, where = write("xlsx", messy, tmp_path)
    errors = tmp_path / "errors.xlsx"
    code, report = run(str(path), "--organisation", ROOT, "--report", str(errors))
    assert code == 1
    book = CalamineWorkbook.from_path(str(errors))
    assert book.sheet_names == ["需要处理的行", "问题清单"]
    rows = book.get_sheet_by_name("需要处理的行").to_python()
    head = rows[0]
    assert head[1] == "党员姓名"
    assert head[-2:] == ["问题说明", "原行号"]
    by_row = {int(r[-1]): r for r in rows[1:]}
    rows_with_issues = {i["row"] for i in report["issues"] if i["row"] is not None}
    rows_with_issues.discard(3)  # the header row's ROS-002 (备注) is not a data row
    assert set(by_row) == rows_with_issues
    bad = next(p for p in messy.planted if p.rule == "MBR-001")
    text = by_row[where[bad.index]][-2]
    assert "公民身份号码" in text
    assert "错误" in text
    listed = book.get_sheet_by_name("问题清单").to_python()
    assert len(listed) == 1 + len(report["issues"])
    import openpyxl  # the highlight is a fill on the problem cell

    sheet = openpyxl.load_workbook(errors)["需要处理的行"]
    line = 2 + sorted(by_row).index(where[bad.index])
    cell = sheet.cell(line, FIELDS.index("citizenId") + 1)
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")
    assert sheet.cell(line, FIELDS.index("name") + 1).fill.fgColor.rgb in (None, "00000000")


def test_corrected_error_workbook_imports_again(messy: Messy, tmp_path: Path) -> None:
    """The error workbook is itself an importable roster: its extra columns are ignored."""
    path, _ = write("xlsx", messy, tmp_path)
    errors = tmp_path / "errors.xlsx"
    run(str(path), "--organisation", ROOT, "--report", str(errors))
    _code, report = run(str(errors), "--sheet", "需要处理的行", "--organisation", ROOT)
    assert report["rows"] > 0
    assert {i["header"] for i in report["issues"] if i["rule"] == "ROS-002"} == {"备注"}
    assert report["rejected"] == len(messy.planted)


def test_mapping_round_trip(messy: Messy, tmp_path: Path) -> None:
    path, _ = write("xlsx", messy, tmp_path)
    shown = runner.invoke(app, ["roster", "mapping", str(path)])
    assert shown.exit_code == 0
    assert '"党员姓名" = "name"' in shown.stdout
    assert '# "备注" = "?"' in shown.stdout  # the unrecognised column is named
    _, report = run(str(path), "--organisation", ROOT)
    assert {i["rule"] for i in report["issues"] if i["header"] == "备注"} == {"ROS-002"}
    mapping = tmp_path / "map.toml"
    mapping.write_text(shown.stdout.replace('# "备注" = "?"', '"备注" = "-"'), "utf-8")
    _, report = run(str(path), "--organisation", ROOT, "--mapping", str(mapping))
    assert not [i for i in report["issues"] if i["rule"] == "ROS-002"]
    mapping.write_text('"备注" = "nonsense"\n', "utf-8")
    code, report = run(str(path), "--organisation", ROOT, "--mapping", str(mapping))
    assert code == 2
    assert "error" in report


def test_unreadable_file_exits_2_with_one_object(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    command = [sys.executable, "-m", "tongxin.cli", "roster", "import", str(broken),
               "--hub-id", "cd-wuhou", "--format", "json"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, check=False)
    assert done.returncode == 2
    doc = orjson.loads(done.stdout)
    assert doc["rows"] == 0
    assert doc["error"]["message"]["zh-CN"]
    empty = tmp_path / "empty.csv"
    empty.write_text("just,some,words\n1,2,3\n", "utf-8")
    code, doc = run(str(empty), "--hub-id", "cd-wuhou")
    assert code == 2
    assert doc["files"] == [str(empty)]


def test_no_bad_rows_exit_0(tmp_path: Path) -> None:
    m = messy_roster(30, bad=False)
    path, _ = write("xlsx", m, tmp_path)
    code, report = run(str(path), "--organisation", ROOT, "--out", str(tmp_path / "p.json"))
    assert code == 0
    assert report["accepted"] == 30
    assert report["rejected"] == 0


def test_missing_columns_and_organisation(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("姓名,性别,身份证号\n张三,男,440304198506151237\n", "utf-8")
    code, report = run(str(path), "--hub-id", "cd-wuhou")
    assert code == 1
    missing = {i["message"]["en"] for i in report["issues"] if i["rule"] == "ROS-003"}
    assert any("入党日期" in m for m in missing)
    assert any("所在党支部" in m for m in missing)
    assert {(i["row"], i["rule"]) for i in report["issues"]} >= {(2, "ROS-016")}
    assert report["rows"] == 1
    assert report["rejected"] == 1


def test_text_report_in_english(messy: Messy, tmp_path: Path) -> None:
    path, where = write("xlsx", messy, tmp_path)
    done = runner.invoke(app, ["roster", "import", str(path), "--organisation", ROOT,
                               "--lang", "en"])  # fmt: skip
    assert done.exit_code == 1
    bad = messy.planted[0]
    assert f"row {where[bad.index]} · column F (身份证号码): [error]" in done.stdout
    assert "100 rows: 90 accepted, 10 rejected" in done.stdout
