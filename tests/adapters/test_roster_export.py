"""``tongxin roster export``: the standard layout, and export then import gives the same
records (generated data)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import orjson
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from tongxin.adapters.roster import EXPORT_COLUMNS, FIELDS, load_package
from tongxin.cli import app
from tongxin.schemas._synthetic import SyntheticHub, write_package

runner = CliRunner()
ROOT = "cd-wuhou:o00000000"


def _package(tmp_path: Path, members: int = 60) -> Path:
    path = tmp_path / "source.json"
    hub = SyntheticHub(members=members, per_branch=20)
    write_package(path, hub, collections=("organisations", "members"))
    return path


def test_standard_layout(tmp_path: Path) -> None:
    source = _package(tmp_path)
    out = tmp_path / "roster.xlsx"
    done = runner.invoke(app, ["roster", "export", str(source), "--out", str(out)])
    assert done.exit_code == 0, done.output
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("党员花名册").to_python()
    assert rows[0][0] == "党员花名册"
    assert rows[1] == [FIELDS[c][0] for c in EXPORT_COLUMNS]
    first = dict(zip(rows[1], rows[2], strict=True))
    assert first["性别"] in {"男性", "女性"}
    assert first["民族"] == "汉族"
    assert isinstance(first["出生日期"], date)  # a real Excel date, not text
    assert first["所在党支部"] == "第1党支部"
    assert len(rows) == 2 + 60


def test_export_then_import_gives_the_same_records(tmp_path: Path) -> None:
    source = _package(tmp_path)
    original = load_package(source)
    assert original is not None
    roster = tmp_path / "roster.xlsx"
    runner.invoke(app, ["roster", "export", str(source), "--out", str(roster)])
    # into the same package: every member matched, nothing changed, not even a version
    same = tmp_path / "same.json"
    shutil.copy(source, same)
    done = runner.invoke(app, ["roster", "import", str(roster), "--organisation", ROOT,
                               "--out", str(same), "--format", "json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert orjson.loads(done.stdout)["accepted"] == 60
    again = load_package(same)
    assert again is not None
    assert again["members"] == original["members"]
    assert again["organisations"] == original["organisations"]
    # into a new package: the same members (ids from 记录标识), branches re-created by name
    fresh = tmp_path / "fresh.json"
    runner.invoke(app, ["roster", "import", str(roster), "--organisation", ROOT,
                        "--out", str(fresh)])  # fmt: skip
    new = load_package(fresh)
    assert new is not None
    names = {o["id"]: o["name"] for o in original["organisations"]}
    new_names = {o["id"]: o["name"] for o in new["organisations"]}
    by_id = {m["id"]: m for m in new["members"]}
    for m in original["members"]:
        got = dict(by_id[m["id"]])
        assert new_names[got.pop("organisationId")] == names[m["organisationId"]]
        want = {k: v for k, v in m.items() if k not in ("organisationId", "updatedAt")}
        got.pop("updatedAt")
        assert got == want


def test_export_one_subtree(tmp_path: Path) -> None:
    source = _package(tmp_path)
    out = tmp_path / "one.xlsx"
    done = runner.invoke(app, ["roster", "export", str(source), "--organisation",
                               "cd-wuhou:o00000002", "--out", str(out)])  # fmt: skip
    assert done.exit_code == 0
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("党员花名册").to_python()
    assert rows[0][0] == "第2党支部党员花名册"
    assert {r[8] for r in rows[2:]} == {"第2党支部"}
    assert len(rows) == 2 + 20
