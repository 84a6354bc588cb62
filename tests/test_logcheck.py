"""The check that no hub log of the suite holds a citizen ID, phone or token
(``tests/_logcheck.py``) finds what is planted: unit checks of the search, and a whole pytest
session whose tests plant leaks in an in-process hub's log and in a subprocess's log file, which
must fail naming each, while a clean test passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import _logcheck
from tests.server.conftest import person

ROOT = Path(__file__).resolve().parent.parent


def _found(text: str) -> list[str]:
    return [leak.what for leak in _logcheck.scan(text)]


def test_the_search_finds_generated_values_anywhere_and_secret_shapes_alone() -> None:
    someone = person("test-hub:o00000001")
    cid, phone = someone["citizenId"], someone["phone"]
    assert cid in _logcheck.KNOWN
    assert phone in _logcheck.KNOWN
    token = "tx_" + "Ab3-_" * 8 + "xyz"
    _logcheck.remember(token)

    # Generated values: wherever they are, even inside a word or after a country code.
    assert _found(f"INFO:tongxin.server: member ref{cid.lower()}saved") == ["generated value"]
    assert _found(f"sms to +86{phone}") == ["generated value"]
    assert _found(f"Authorization: Bearer {token}") == [
        "generated token",
        "token-shaped value",
    ]
    # Shapes nobody registered: standing alone.
    assert _found('{"citizenId": "11010519491231002X"}') == ["citizen ID or phone-shaped value"]
    assert _found("phone 15900001111 refused") == ["citizen ID or phone-shaped value"]
    assert _found("token=tx_" + "Q" * 43) == ["token-shaped value"]
    # What hubs do log: request ids (hex with runs of digits), times, counts, record ids.
    clean = (
        '{"time": "2026-12-01T00:32:51.123+00:00", "level": "info", "requestId": '
        '"0a13812345678bcd51010719900517002b", "message": "peer cd-wuhou no longer holds 2 '
        'records", "seq": 1764551381234567}\n'
        "INFO:tongxin.server: GET /v1/members/cd-wuhou:m1a2b3c4d 200 (1049 bytes)\n"
    )
    assert _logcheck.scan(clean) == []
    masked = str(_logcheck.scan(cid, Path("hub.log"), 7)[0])
    assert masked.startswith("hub.log:7: ")
    assert cid not in masked


PLANTED = """
import logging
import subprocess
import sys

from tests import _logcheck
from tests.server.conftest import person


def test_an_in_process_hub_logs_a_citizen_id():
    record = person("test-hub:o00000001")
    logging.getLogger("tongxin.server").info("stored member ref%s", record["citizenId"])


def test_a_hub_process_logs_a_phone(tmp_path):
    record = person("test-hub:o00000001")
    log = _logcheck.watch(tmp_path / "serve.log")
    with log.open("ab") as out:
        line = f"print('sms sent to +86{record['phone']}')"
        subprocess.run([sys.executable, "-c", line], stdout=out, check=True)


def test_a_hub_command_prints_a_token():
    _logcheck.keep("sync", "using tx_" + "k" * 43 + "\\n")


def test_a_clean_hub():
    logging.getLogger("tongxin.server").warning("peer %s failed: %s", "cd-wuhou", "refused")
"""


def test_a_session_with_planted_leaks_fails_naming_each(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_planted.py").write_text(PLANTED)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests._logcheck",
            "-p",
            "no:cacheprovider",
            "-c",
            str(tmp_path / "pytest.ini"),
            "--rootdir",
            str(tmp_path),
            "-rA",
            "test_planted.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    for planted, where, what in (
        ("test_an_in_process_hub_logs_a_citizen_id", "in-process.log:1", "generated value"),
        ("test_a_hub_process_logs_a_phone", "serve.log:1", "generated value"),
        ("test_a_hub_command_prints_a_token", "sync.log:1", "token-shaped value"),
    ):
        report = out.split(f"ERROR at teardown of {planted}", 1)[1].split("\n_", 1)[0]
        assert "personal data or a token in a hub's log (1 found after this test)" in report
        assert f"{where}: {what} " in report, report
    assert "ERROR at teardown of test_a_clean_hub" not in out, out
    assert "PASSED test_planted.py::test_a_clean_hub" in out, out
    assert "4 passed, 3 errors" in out, out
