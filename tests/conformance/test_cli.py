"""``tongxin conformance`` as a vendor runs it: the example of docs/conformance.md as written
(text, JSON and JUnit reports), the usage errors, and ``cleanup --manifest`` after a crash."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

from tests.conftest import ROOT
from tests.server.conftest import Backend, make_backend
from tongxin.adapters.conformance import checks_for
from tongxin.schemas import citizen_id_check

from .conftest import Prepared

TONGXIN = str(Path(sys.executable).parent / "tongxin")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    yield from make_backend("sqlite", tmp_path_factory.mktemp("cli"))


def _env(prepared: Prepared) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN_")}
    env.update(
        HUB=prepared.url,
        TOKEN=prepared.token,
        SANDBOX=prepared.sandbox,
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    )
    return env


def test_the_documented_run_passes_and_writes_its_reports(
    prepared: Prepared, tmp_path: Path
) -> None:
    text = (ROOT / "docs" / "conformance.md").read_text("utf-8")
    block = re.findall(r"```sh\n(.*?)```", text, re.S)[0]
    done = subprocess.run(
        ["bash", "-euc", block], cwd=tmp_path, env=_env(prepared), capture_output=True, timeout=300
    )
    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()
    assert "结论：符合 write 级别的全部 MUST 要求 / verdict: conforms" in out
    assert out.index("同心一致性检查") < out.index("Tongxin conformance")
    report = json.loads((tmp_path / "conformance.json").read_text("utf-8"))
    assert report["target"] == prepared.url
    assert report["level"] == "write"
    assert report["passed"] is True
    ids = [c["id"] for c in report["checks"]]
    assert ids == [c.id for c in checks_for("write")]
    for check in report["checks"]:
        assert set(check) >= {"id", "status", "must", "spec", "detail"}
        fuzzing = check["id"] == "TXC-READ-014"  # not asked for: skipped, with the reason
        assert check["status"] == ("skip" if fuzzing else "pass"), check
    suite = ET.parse(tmp_path / "conformance.xml").getroot()
    assert suite.tag == "testsuite"
    assert suite.get("tests") == str(len(ids))
    assert suite.get("failures") == "0"
    assert not (tmp_path / "txc-manifest.json").exists()  # deleted with the records


def test_unusable_arguments_exit_2_before_any_check(
    prepared: Prepared,
) -> None:
    env = _env(prepared)
    token = ["--token", prepared.token]
    for args in (
        [*token, "--level", "write"],
        [*token, "--level", "federation", "--sandbox-organisation", "x"],
        [*token, "--level", "write", "--sandbox-organisation", "test-hub:no-such-org"],
        ["--token", "txc-wrong-token"],  # a setup mistake, not a conformance failure
    ):
        done = subprocess.run(
            [TONGXIN, "conformance", prepared.url, *args],
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 2, args
        assert not done.stdout
        message = done.stderr.decode()
        assert message.index("tongxin conformance:") < message.index("\n")


def test_cleanup_deletes_what_a_crashed_run_left(prepared: Prepared, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {prepared.token}"}
    left = "test-hub:txc-crash-m1"
    other = "test-hub:kept-m1"
    with httpx.Client(base_url=prepared.url, headers=auth) as api:
        for rid, seq in ((left, "001"), (other, "002")):
            first17 = f"11010119800101{seq}"
            member = {
                "id": rid,
                "name": "测试党员",
                "gender": "1" if int(seq) % 2 else "2",
                "birthDate": "1980-01-01",
                "citizenId": first17 + citizen_id_check(first17),
                "organisationId": prepared.sandbox,
                "category": "full",
                "joinedDate": "2005-07-01",
                "fullMembershipDate": "2006-07-01",
                "status": "normal",
            }
            created = api.post("/v1/members", json=member)
            assert created.status_code == 201, created.text
        manifest = tmp_path / "txc-manifest.json"
        records = [{"type": "members", "id": left}, {"type": "members", "id": other}]
        manifest.write_text(json.dumps({"target": prepared.url, "records": records}))
        done = subprocess.run(
            [TONGXIN, "conformance", "cleanup", "--manifest", str(manifest)],
            env={**_env(prepared), "TONGXIN_CONFORMANCE_TOKEN": prepared.token},
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr.decode()
        assert api.get(f"/v1/members/{left}").status_code == 410
        assert api.get(f"/v1/members/{other}").status_code == 200  # not the kit's: kept
        assert not manifest.exists()
