"""The federation's exceptions: :class:`tongxin.schemas.TongxinError` families. Each knows its
wire form (RFC 9457): an HTTP status, a catalogued ``code`` (:mod:`tongxin.schemas.problems`)
and a bilingual detail, so the hub answers with one handler and a client raises the same class
again from a problem body (:func:`from_problem`). Constructors take ``(code, en, zh)``.

    FederationError                   status  codes: the catalogue's ``kind`` column
    ├── SignatureError                401     signature-missing … replayed-nonce (§2.3)
    ├── TrustError                    401     fingerprint-mismatch, keyset-*, certificate-*
    ├── LetterError                   422     letter-*, receipt-*, withdrawal-*, cargo-*,
    │                                         organisation-unknown
    ├── RelationError                 403     relation-not-allowed (``relation``, ``action``)
    ├── TransitionError               409     transfer-unknown, transfer-final,
    │                                         transfer-mismatch, letter-expired (``state``)
    └── ReplicaReadOnlyError          409     replica-read-only (``owner``, ``ownerUrl``)

    KeyStoreError                     the key store file is missing or unusable (CLI, start-up);
                                      an operator's error, not a problem: outside the tree
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tongxin.schemas import TongxinError
from tongxin.schemas import from_problem as _from_problem
from tongxin.schemas.problems import PROBLEM_BASE

__all__ = [
    "PROBLEM_BASE",
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


class KeyStoreError(Exception):
    """The hub's key store cannot be used; the message says how to fix it."""


class FederationError(TongxinError):
    """A federation failure a peer can act on. Subclasses fix ``status``."""

    fallback_title = "Federation error"


class SignatureError(FederationError):
    """An HTTP message signature or its content digest did not verify (RFC 9421, RFC 9530)."""

    status = 401


class TrustError(FederationError):
    """A peer's key set or a parent's certificate cannot be trusted."""

    status = 401


class LetterError(FederationError):
    """A transfer letter or receipt is malformed, tampered, expired or signed by an unknown key."""

    status = 422


class RelationError(FederationError):
    """A verified peer asked for what its relation to this hub does not allow (only a parent
    pulls the change feed, only a child hints; ``relation`` and ``action`` name both)."""

    status = 403


class TransitionError(FederationError):
    """A transfer message that does not apply to the transfer's current state."""

    status = 409


class ReplicaReadOnlyError(FederationError):
    """A write to a record this hub holds only as a replica; ``owner`` names the owner hub."""

    status = 409


def from_problem(body: Mapping[str, Any]) -> FederationError:
    """Rebuild the error a peer answered with (the inverse of :meth:`to_problem`), keyed by its
    ``code``; a code outside the federation's families gives a :class:`FederationError`."""
    error = _from_problem(body, FederationError)
    assert isinstance(error, FederationError)
    return error
