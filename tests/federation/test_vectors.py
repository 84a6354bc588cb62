"""Known answers from the RFCs: RFC 9421 B.2.6 (Ed25519), RFC 9530 §2 and RFC 8785 §3.2."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from tongxin.federation import (
    HttpMessage,
    SignatureError,
    canonical,
    check_content_digest,
    content_digest,
)
from tongxin.federation._sfv import InnerList, parse_dictionary
from tongxin.federation._signatures import signature_base

# RFC 9421 Appendix B.1.4, test-key-ed25519.
RFC_PRIVATE_PEM = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""
RFC_PUBLIC_X = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"

# RFC 9421 Appendix B.2: the test request.
RFC_BODY = b'{"hello": "world"}'
RFC_REQUEST = HttpMessage.for_request(
    "POST",
    "https://example.com/foo?param=Value&Pet=dog",
    [
        ("Host", "example.com"),
        ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
        ("Content-Type", "application/json"),
        (
            "Content-Digest",
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        ),
        ("Content-Length", "18"),
    ],
    RFC_BODY,
)

# RFC 9421 Appendix B.2.6: signature input, base and signature, verbatim.
B26_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
B26_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
    '"content-length");created=1618884473;keyid="test-key-ed25519"'
)
B26_SIGNATURE = (
    "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
)


def _rfc_key() -> Ed25519PrivateKey:
    key = load_pem_private_key(RFC_PRIVATE_PEM, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def test_rfc9421_key_is_the_published_one() -> None:
    raw = _rfc_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == RFC_PUBLIC_X


def _b26_input() -> InnerList:
    member = parse_dictionary(B26_INPUT)["sig-b26"]
    assert isinstance(member, InnerList)
    return member


def test_rfc9421_b26_signature_base_byte_for_byte() -> None:
    assert signature_base(RFC_REQUEST, _b26_input()) == B26_BASE.encode()


def test_rfc9421_b26_signature_byte_for_byte() -> None:
    signature = _rfc_key().sign(signature_base(RFC_REQUEST, _b26_input()))
    assert base64.b64encode(signature).decode() == B26_SIGNATURE


def test_rfc9421_b26_published_signature_verifies() -> None:
    public = _rfc_key().public_key()
    sig = parse_dictionary(f"sig-b26=:{B26_SIGNATURE}:")["sig-b26"]
    public.verify(sig.value, B26_BASE.encode())  # type: ignore[union-attr,arg-type]


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        # RFC 9530 §2, the examples for {"hello": "world"}.
        ("sha-256", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"),
        (
            "sha-512",
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        ),
    ],
)
def test_rfc9530_content_digest(algorithm: str, expected: str) -> None:
    assert content_digest(RFC_BODY, algorithm) == expected
    check_content_digest(expected, RFC_BODY)


def test_rfc9530_digest_is_recomputed_never_trusted() -> None:
    header = content_digest(RFC_BODY)
    with pytest.raises(SignatureError) as caught:
        check_content_digest(header, b'{"hello": "world!"}')
    assert caught.value.code == "digest-mismatch"


def test_rfc9530_both_algorithms_must_match() -> None:
    header = content_digest(RFC_BODY) + ", " + content_digest(b"other", "sha-512")
    with pytest.raises(SignatureError, match="digest-mismatch"):
        check_content_digest(header, RFC_BODY)


@pytest.mark.parametrize("header", [None, "", "md5=:rL0Y20zC+Fzt72VPzMSk2A==:"])
def test_rfc9530_missing_or_unknown_digest(header: str | None) -> None:
    with pytest.raises(SignatureError, match="digest-missing"):
        check_content_digest(header, RFC_BODY)


def test_rfc8785_string_escapes() -> None:
    # RFC 8785 §3.2.2.2: "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"
    value = "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/"
    assert canonical(value) == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()


def test_rfc8785_property_sorting_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3.
    doc = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    values = [v for k, v in sorted(doc.items(), key=lambda kv: kv[0].encode("utf-16-be"))]
    assert values == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]
    text = canonical(doc).decode()
    assert [text.index(v) for v in values] == sorted(text.index(v) for v in values)


def test_rfc8785_refuses_what_it_cannot_keep_exact() -> None:
    assert canonical({"b": [1, True, None], "a": "x"}) == b'{"a":"x","b":[1,true,null]}'
    with pytest.raises(TypeError):
        canonical({"a": 1.5})
    with pytest.raises(ValueError, match="outside"):
        canonical(2**60)
