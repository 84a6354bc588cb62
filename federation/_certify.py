"""A parent certifies its children, so siblings trust each other through the parent.

A certificate is a signed document (:mod:`._signed`) by the parent hub binding a child hub id to
the fingerprints of the child's keys::

    {"certificate": {"format": "tongxin-certificate/1", "issuer": "cd-city", "subject": "cd-wuhou",
                     "relation": "child", "fingerprints": ["…"], "issued": 1735689600,
                     "expires": 1767225600},
     "signature": {"alg": "EdDSA", "kid": "cd-city:…", "value": "…"}}

A hub that pinned its parent's key accepts a sibling's key set when the parent's certificate for
that sibling verifies and a certified key signed the sibling's key set (:func:`trust_sibling`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tongxin.schemas import problems

from ._errors import TrustError
from ._keys import KeyResolver, KeySet, Signer, normalise_fingerprint, verify_key_set
from ._signed import open_document, sign_document

__all__ = ["Certificate", "certify_child", "trust_sibling", "verify_certificate"]

CERTIFICATE_FORMAT = "tongxin-certificate/1"
YEAR = 365 * 86_400


@dataclass(frozen=True, slots=True)
class Certificate:
    """A verified certificate: ``issuer`` vouches that ``subject`` holds ``fingerprints``."""

    issuer: str
    subject: str
    fingerprints: frozenset[str]
    expires: int


def certify_child(
    signer: Signer,
    parent_hub_id: str,
    child_hub_id: str,
    fingerprints: Iterable[str],
    now: int,
    valid_for: int = YEAR,
) -> dict[str, Any]:
    """The parent's signed certificate for one child hub."""
    body = {
        "format": CERTIFICATE_FORMAT,
        "issuer": parent_hub_id,
        "subject": child_hub_id,
        "relation": "child",
        "fingerprints": sorted(normalise_fingerprint(f) for f in fingerprints),
        "issued": now,
        "expires": now + valid_for,
    }
    return sign_document("certificate", body, signer)


def verify_certificate(
    envelope: Mapping[str, Any], parent_keys: KeyResolver, parent_hub_id: str, now: int
) -> Certificate:
    """Check a certificate against the parent's (already trusted) keys."""
    body, _ = open_document(envelope, "certificate", parent_keys, _issued, TrustError)
    try:
        cert = Certificate(
            str(body["issuer"]),
            str(body["subject"]),
            frozenset(normalise_fingerprint(f) for f in body["fingerprints"]),
            int(body["expires"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise TrustError(
            problems.CERTIFICATE_MALFORMED, f"certificate fields: {error}", f"证书字段有误：{error}"
        ) from None
    if body.get("format") != CERTIFICATE_FORMAT or cert.issuer != parent_hub_id:
        raise TrustError(
            problems.CERTIFICATE_INVALID,
            f"the certificate was not issued by hub {parent_hub_id}",
            f"该证书并非由枢纽 {parent_hub_id} 签发",
        )
    if cert.expires <= now:
        raise TrustError(
            problems.CERTIFICATE_EXPIRED,
            f"the certificate for {cert.subject} has expired: ask {cert.issuer} to renew it",
            f"{cert.subject} 的证书已过期，请上级枢纽 {cert.issuer} 重新签发",
        )
    return cert


def trust_sibling(
    certificate: Mapping[str, Any],
    parent_keys: KeySet,
    sibling_key_set: Mapping[str, Any],
    now: int,
) -> KeySet:
    """The sibling's key set, trusted because the common parent certified its keys."""
    cert = verify_certificate(certificate, parent_keys, parent_keys.hub_id, now)
    key_set = verify_key_set(sibling_key_set, cert.fingerprints, now)
    if key_set.hub_id != cert.subject:
        raise TrustError(
            problems.CERTIFICATE_INVALID,
            f"the certificate is for {cert.subject}, the key set for {key_set.hub_id}",
            f"证书属于 {cert.subject}，密钥集却属于 {key_set.hub_id}",
        )
    return key_set


def _issued(body: dict[str, Any]) -> int:
    value = body.get("issued")
    return value if isinstance(value, int) else -1
