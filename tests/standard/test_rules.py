"""Every rule's documented example is reported as documented, by the library and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tongxin.schemas import RULES, Severity, validate
from tongxin.schemas._conformance import MUTATIONS, invalid_example, valid_package


def test_every_rule_has_an_example() -> None:
    assert set(MUTATIONS) == set(RULES)


def test_valid_package_has_no_issue() -> None:
    assert validate(valid_package()).issues == []


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_invalid_example_reports_exactly_its_rule(rule_id: str) -> None:
    (issue,) = validate(invalid_example(rule_id)).issues
    assert (issue.rule, issue.path) == (rule_id, MUTATIONS[rule_id][0])
    assert issue.severity is RULES[rule_id].severity
    assert issue.message_zh
    assert issue.message_en
    assert "{" not in issue.message_en


def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "tongxin.cli", *args]
    return subprocess.run(command, capture_output=True, check=False)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_cli_on_the_spec_example(root: Path, rule_id: str) -> None:
    path = root / "spec" / "examples" / "rules" / f"{rule_id}.json"
    result = _cli("validate", str(path), "--format", "json")
    expected_exit = 1 if RULES[rule_id].severity is Severity.ERROR else 0
    assert result.returncode == expected_exit, result.stderr
    report = orjson.loads(result.stdout)
    assert [(i["rule"], i["path"]) for i in report["issues"]] == [(rule_id, MUTATIONS[rule_id][0])]
    assert report["valid"] is (expected_exit == 0)
    assert set(report["issues"][0]["message"]) == {"zh-CN", "en"}
