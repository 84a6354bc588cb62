"""``tongxin roster import`` of an applicants sheet (入党申请人、积极分子、发展对象): stages
typed in Chinese or as the platforms' stage codes, introducers by name, every finding at its
cell with its rule ID, the admitted applicant linked to its member, re-import and export round
trips."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import xlsxwriter
from typer.testing import CliRunner

import tongxin
from tongxin.adapters.roster import column_letter, load_package
from tongxin.cli import app
from tongxin.schemas import citizen_id_check

ROOT = "cd-wuhou:o-root"
BRANCH = "示范社区党支部"
runner = CliRunner()

MEMBER_HEAD = ["序号", "姓名", "性别", "出生日期", "身份证号码", "所在党支部", "党员类别",
               "入党时间", "转正时间"]  # fmt: skip
APPLICANT_HEAD = ["序号", "姓名", "性别", "身份证号码", "所在党支部", "民族", "人员类别",
                  "递交入党申请书日期", "谈话日期", "确定为入党积极分子日期",
                  "确定为发展对象日期", "集中培训学时", "培养联系人", "入党介绍人",
                  "支部大会讨论日期", "上级党委审批日期"]  # fmt: skip


def cid(birth: str, seq: int) -> str:
    """A valid citizen ID of a person born on ``birth`` (YYYY-MM-DD)."""
    first17 = "510107" + birth.replace("-", "") + f"{seq:03d}"
    return first17 + citizen_id_check(first17)


def _members() -> list[list[Any]]:
    rows: list[list[Any]] = []
    people = [
        ("欧阳甲一", "男", "1970-03-04", "正式党员", "1995-07-01", "1996-07-01"),
        ("欧阳乙二", "女", "1975-05-06", "正式党员", "2000-06-20", "2001-06-20"),
        ("欧阳丙三", "男", "1980-01-02", "正式党员", "2005-05-01", "2006-05-01"),
        ("司马丁四", "女", "1999-09-09", "预备党员", "2026-03-01", ""),
    ]
    for n, (name, gender, birth, category, joined, full) in enumerate(people, 1):
        rows.append([n, name, gender, birth, cid(birth, 100 + n), BRANCH, category, joined, full])
    return rows


def _applicants() -> list[list[Any]]:
    intro = "欧阳甲一、欧阳乙二"
    e = ""
    return [
        # 3: an applicant, typed as the stage's title
        [1, "上官甲", "男", cid("2000-01-01", 201), BRANCH, "汉族", "入党申请人", "2026-03-01",
         "2026-03-10", e, e, e, e, e, e, e],
        # 4: an activist, typed as 积极分子 (sponsor by name)
        [2, "上官乙", "女", cid("1998-02-02", 202), BRANCH, "汉族", "积极分子", "2025-01-05",
         "2025-01-20", "2025-05-01", e, e, "欧阳丙三", e, e, e],
        # 5: a candidate, typed as the platforms' stage code 3
        [3, "上官丙", "男", cid("1996-03-03", 203), BRANCH, "汉族", 3, "2023-01-01", "2023-01-15",
         "2023-06-01", "2024-07-01", "32学时", "欧阳甲一", intro, e, e],
        # 6: admitted (预备党员): linked to 司马丁四's member record by citizen ID
        [4, "司马丁四", "女", cid("1999-09-09", 104), BRANCH, "汉族", "预备党员", "2022-09-10",
         "2022-09-20", "2023-01-10", "2024-03-01", 30, e, "欧阳甲一 欧阳乙二", "2026-03-01",
         "2026-04-15"],
        # 7: candidate less than a year after activist: APL-004 at 确定为发展对象日期
        [5, "上官丁", "女", cid("1995-04-04", 206), BRANCH, "汉族", "发展对象", "2024-10-01",
         "2024-10-10", "2025-01-01", "2025-06-01", 24, e, intro, e, e],
        # 8: an introducer who is nobody known: ROS-015 at 入党介绍人
        [6, "上官戊", "男", cid("1994-05-05", 207), BRANCH, "汉族", "发展对象", "2022-01-01",
         "2022-01-10", "2022-06-01", "2023-07-01", 40, e, "欧阳甲一、查无此人", e, e],
        # 9: a stage no platform uses (ROS-012 at 人员类别), hours unreadable (ROS-017)
        [7, "上官己", "女", cid("1993-06-06", 208), BRANCH, "汉族", "候选人", "2025-01-01",
         "2025-01-05", e, e, "三十", e, e, e, e],
        # 10: applied at 16: APL-001 at the application date
        [8, "上官庚", "男", cid("2010-01-01", 209), BRANCH, "汉族", "积极分子", "2026-02-01",
         "2026-02-05", "2026-03-01", e, e, e, e, e, e],
    ]  # fmt: skip


def write_workbook(path: Path) -> None:
    """A roster workbook: a members sheet and an applicants sheet, each under a title row."""
    book = xlsxwriter.Workbook(str(path))
    for name, head, rows in (
        ("党员花名册", MEMBER_HEAD, _members()),
        ("入党申请人", APPLICANT_HEAD, _applicants()),
    ):
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, [f"示范社区{name}"])
        sheet.write_row(1, 0, head)
        for r, row in enumerate(rows, 2):
            sheet.write_row(r, 0, row)
    book.close()


def run(*args: str) -> tuple[int, dict[str, Any]]:
    done = runner.invoke(app, ["roster", "import", *args, "--format", "json"])
    return done.exit_code, orjson.loads(done.stdout)


def cells(report: dict[str, Any], sheet: str = "入党申请人") -> set[tuple[int, str | None, str]]:
    return {(i["row"], i["column"], i["rule"]) for i in report["issues"] if i["sheet"] == sheet}


def col(header: str) -> str:
    return column_letter(APPLICANT_HEAD.index(header))


def test_applicants_sheet_every_finding_at_its_cell(tmp_path: Path) -> None:
    path, out = tmp_path / "花名册.xlsx", tmp_path / "package.json"
    write_workbook(path)
    code, report = run(str(path), "--organisation", ROOT, "--out", str(out))
    assert code == 1
    assert report["rows"] == 12 == report["accepted"] + report["rejected"]
    assert report["rejected"] == 4
    found = cells(report)
    assert (2, col("民族"), "ROS-005") in found  # not a field of an applicant
    assert (7, col("确定为发展对象日期"), "APL-004") in found
    assert (8, col("入党介绍人"), "ROS-015") in found
    assert (9, col("人员类别"), "ROS-012") in found
    assert (10, col("递交入党申请书日期"), "APL-001") in found
    assert (9, col("集中培训学时"), "ROS-017") in found
    errors = {(r, rule) for r, _, rule in found if rule not in ("ROS-005",)}
    assert not {r for r, _ in errors if r is not None and r <= 6}, errors  # rows 3–6 are clean
    zh = [i["message"]["zh-CN"] for i in report["issues"] if i["rule"] == "ROS-015"]
    assert zh
    assert "查无此人" in zh[0]

    package = load_package(out)
    assert package is not None
    assert package["schemaVersion"] == "1.1"
    members = {m["name"]: m for m in package["members"]}
    applicants = {a["name"]: a for a in package["applicants"]}
    assert set(applicants) == {"上官甲", "上官乙", "上官丙", "司马丁四"}
    assert [applicants[n]["stage"] for n in ("上官甲", "上官乙", "上官丙", "司马丁四")] == [
        "applicant", "activist", "candidate", "admitted"
    ]  # fmt: skip
    assert applicants["上官丙"]["introducers"] == [
        members["欧阳甲一"]["id"], members["欧阳乙二"]["id"]
    ]  # fmt: skip
    assert applicants["上官丙"]["trainingHours"] == 32
    assert applicants["上官乙"]["sponsors"] == [members["欧阳丙三"]["id"]]
    assert applicants["司马丁四"]["memberId"] == members["司马丁四"]["id"]
    assert all(":a-" in a["id"] for a in applicants.values())
    checked = tongxin.validate(out, as_of=date(2026, 12, 1))
    assert not [i for i in checked.issues if i.severity.value == "error"], checked.issues


def test_reimport_and_export_give_back_the_same_applicants(tmp_path: Path) -> None:
    path, out = tmp_path / "花名册.xlsx", tmp_path / "package.json"
    write_workbook(path)
    run(str(path), "--organisation", ROOT, "--out", str(out))
    first = load_package(out)
    run(str(path), "--organisation", ROOT, "--out", str(out))
    second = load_package(out)
    assert first is not None
    assert second is not None
    assert second["applicants"] == first["applicants"]
    assert second["members"] == first["members"]

    exported = tmp_path / "标准花名册.xlsx"
    done = runner.invoke(app, ["roster", "export", str(out), "--out", str(exported)])
    assert done.exit_code == 0, done.output
    assert "4 名入党申请人" in done.output
    code, report = run(str(exported), "--organisation", ROOT, "--out", str(out))
    assert code == 0, report["issues"]
    assert {i["sheet"] for i in report["issues"]} <= {"党员花名册", "入党申请人"}
    third = load_package(out)
    assert third is not None
    assert third["applicants"] == first["applicants"]
    assert third["members"] == first["members"]


def test_stage_from_the_sheet_name_without_a_stage_column(tmp_path: Path) -> None:
    path = tmp_path / "发展对象.csv"
    path.write_text(
        "姓名,性别,身份证号码,申请入党日期,确定为积极分子日期,确定为发展对象日期\n"
        f"上官辛,男,{cid('1990-01-01', 301)},2020-01-01,2020-06-01,2021-07-01\n",
        "utf-8",
    )
    out = tmp_path / "p.json"
    code, report = run(str(path), "--organisation", ROOT, "--out", str(out))
    assert code == 0, report["issues"]
    package = load_package(out)
    assert package is not None
    assert package["applicants"][0]["stage"] == "candidate"
    assert package["members"] == []


def test_error_workbook_holds_the_applicant_rows(tmp_path: Path) -> None:
    from python_calamine import CalamineWorkbook

    path, report = tmp_path / "花名册.xlsx", tmp_path / "需要修改.xlsx"
    write_workbook(path)
    code, _ = run(str(path), "--organisation", ROOT, "--report", str(report))
    assert code == 1
    book = CalamineWorkbook.from_path(str(report))
    rows = book.get_sheet_by_name("需要处理的行").to_python()
    assert rows[0][: len(APPLICANT_HEAD)] == APPLICANT_HEAD
    assert [r[-1] for r in rows[1:]] == [7, 8, 9, 10]  # 原行号
    assert any("查无此人" in str(r[-2]) for r in rows[1:])


def test_an_applicant_column_on_a_members_sheet_is_reported_not_imported(tmp_path: Path) -> None:
    path = tmp_path / "花名册.csv"
    path.write_text(
        "姓名,性别,身份证号码,入党日期,转正日期,入党介绍人\n"
        f"欧阳壬,男,{cid('1980-01-01', 401)},2005-07-01,2006-07-01,欧阳甲一\n",
        "utf-8",
    )
    code, report = run(str(path), "--organisation", ROOT, "--out", str(tmp_path / "p.json"))
    assert code == 0, report["issues"]
    assert {(i["row"], i["column"], i["rule"]) for i in report["issues"]} == {(1, "F", "ROS-005")}
    zh = report["issues"][0]["message"]["zh-CN"]
    assert "不是党员记录的项目" in zh
