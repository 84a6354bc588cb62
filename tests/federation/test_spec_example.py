"""The worked example of spec/federation.md §2.2, reproduced byte for byte from the spec text."""

from __future__ import annotations

import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.conftest import ROOT
from tongxin.federation import (
    HttpMessage,
    KeySet,
    KeyStatus,
    LocalSigner,
    PublicKey,
    signature_headers,
    verify_message,
)
from tongxin.federation._sfv import InnerList, parse_dictionary
from tongxin.federation._signatures import signature_base

from .test_vectors import RFC_PRIVATE_PEM

SPEC = (ROOT / "spec" / "federation.md").read_text("utf-8")
CREATED = 1743469200


def _block(after: str, language: str) -> str:
    start = SPEC.index(after)
    match = re.search(rf"```{language}\n(.*?)```", SPEC[start:], re.S)
    assert match is not None
    return match.group(1)


def _signer() -> LocalSigner:
    key = load_pem_private_key(RFC_PRIVATE_PEM, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return LocalSigner("cd-wuhou:test-key-ed25519", key)


def test_spec_request_headers_and_base() -> None:
    http = _block("### 2.2 ", "http")
    head, body = http.split("\n\n", 1)
    lines = head.splitlines()
    headers = dict(line.split(": ", 1) for line in lines[1:])
    message = HttpMessage.for_request(
        "POST",
        "https://jinjiang.example.cn/v1/transfers",
        {"Content-Type": "application/json"},
        body.strip().encode(),
    )
    produced = signature_headers(message, _signer(), now=CREATED, nonce="b3k2pp5k7Z-50gnwp.yemd")
    for name in ("Content-Digest", "Signature-Input", "Signature"):
        assert produced[name] == headers[name]
    signed = HttpMessage.for_request(
        "POST", message.target_uri or "", headers, body.strip().encode()
    )
    member = parse_dictionary(headers["Signature-Input"])["tongxin"]
    assert isinstance(member, InnerList)
    base = _block("The signature base (RFC 9421 §2.5) is:", "")
    assert signature_base(signed, member).decode() == base.rstrip("\n")
    raw = _signer().private.public_key().public_bytes_raw()
    key = PublicKey(
        "cd-wuhou:test-key-ed25519", raw, CREATED - 1, CREATED + 10**6, KeyStatus.CURRENT
    )
    assert verify_message(signed, KeySet("cd-wuhou", (key,)), now=CREATED).nonce == (
        "b3k2pp5k7Z-50gnwp.yemd"
    )
