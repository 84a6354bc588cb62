"""Versions: a 1.0 document gets the same report from the 1.1 validator as from 1.0, and 1.1
only adds (spec/standard.md §6): fields, record types, codes, codelists and rules that apply to
1.1 documents."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from tongxin.schemas import RULES, SCHEMA_VERSIONS, all_schemas, codelist, validate
from tongxin.schemas._codelists import CODELISTS_BY_VERSION
from tongxin.schemas._conformance import invalid_example, valid_package, valid_package_11

ROOT = Path(__file__).resolve().parent.parent.parent
#: Reports of the 1.0 validator (recorded before 1.1 existed) on every 1.0 example and on 1.0
#: packages that use names 1.1 adds; keys are example paths or case names.
GOLDEN: dict[str, Any] = orjson.loads((ROOT / "tests/standard/compat_1_0.json").read_bytes())


def _same(report: dict[str, Any]) -> dict[str, Any]:
    """A report without the wording of its Chinese messages, which 1.1 made Chinese only and
    made tell how to fix the value (§6: a minor version may improve wording; the rule,
    severity, pointer and English message of each finding stay)."""
    issues = [
        {
            **{k: v for k, v in i.items() if k not in {"path", "pointer"}},
            "pointer": i.get("pointer", i.get("path")),  # the wire form's name since 1.1
            "message": {"en": i["message"]["en"]},
        }
        for i in report["issues"]
    ]
    return {**report, "issues": issues}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_a_1_0_document_gets_the_1_0_report(name: str) -> None:
    case = GOLDEN[name]
    source = ROOT / name if case["package"] is None else case["package"]
    assert _same(validate(source).to_dict()) == _same(case["report"])


@pytest.mark.parametrize("name", sorted(n for n in GOLDEN if GOLDEN[n]["package"] is None))
def test_a_1_0_file_gets_the_1_0_report_on_two_processes(name: str) -> None:
    assert _same(validate(ROOT / name, jobs=2).to_dict()) == _same(GOLDEN[name]["report"])


def test_the_golden_reports_cover_every_1_0_example() -> None:
    examples = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "spec/examples").rglob("*.json")
        if orjson.loads(p.read_bytes()).get("schemaVersion") == "1.0"
    }
    assert examples == {n for n in GOLDEN if GOLDEN[n]["package"] is None}


@pytest.mark.parametrize("name", sorted(CODELISTS_BY_VERSION["1.0"]))
def test_a_1_1_codelist_appends_to_its_1_0_rows(name: str) -> None:
    old, new = codelist(name, "1.0").codes, codelist(name, "1.1").codes
    assert new[: len(old)] == old


def _same_but_enum(old: Any, new: Any, where: str) -> None:
    if isinstance(old, dict):
        assert isinstance(new, dict), where
        for key, value in old.items():
            if key in ("title", "description", "$id", "x-schemaVersion"):
                continue
            if key == "enum":
                assert new[key][: len(value) - (None in value)] == [
                    v for v in value if v is not None
                ]
                continue
            if key == "const":  # schemaVersion: "1.0" -> "1.1"
                continue
            assert key in new, f"{where}/{key}"
            _same_but_enum(value, new[key], f"{where}/{key}")
    elif isinstance(old, list) and not all(isinstance(v, str) for v in old):
        assert len(old) == len(new), where
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _same_but_enum(a, b, f"{where}/{i}")
    else:
        assert old == new, where


@pytest.mark.parametrize("name", sorted(all_schemas("1.0")))
def test_a_1_1_schema_keeps_every_1_0_constraint(name: str) -> None:
    old, new = all_schemas("1.0")[name], all_schemas("1.1")[name]
    assert new["required"] == old["required"]  # nothing new is required
    assert set(old["properties"]) <= set(new["properties"])
    _same_but_enum(old, new, name)


@pytest.mark.parametrize("rule_id", sorted(r for r in RULES if RULES[r].since != "1.0"))
def test_a_rule_added_in_1_1_does_not_apply_to_1_0(rule_id: str) -> None:
    pkg = invalid_example(rule_id)
    assert validate(pkg).issues[0].rule == rule_id
    pkg["schemaVersion"] = "1.0"
    assert rule_id not in {i.rule for i in validate(pkg).issues}


def test_the_1_1_package_is_valid_in_one_and_in_two_processes(tmp_path: Path) -> None:
    pkg = valid_package_11()
    stages = {a["stage"] for a in pkg["applicants"]}
    assert stages == set(codelist("applicant-stage", "1.1").values)
    types = {o["type"] for o in pkg["organisations"]}
    assert {"county-committee", "township-committee", "branch"} <= types
    assert validate(pkg).issues == []
    path = tmp_path / "p.json"
    path.write_bytes(orjson.dumps(pkg))
    assert validate(path).issues == []
    assert validate(path, jobs=2).issues == []


def test_a_version_declared_after_the_records_is_reported() -> None:
    pkg = valid_package_11()
    late = {k: v for k, v in pkg.items() if k != "schemaVersion"} | {"schemaVersion": "1.1"}
    issues = validate(orjson.dumps(late)).issues
    assert ("SCH-001", "/schemaVersion") in {(i.rule, i.path) for i in issues}
    assert "标准版本 1.1 须写在各记录数组之前" in {i.message_zh.split("：")[0] for i in issues}


def test_an_unknown_version_is_reported_as_before() -> None:
    pkg = copy.deepcopy(valid_package())
    pkg["schemaVersion"] = "2.0"
    (issue,) = validate(pkg).issues
    assert (issue.rule, issue.path) == ("SCH-001", "/schemaVersion")
    assert SCHEMA_VERSIONS == ("1.0", "1.1")
