"""Signed documents (letters, receipts, certificates): a JSON body and a detached Ed25519
signature over its RFC 8785 canonical bytes, kept side by side in one envelope::

    {"letter": {...}, "signature": {"alg": "EdDSA", "kid": "cd-wuhou:…", "value": "<base64url>"}}

The signature covers the body only; the body names its own signing time, which is the instant
the key must have been valid at (a letter verifies for its whole validity even after the key
that signed it has been rotated out, but never once that key is revoked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tongxin.schemas.problems import signed_document_code

from ._canonical import b64url, b64url_decode, canonical, sha256_hex
from ._errors import FederationError
from ._keys import KeyResolver, KeyStatus, PublicKey, Signer

__all__ = ["document_digest", "open_document", "sign_document"]


def sign_document(kind: str, body: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """The envelope ``{kind: body, "signature": {...}}``."""
    value = signer.sign(canonical(body))
    return {
        kind: dict(body),
        "signature": {"alg": "EdDSA", "kid": signer.kid, "value": b64url(value)},
    }


def document_digest(body: Mapping[str, Any]) -> str:
    """``sha-256:<hex>`` of the body's canonical bytes: how receipts point at a letter."""
    return "sha-256:" + sha256_hex(canonical(body))


def open_document(
    envelope: Any,
    kind: str,
    keys: KeyResolver,
    signed_at: Callable[[dict[str, Any]], int],
    error: type[FederationError],
) -> tuple[dict[str, Any], PublicKey]:
    """Check the envelope's signature; return the body and the key that signed it.

    ``signed_at`` maps the body to its signing time (Unix seconds). Raises ``error`` with code
    ``{kind}-malformed``, ``{kind}-unknown-key``, ``{kind}-revoked-key``, ``{kind}-key-inactive``
    or ``{kind}-tampered``.
    """
    body, sig = _parts(envelope, kind, error)
    kid = str(sig.get("kid"))
    key = keys.key(kid)
    if key is None:
        raise error(
            signed_document_code(kind, "unknown-key"),
            f"the {kind} is signed with key {kid}, which the given key set does not list",
            f"该文书由密钥 {kid} 签名，所给密钥集中没有该密钥",
        )
    if key.status is KeyStatus.REVOKED:
        raise error(
            signed_document_code(kind, "revoked-key"),
            f"the {kind} is signed with key {kid}, which its hub has revoked",
            f"该文书的签名密钥 {kid} 已被其枢纽吊销",
        )
    try:
        value = b64url_decode(str(sig.get("value")))
    except (TypeError, ValueError):
        value = b""
    if not key.verify(value, canonical(body)):
        raise error(
            signed_document_code(kind, "tampered"),
            f"the {kind}'s signature does not match its content: it was altered or forged",
            "签名与内容不符：文书已被改动或伪造",
        )
    when = signed_at(body)
    if not key.usable_at(when):
        raise error(
            signed_document_code(kind, "key-inactive"),
            f"key {kid} was not valid when the {kind} says it was signed",
            f"文书所载签署时间不在密钥 {kid} 的有效期内",
        )
    return body, key


def _parts(
    envelope: Any, kind: str, error: type[FederationError]
) -> tuple[dict[str, Any], dict[str, Any]]:
    body = envelope.get(kind) if isinstance(envelope, Mapping) else None
    sig = envelope.get("signature") if isinstance(envelope, Mapping) else None
    if not isinstance(body, dict) or not isinstance(sig, dict) or sig.get("alg") != "EdDSA":
        raise error(
            signed_document_code(kind, "malformed"),
            f"not a signed {kind}: expected {kind!r} and an EdDSA 'signature' side by side",
            "不是已签名的文书：缺少正文或 EdDSA 签名",
        )
    try:
        canonical(body)
    except (TypeError, ValueError) as problem:
        raise error(
            signed_document_code(kind, "malformed"),
            f"the {kind} holds a value JCS cannot sign: {problem}",
            f"文书含有无法规范化的值：{problem}",
        ) from None
    return body, sig
