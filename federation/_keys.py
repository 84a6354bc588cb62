"""Public keys, fingerprints and the key set a hub publishes at ``/.well-known/tongxin/keys``.

A key is an Ed25519 JWK (RFC 8037: ``kty`` ``OKP``, ``crv`` ``Ed25519``, ``x``) with ``kid``,
``nbf``/``exp`` (Unix seconds) and a ``status``: ``current`` (signs), ``next`` (pre-published,
signs after the next rotation), ``retired`` (verifies until ``exp``: the overlap window) or
``revoked`` (never verifies). The key set document is signed by each of the hub's usable keys
(:func:`key_set_document`), so a peer that pinned any one fingerprint follows rotations:
:func:`verify_key_set` accepts a new document only when a pinned key signed it.

The **fingerprint** of a key is SHA-256 over its raw 32-byte public key, in lower-case base32
(RFC 4648, no padding): 52 characters. People compare it by phone or on paper; the parser
ignores case, spaces, hyphens and colons.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tongxin.schemas import problems

from ._canonical import b64url, b64url_decode, canonical
from ._errors import TrustError

__all__ = [
    "KeyResolver",
    "KeySet",
    "KeyStatus",
    "PublicKey",
    "Signer",
    "fingerprint",
    "key_set_document",
    "normalise_fingerprint",
    "parse_key_set",
    "verify_key_set",
]

KEY_SET_FORMAT = "tongxin-keys/1"


class KeyStatus(StrEnum):
    """Where a key is in its life."""

    CURRENT = "current"
    NEXT = "next"
    RETIRED = "retired"
    REVOKED = "revoked"


def fingerprint(raw_public_key: bytes) -> str:
    """SHA-256 of the raw public key, lower-case base32 without padding (52 characters)."""
    digest = hashlib.sha256(raw_public_key).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def normalise_fingerprint(text: str) -> str:
    """A fingerprint as typed (any case, spaces, ``-`` or ``:``) in canonical form."""
    cleaned = "".join(c for c in text.lower() if c not in " -:\t")
    if len(cleaned) != 52 or any(c not in "abcdefghijklmnopqrstuvwxyz234567" for c in cleaned):
        raise ValueError(f"{text!r} is not a key fingerprint (52 base32 characters)")
    return cleaned


@dataclass(frozen=True, slots=True)
class PublicKey:
    """One published key."""

    kid: str
    raw: bytes
    nbf: int
    exp: int
    status: KeyStatus

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    def usable_at(self, when: int) -> bool:
        """True when not revoked and ``when`` lies in ``[nbf, exp)``."""
        return self.status is not KeyStatus.REVOKED and self.nbf <= when < self.exp

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``data``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_jwk(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "x": b64url(self.raw),
            "nbf": self.nbf,
            "exp": self.exp,
            "status": self.status.value,
        }

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> PublicKey:
        """Read one JWK of a key set; raises :class:`TrustError` ``keyset-invalid``."""
        try:
            if jwk["kty"] != "OKP" or jwk["crv"] != "Ed25519":
                raise ValueError("only OKP Ed25519 keys are used")
            raw = b64url_decode(jwk["x"])
            if len(raw) != 32:
                raise ValueError("x is not 32 bytes")
            nbf, exp = jwk["nbf"], jwk["exp"]
            if not (isinstance(nbf, int) and isinstance(exp, int)) or exp <= nbf:
                raise ValueError("nbf and exp must be integers with nbf < exp")
            return cls(str(jwk["kid"]), raw, nbf, exp, KeyStatus(jwk["status"]))
        except (KeyError, TypeError, ValueError) as error:
            raise _invalid(f"bad key {jwk.get('kid')!r}: {error}") from None


class KeyResolver(Protocol):
    """Finds the public key for a ``keyid``: a :class:`KeySet`, or the hub's table of peers."""

    def key(self, kid: str) -> PublicKey | None: ...


class Signer(Protocol):
    """Signs with one private key; ``kid`` names it in signatures."""

    @property
    def kid(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class KeySet:
    """The keys of one hub, read from its key set document."""

    hub_id: str
    keys: tuple[PublicKey, ...]

    def key(self, kid: str) -> PublicKey | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def __iter__(self) -> Iterator[PublicKey]:
        return iter(self.keys)

    @property
    def current(self) -> PublicKey | None:
        return next((k for k in self.keys if k.status is KeyStatus.CURRENT), None)

    def fingerprints(self) -> frozenset[str]:
        """Fingerprints of the keys that are not revoked: the pins to keep after an update."""
        return frozenset(k.fingerprint for k in self.keys if k.status is not KeyStatus.REVOKED)


def _invalid(en: str) -> TrustError:
    return TrustError(problems.KEYSET_INVALID, en, f"密钥集格式错误：{en}")


def _unsigned_part(doc: Mapping[str, Any]) -> bytes:
    return canonical({k: v for k, v in doc.items() if k != "signatures"})


def key_set_document(
    hub_id: str, keys: Iterable[PublicKey], signers: Iterable[Signer], issued: int
) -> dict[str, Any]:
    """The document for ``/.well-known/tongxin/keys``, signed by each of ``signers``."""
    doc: dict[str, Any] = {
        "format": KEY_SET_FORMAT,
        "hubId": hub_id,
        "issued": issued,
        "keys": [k.to_jwk() for k in keys],
    }
    data = _unsigned_part(doc)
    doc["signatures"] = [{"kid": s.kid, "sig": b64url(s.sign(data))} for s in signers]
    return doc


def parse_key_set(doc: Mapping[str, Any]) -> KeySet:
    """Read a key set document without deciding whether to trust it."""
    if not isinstance(doc, Mapping) or doc.get("format") != KEY_SET_FORMAT:
        raise _invalid(f"not a key set document (format {KEY_SET_FORMAT})")
    keys = doc.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, Mapping) for k in keys):
        raise _invalid("keys must be a list of JWKs")
    parsed = tuple(PublicKey.from_jwk(k) for k in keys)
    if len({k.kid for k in parsed}) != len(parsed):
        raise _invalid("two keys share a kid")
    return KeySet(str(doc.get("hubId")), parsed)


def verify_key_set(doc: Mapping[str, Any], pinned: Iterable[str], now: int) -> KeySet:
    """Trust ``doc`` when a key whose fingerprint is pinned (and not revoked) signed it.

    Raises :class:`TrustError`: ``fingerprint-mismatch`` when no listed key carries a pinned
    fingerprint, ``keyset-unsigned`` when none of those keys signed the document validly.
    After success, pin :meth:`KeySet.fingerprints` so the next rotation is followed.
    """
    key_set = parse_key_set(doc)
    pins = {normalise_fingerprint(p) for p in pinned}
    pinned_keys = {k.kid: k for k in key_set if k.fingerprint in pins and k.usable_at(now)}
    if not pinned_keys:
        raise TrustError(
            problems.FINGERPRINT_MISMATCH,
            f"no usable key of hub {key_set.hub_id} has a pinned fingerprint",
            f"枢纽 {key_set.hub_id} 的密钥集中没有与固定指纹一致的有效密钥",
        )
    data = _unsigned_part(doc)
    for entry in doc.get("signatures") or []:
        key = pinned_keys.get(str(entry.get("kid"))) if isinstance(entry, Mapping) else None
        if key is not None and key.verify(_decode(entry.get("sig")), data):
            return key_set
    raise TrustError(
        problems.KEYSET_UNSIGNED,
        f"the key set of hub {key_set.hub_id} is not signed by a pinned key",
        f"枢纽 {key_set.hub_id} 的密钥集未经固定密钥签名",
    )


def _decode(value: Any) -> bytes:
    try:
        return b64url_decode(value)
    except (ValueError, TypeError):
        return b""
