"""The printed letter as a receiving county handles it: the PDF of a letter one hub sent another,
rendered to an image (Debian's pdftoppm), its QR code scanned (zbarimg) and the scanned text
checked offline by ``tongxin verify-letter`` against the issuer's key set and fingerprint; a
letter with one field changed fails. The PDF's text names the member and both organisations."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.federation._network import Node, seed, transfer_body
from tongxin.cli import app
from tongxin.federation import KeyStore, letter_from_qr, letter_qr_text
from tongxin.schemas import TongxinError

TOOLS = ("pdftoppm", "pdftotext", "zbarimg")
if any(shutil.which(t) is None for t in TOOLS) and not os.environ.get("CI"):
    pytest.skip("needs Debian's poppler-utils and zbar-tools", allow_module_level=True)


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A letter Wuhou sent Jinjiang, printed by Wuhou, with Wuhou's published key set."""
    root = tmp_path_factory.mktemp("print")
    a, b = Node("cd-wuhou", root / "a"), Node("cd-jinjiang", root / "b")
    for node in (a, b):
        node.init()
        node.start()
    try:
        a.peer(b, "sibling")
        b.peer(a, "sibling")
        org_a, (member_id,) = seed(a, 1, 700)
        org_b, _ = seed(b, 0, 0)
        transfer = transfer_body(member_id, org_a, org_b)
        with a.api() as api:
            assert api.post("/v1/transfers", json=transfer).status_code == 201
            member = api.get(f"/v1/members/{member_id}").json()
            pdf = api.get(f"/v1/transfers/{transfer['id']}/letter.pdf")
            keys = api.get("/.well-known/tongxin/keys").content
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        (root / "letter.pdf").write_bytes(pdf.content)
        (root / "keys.json").write_bytes(keys)
        fingerprint = KeyStore.load(a.key_store).current.fingerprint
        yield {"root": root, "member": member, "transfer": transfer, "fingerprint": fingerprint}
    finally:
        for node in (a, b):
            node.close()


def _verify(root: Path, fingerprint: str, *args: str) -> tuple[int, str]:
    keys = ("--keys", str(root / "keys.json"), "--fingerprint", fingerprint)
    result = CliRunner().invoke(app, ["verify-letter", *args, *keys])
    return result.exit_code, result.stdout + result.stderr


def test_the_scanned_qr_verifies_offline_and_an_altered_field_does_not(
    printed: dict[str, object],
) -> None:
    root, fingerprint = printed["root"], str(printed["fingerprint"])
    assert isinstance(root, Path)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", root / "letter.pdf", root / "page"],
        check=True,
    )
    scan = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", root / "page.png"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = scan.stdout.strip()
    (root / "qr.txt").write_text(text + "\n")
    # the file holding the scanned text, and the text itself
    code, out = _verify(root, fingerprint, str(root / "qr.txt"))
    assert code == 0, out
    member = printed["member"]
    assert isinstance(member, dict)
    assert f"党员：{member['name']}" in out
    assert _verify(root, fingerprint, "--qr", text)[0] == 0
    # one field changed, the code rebuilt: the signature no longer matches
    forged = letter_from_qr(text)
    forged["letter"]["duesPaidUntil"] = "2030-12"
    code, out = _verify(root, fingerprint, "--qr", letter_qr_text(forged))
    assert code == 1
    assert "letter-tampered" in out
    # not a letter's code at all: cannot be read
    assert _verify(root, fingerprint, "--qr", "TXL1:QQ")[0] == 2


def test_the_pdf_prints_the_letter_in_chinese(printed: dict[str, object]) -> None:
    root, member, transfer = printed["root"], printed["member"], printed["transfer"]
    assert isinstance(root, Path)
    assert isinstance(member, dict)
    assert isinstance(transfer, dict)
    text = subprocess.run(
        ["pdftotext", "-layout", root / "letter.pdf", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for part in ("（存根）", "中国共产党党员组织关系介绍信", "回执", "请接洽", "党费已交到"):
        assert part in text
    assert member["name"] in text
    assert f"第 {transfer['letterNumber']} 号" in text
    assert "2026年10月" in text  # dues paid until
    assert "有效期 90 天" in text


def test_without_the_fonts_the_hub_says_so(tmp_path: Path) -> None:
    from tongxin.server._letterpdf import render_letter

    with pytest.raises(TongxinError) as refused:
        render_letter({"letter": {}, "signature": {}}, font_dir=tmp_path)
    assert (refused.value.status, refused.value.code) == (503, "letter-fonts-missing")
    assert "fonts-noto-cjk" in refused.value.detail_en
    assert "缺少思源中文字体" in refused.value.detail_zh
