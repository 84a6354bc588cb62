"""``tongxin validate``, ``schema export`` and ``codelists`` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tongxin.schemas import CODELISTS, Issue, citizen_id_check
from tongxin.schemas._conformance import valid_package


def tongxin(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tongxin.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _wrong_check(first17: str) -> str:
    right = citizen_id_check(first17)
    return first17 + ("0" if right != "0" else "1")


@pytest.fixture
def many_faults(tmp_path: Path) -> Path:
    """The valid package plus 40 members whose citizen IDs have a wrong check character."""
    package = valid_package()
    model = package["members"][0]
    for n in range(40):
        cid = _wrong_check(f"51010719850615{n:03d}")
        extra = {"id": f"demo:x{n}", "citizenId": cid, "organisationId": "demo:o0"}
        package["members"].append({**model, **extra})
    path = tmp_path / "faults.json"
    path.write_bytes(orjson.dumps(package))
    return path


def test_valid_file_exits_0(root: Path) -> None:
    result = tongxin("validate", str(root / "spec/examples/package.json"), "--lang", "en")
    assert result.returncode == 0
    assert "no issues found" in result.stdout
    assert result.stdout.rstrip().endswith("0 errors, 0 warnings, 0 infos")


def test_text_groups_issues_by_rule(many_faults: Path) -> None:
    result = tongxin("validate", str(many_faults), "--lang", "en")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    group = [ln for ln in lines if ln.startswith("  MBR-001")]
    assert group == ["  MBR-001 [error] Invalid citizen ID × 40"]
    assert sum(1 for ln in lines if ln.startswith("    /members/")) == 5
    assert "    … and 35 more" in lines


def test_text_in_chinese_by_default(many_faults: Path) -> None:
    result = tongxin("validate", str(many_faults))
    assert "公民身份号码无效 × 40" in result.stdout
    assert "错误 40 个" in result.stdout


def test_json_output_is_one_object(many_faults: Path, root: Path) -> None:
    result = tongxin("validate", str(many_faults), "--format", "json")
    report = orjson.loads(result.stdout)
    assert set(report) == {"valid", "counts", "issues"}
    assert report["valid"] is False
    assert report["counts"] == {"error": 40, "warning": 0, "info": 0}
    assert report["issues"][0] == {
        "rule": "MBR-001",
        "severity": "error",
        "pointer": "/members/5/citizenId",
        "path": "/members/5/citizenId",  # the deprecated alias of pointer, kept until 2.0
        "message": report["issues"][0]["message"],
    }


def test_json_output_names_files_when_several(many_faults: Path, root: Path) -> None:
    valid = str(root / "spec/examples/package.json")
    result = tongxin("validate", valid, str(many_faults), "--format", "json")
    report = orjson.loads(result.stdout)
    assert {i["file"] for i in report["issues"]} == {str(many_faults)}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"members": [', "not valid JSON: Expecting value (line 1, column 14)"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b"[1, 2]", "expected '{'"),
    ],
)
def test_unreadable_input_exits_2_without_traceback(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    result = tongxin("validate", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = tongxin("validate", str(tmp_path / "nope.json"))
    assert result.returncode == 2
    assert "No such file" in result.stderr


def test_as_of_changes_time_rules(root: Path) -> None:
    path = str(root / "spec/examples/package.json")
    result = tongxin("validate", path, "--as-of", "2031-01-01", "--format", "json")
    rules = {i["rule"] for i in orjson.loads(result.stdout)["issues"]}
    assert {"ORG-004", "TRF-001", "MBR-008"} <= rules
    assert tongxin("validate", path, "--as-of", "someday").returncode == 2


@pytest.mark.parametrize(("version", "folder"), [(None, "v1_1"), ("1.1", "v1_1"), ("1.0", "v1")])
def test_schema_export_writes_the_published_files(
    tmp_path: Path, root: Path, version: str | None, folder: str
) -> None:
    flags = ("--version", version) if version else ()
    result = tongxin("schema", "export", str(tmp_path / "out"), *flags)
    assert result.returncode == 0
    published_files = sorted((root / "schemas" / folder).rglob("*.*"))
    written = sorted((tmp_path / "out").rglob("*.*"))
    assert len(written) == len(published_files)
    for published in published_files:
        copy = tmp_path / "out" / published.relative_to(root / "schemas" / folder)
        assert copy.read_bytes() == published.read_bytes(), copy


def test_schema_export_refuses_an_unknown_version(tmp_path: Path) -> None:
    assert tongxin("schema", "export", str(tmp_path), "--version", "2.0").returncode == 2


def test_codelists_lists_and_shows() -> None:
    listing = tongxin("codelists")
    assert [ln.split()[0] for ln in listing.stdout.splitlines()] == list(CODELISTS)
    shown = orjson.loads(tongxin("codelists", "ethnicity", "--format", "json").stdout)
    assert shown[0]["codes"][0] == {
        "code": "01",
        "title": {"zh-CN": "汉族", "en": "Han"},
        "description": "",
        "deprecated": None,
    }
    assert tongxin("codelists", "nonsense").returncode == 2


_UNREADABLE_ZH = "无法读取该文件，或其内容不是有效的 JSON 文档"
_NO_COUNTS = {"error": 0, "warning": 0, "info": 0}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file or directory"),
        (b'{"members": [', "not valid JSON: Expecting value (line 1, column 14)"),
        (b'{"a": "\xff"}', "not UTF-8 text (invalid start byte)"),
        (b"[1, 2]", "not valid JSON: expected '{', found '[' (line 1, column 1)"),
        (b"", "not valid JSON: expected '{', found end of input (line 1, column 1)"),
    ],
)
def test_json_output_is_one_document_when_a_file_cannot_be_read(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_bytes(content)
    result = tongxin("validate", str(path), "--format", "json")
    assert result.returncode == 2
    assert orjson.loads(result.stdout) == {
        "issues": [],
        "error": {
            "file": str(path),
            "code": "unreadable",
            "message": {"zh-CN": _UNREADABLE_ZH, "en": reason},
        },
        "counts": _NO_COUNTS,
        "valid": False,
    }
    assert "Traceback" not in result.stderr


def test_json_output_stays_one_document_when_reading_fails_after_issues(
    many_faults: Path, tmp_path: Path
) -> None:
    text = many_faults.read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(text[: text.rindex(b"]")] + b", oops")  # issues first, then broken JSON
    missing = tmp_path / "missing.json"
    result = tongxin("validate", str(many_faults), str(cut), str(missing), "--format", "json")
    assert result.returncode == 2
    report = orjson.loads(result.stdout)
    assert report["valid"] is False
    assert report["error"]["file"] == str(cut)
    assert report["error"]["code"] == "unreadable"
    assert report["counts"]["error"] == len(report["issues"]) >= 80
    assert {i["file"] for i in report["issues"]} == {str(many_faults), str(cut)}


def test_a_failing_rule_still_gives_one_json_document(
    monkeypatch: pytest.MonkeyPatch, many_faults: Path
) -> None:
    from typer.testing import CliRunner

    import tongxin.cli.standard as standard
    from tongxin.cli import app

    real = standard.iter_issues

    def crashing(*args: object, **kwargs: object) -> Iterator[Issue]:
        yield next(iter(real(*args, **kwargs)))  # type: ignore[arg-type]
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(standard, "iter_issues", crashing)
    result = CliRunner().invoke(app, ["validate", str(many_faults), "--format", "json"])
    assert result.exit_code == 3
    report = orjson.loads(result.stdout_bytes)
    assert len(report["issues"]) == 1
    assert report["valid"] is False
    assert report["error"] == {
        "file": str(many_faults),
        "code": "rule-failed",
        "message": {
            "zh-CN": "校验规则执行出错（校验器的缺陷），请报告此问题",
            "en": "a rule failed: ZeroDivisionError: planted",
        },
    }
    text = CliRunner().invoke(app, ["validate", str(many_faults)])
    assert text.exit_code == 3
