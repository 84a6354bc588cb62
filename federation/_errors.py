"""The federation's exceptions. Each knows its wire form (RFC 9457): an HTTP status, a stable
machine ``code`` and a bilingual detail, so the hub answers with one handler and a client raises
the same class again from a problem body (:func:`from_problem`).

    FederationError                   status  codes
    ├── SignatureError                401     signature-missing, signature-malformed,
    │                                         signature-profile, component-missing,
    │                                         window-too-long, not-yet-valid, expired,
    │                                         digest-missing, digest-mismatch, unknown-key,
    │                                         revoked-key, key-inactive, bad-signature,
    │                                         replayed-nonce
    ├── TrustError                    401     fingerprint-mismatch, keyset-invalid,
    │                                         keyset-unsigned, certificate-malformed,
    │                                         certificate-unknown-key, certificate-revoked-key,
    │                                         certificate-tampered, certificate-key-inactive,
    │                                         certificate-invalid, certificate-expired,
    │                                         certificate-missing
    ├── LetterError                   422     {letter,receipt,withdrawal}-malformed, -unknown-key,
    │                                         -revoked-key, -tampered, -key-inactive;
    │                                         letter-expired, receipt-mismatch,
    │                                         withdrawal-mismatch
    ├── RelationError                 403     relation-not-allowed (``relation``, ``action``)
    ├── TransitionError               409     transfer-unknown, transfer-final,
    │                                         transfer-mismatch, letter-expired (``state``)
    └── ReplicaReadOnlyError          409     replica-read-only (``owner``, ``ownerUrl``)

    KeyStoreError                     the key store file is missing or unusable (CLI, start-up);
                                      not an HTTP error
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "FederationError",
    "KeyStoreError",
    "LetterError",
    "RelationError",
    "ReplicaReadOnlyError",
    "SignatureError",
    "TransitionError",
    "TrustError",
    "from_problem",
]

PROBLEM_BASE = "https://tongxin.org.cn/problems/"


class KeyStoreError(Exception):
    """The hub's key store cannot be used; the message says how to fix it."""


class FederationError(Exception):
    """A federation failure a peer can act on. Subclasses fix ``status`` and ``title``."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Federation error"

    def __init__(self, code: str, en: str, zh: str, **extra: Any) -> None:
        super().__init__(f"{code}: {en}")
        self.code, self.detail_en, self.detail_zh = code, en, zh
        #: Problem extension members (camelCase wire names), e.g. ``owner`` for a 409.
        self.extra = extra

    def message(self, lang: str = "en") -> str:
        """The detail in ``zh`` or ``en``."""
        return self.detail_zh if lang.startswith("zh") else self.detail_en

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 body: ``type, title, status, detail, detailZh, code`` + extensions."""
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail_en,
            "detailZh": self.detail_zh,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class SignatureError(FederationError):
    """An HTTP message signature or its content digest did not verify (RFC 9421, RFC 9530)."""

    status = 401
    title = "Signature verification failed"


class TrustError(FederationError):
    """A peer's key set or a parent's certificate cannot be trusted."""

    status = 401
    title = "Untrusted key set"


class LetterError(FederationError):
    """A transfer letter or receipt is malformed, tampered, expired or signed by an unknown key."""

    status = 422
    title = "Invalid transfer letter"


class RelationError(FederationError):
    """A verified peer asked for what its relation to this hub does not allow (only a parent
    pulls the change feed, only a child hints; ``relation`` and ``action`` name both)."""

    status = 403
    title = "Not allowed for this peer relation"


class TransitionError(FederationError):
    """A transfer message that does not apply to the transfer's current state."""

    status = 409
    title = "Transfer transition refused"


class ReplicaReadOnlyError(FederationError):
    """A write to a record this hub holds only as a replica; ``owner`` names the owner hub."""

    status = 409
    title = "Record owned by another hub"


_BY_TITLE: dict[str, type[FederationError]] = {
    cls.title: cls
    for cls in (
        SignatureError,
        TrustError,
        LetterError,
        RelationError,
        TransitionError,
        ReplicaReadOnlyError,
    )
}
_STANDARD = {"type", "title", "status", "detail", "detailZh", "code", "instance"}


def from_problem(body: dict[str, Any]) -> FederationError:
    """Rebuild the error a peer answered with (the inverse of :meth:`to_problem`)."""
    cls = _BY_TITLE.get(str(body.get("title")), FederationError)
    extra = {k: v for k, v in body.items() if k not in _STANDARD}
    return cls(
        str(body.get("code", "error")),
        str(body.get("detail", "")),
        str(body.get("detailZh", body.get("detail", ""))),
        **extra,
    )
