"""Every MUST check of the kit can fail: for each one a deliberately broken server (the
reference hub behind a proxy breaking exactly that rule) fails it, naming the check, with
the request, the response and what the spec requires in the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest

from tests.server.conftest import Backend, make_backend
from tongxin.adapters.conformance import CHECKS, Target, run, to_json, to_junit, to_text

from ._broken import BREAKAGES, BROKEN_TOKEN, Broken
from .conftest import Prepared

MUSTS = [c.id for c in CHECKS if c.must]


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """One SQLite hub for every broken server (the proxies differ, the hub does not)."""
    yield from make_backend("sqlite", tmp_path_factory.mktemp("broken"))


def _target(prepared: Prepared, check_id: str) -> Target:
    BROKEN_TOKEN[0] = prepared.token
    return Target(
        prepared.url,
        prepared.token,
        "federation",
        sandbox=prepared.sandbox,
        peer_keys=prepared.peer_keys,
        manifest=prepared.workdir / "manifest.json",
        transport=Broken(BREAKAGES[check_id]),
        fuzz=2 if check_id == "TXC-READ-014" else 0,
    )


def test_every_must_check_has_a_broken_server() -> None:
    assert sorted(BREAKAGES) == sorted(MUSTS)


@pytest.mark.parametrize("check_id", MUSTS)
def test_a_server_breaking_one_must_fails_that_check(prepared: Prepared, check_id: str) -> None:
    report = run(_target(prepared, check_id), only=[check_id])
    [result] = report.results
    assert result.status == "fail", (BREAKAGES[check_id].what, to_text(report))
    assert not report.passed
    assert not report.cleanup_failures


@pytest.mark.parametrize(
    "check_id", ["TXC-WRITE-005", "TXC-WRITE-003", "TXC-READ-009", "TXC-WRITE-007"]
)
def test_the_whole_kit_names_the_broken_rule(prepared: Prepared, check_id: str) -> None:
    """Ignores If-Match, leaves out pointers, lists citizen IDs, one bulk result: the whole
    write level fails, naming that check with what was sent, answered and required."""
    target = _target(prepared, check_id)
    target.level = "write"
    report = run(target)
    failed = {r.check.id for r in report.results if r.status == "fail"}
    assert check_id in failed
    text = to_text(report)
    assert f"[失败 FAIL] {check_id}" in text
    assert "规范要求 / the spec requires" in text
    doc = json.loads(to_json(report))
    assert doc["passed"] is False
    [entry] = [c for c in doc["checks"] if c["id"] == check_id]
    assert entry["status"] == "fail"
    assert entry["must"] is True
    assert {"request", "response", "requires"} <= set(entry)
    suite = ET.fromstring(to_junit(report))
    [case] = [c for c in suite.iter("testcase") if c.get("name", "").startswith(check_id)]
    assert case.find("failure") is not None
