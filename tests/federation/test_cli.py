"""``tongxin keys`` and ``tongxin verify-letter`` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tongxin.cli import app
from tongxin.federation import KeyStore, issue_letter, letter_qr_text, normalise_fingerprint

from .conftest import ISSUED_AT, make_store, member, transfer

runner = CliRunner()


def tx(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "hub.keys.json"
    code, out, _ = tx("keys", "init", "--hub-id", "cd-wuhou", "--keys-file", str(path))
    assert code == 0
    assert normalise_fingerprint(out.strip())
    return path


def test_show_prints_the_current_fingerprint_first(keys_file: Path) -> None:
    code, out, _ = tx("keys", "show", "--keys-file", str(keys_file))
    assert code == 0
    first, *rest = out.splitlines()
    assert first == KeyStore.load(keys_file).current.fingerprint
    assert [line.split()[0] for line in rest] == ["current", "next"]


def test_show_json_is_the_signed_key_set(keys_file: Path) -> None:
    code, out, _ = tx("keys", "show", "--json", "--keys-file", str(keys_file))
    assert code == 0
    doc = orjson.loads(out)
    assert doc["hubId"] == "cd-wuhou"
    assert len(doc["signatures"]) == 2


def test_key_file_beside_the_sqlite_database(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    code, _, _ = tx("keys", "init", "--hub-id", "cd-x", "--database", f"sqlite:///{db}")
    assert code == 0
    assert (tmp_path / "hub.keys.json").exists()
    env = {"TONGXIN_DATABASE_URL": f"sqlite:///{db}"}
    assert tx("keys", "show", env=env)[0] == 0


def test_rotate_then_revoke(keys_file: Path) -> None:
    before = KeyStore.load(keys_file)
    upcoming = before.public_keys()[1]
    code, out, _ = tx("keys", "rotate", "--keys-file", str(keys_file))
    assert (code, out.strip()) == (0, upcoming.fingerprint)
    code, out, err = tx("keys", "revoke", before.current.kid, "--keys-file", str(keys_file))
    assert code == 0
    assert "revoked" in err
    statuses = {k.kid: k.status.value for k in KeyStore.load(keys_file).public_keys()}
    assert statuses[before.current.kid] == "revoked"
    assert tx("keys", "revoke", "cd-wuhou:nope", "--keys-file", str(keys_file))[0] == 1


def test_missing_key_store(tmp_path: Path) -> None:
    code, _, err = tx("keys", "show", "--keys-file", str(tmp_path / "none.json"))
    assert code == 1
    assert "tongxin init" in err


@pytest.fixture
def issuer(tmp_path: Path) -> KeyStore:
    """The issuing hub's keys, made when the letter was issued."""
    return make_store(tmp_path, "cd-wuhou")


@pytest.fixture
def letter_files(issuer: KeyStore, tmp_path: Path) -> tuple[Path, Path, str]:
    store = issuer
    letter = issue_letter(transfer(), member(), store.signer(), issued_at=ISSUED_AT)
    letter_path, keys_path = tmp_path / "letter.json", tmp_path / "wuhou-keys.json"
    letter_path.write_bytes(orjson.dumps(letter, option=orjson.OPT_INDENT_2))
    keys_path.write_bytes(orjson.dumps(store.document(int(ISSUED_AT.timestamp()))))
    return letter_path, keys_path, store.current.fingerprint


def test_verify_letter_authentic(letter_files: tuple[Path, Path, str]) -> None:
    letter, keys, fp = letter_files
    code, out, _ = tx(
        "verify-letter", str(letter), "--keys", str(keys), "--fingerprint", fp, "--on", "2025-04-02"
    )
    assert code == 0, out
    assert out.startswith("authentic: letter 武组转〔2025〕0001 for 李梅")
    assert "valid through 2025-06-29" in out


def test_verify_letter_with_own_keys(
    letter_files: tuple[Path, Path, str], issuer: KeyStore
) -> None:
    letter, _, _ = letter_files
    code, _, err = tx(
        "verify-letter", str(letter), "--keys-file", str(issuer.path), "--on", "2025-04-02"
    )
    assert code == 0, err


def test_verify_letter_of_another_hub_needs_its_keys(
    letter_files: tuple[Path, Path, str], tmp_path: Path
) -> None:
    letter, _, _ = letter_files
    other = make_store(tmp_path / "other", "cd-jinjiang")
    code, _, err = tx("verify-letter", str(letter), "--keys-file", str(other.path))
    assert code == 2
    assert "pass --keys" in err


def test_verify_letter_tampered(letter_files: tuple[Path, Path, str], tmp_path: Path) -> None:
    letter, keys, _ = letter_files
    doc = orjson.loads(letter.read_bytes())
    doc["letter"]["duesPaidUntil"] = "2025-12"
    forged = tmp_path / "forged.json"
    forged.write_bytes(orjson.dumps(doc))
    code, _, err = tx("verify-letter", str(forged), "--keys", str(keys), "--on", "2025-04-02")
    assert code == 1
    assert "\nletter-tampered: the letter's signature does not match" in err
    assert "已被改动" in err


def test_verify_letter_expired(letter_files: tuple[Path, Path, str]) -> None:
    letter, keys, _ = letter_files
    code, _, err = tx("verify-letter", str(letter), "--keys", str(keys), "--on", "2025-06-30")
    assert code == 1
    assert "\nletter-expired: the letter expired on 2025-06-30" in err


def test_verify_letter_wrong_fingerprint(letter_files: tuple[Path, Path, str]) -> None:
    letter, keys, _ = letter_files
    code, _, err = tx("verify-letter", str(letter), "--keys", str(keys), "--fingerprint", "a" * 52)
    assert code == 1
    assert "fingerprint-mismatch" in err


def test_verify_letter_unusable_input(tmp_path: Path, letter_files: tuple[Path, Path, str]) -> None:
    _, keys, _ = letter_files
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    assert tx("verify-letter", str(bad), "--keys", str(keys))[0] == 2


def test_entry_point(letter_files: tuple[Path, Path, str]) -> None:
    """The installed command, as a person types it."""
    letter, keys, _ = letter_files
    command = [
        sys.executable,
        "-m",
        "tongxin.cli",
        "verify-letter",
        str(letter),
        "--keys",
        str(keys),
        "--on",
        "2025-04-02",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "key set not pinned" in result.stderr


def test_verify_letter_from_its_qr_text(letter_files: tuple[Path, Path, str]) -> None:
    """The printed letter's QR text, from standard input or --qr; not both, not neither."""
    letter, keys, fp = letter_files
    text = letter_qr_text(orjson.loads(letter.read_bytes()), keys_url="https://h.example/k")
    args = ("--keys", str(keys), "--fingerprint", fp, "--on", "2025-04-02")
    result = runner.invoke(app, ["verify-letter", "-", *args], input=text + "\n")
    assert result.exit_code == 0, result.stderr
    assert "  党费交到：2025-03" in result.stdout
    assert tx("verify-letter", "--qr", text, *args)[0] == 0
    assert tx("verify-letter", str(letter), "--qr", text, *args)[0] == 2
    assert tx("verify-letter", *args)[0] == 2
    assert tx("verify-letter", str(letter.with_name("none.json")), *args)[0] == 2


def test_base45_is_rfc_9285() -> None:
    from tongxin.federation._letterqr import base45_decode, base45_encode

    for raw, text in ((b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581")):
        assert base45_encode(raw) == text
        assert base45_decode(text) == raw
    for bad in ("GGW", "a", "ZZZZ"):
        with pytest.raises(ValueError, match="base45"):
            base45_decode(bad)
