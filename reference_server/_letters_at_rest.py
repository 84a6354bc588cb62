"""Letters at rest: the signed letter envelope in ``transfer_letters.letter`` holds personal data
(name, birth date, the citizen ID's last digits), so it is stored sealed with the hub's
:class:`~tongxin.server._crypto.FieldCipher` (AES-256-GCM bound to the transfer id) and opened
transparently; a letter stored in clear before migration 0008 still reads.

Receipts and withdrawals carry no personal data (letter number, digests, decision, dates, the
organisations) and stay in clear.
"""

from __future__ import annotations

import base64

from ._crypto import FieldCipher

__all__ = ["is_sealed", "open_letter", "seal_letter"]

_PREFIX = "sealed:"


def _aad(transfer_id: str) -> str:
    return "letter:" + transfer_id


def seal_letter(cipher: FieldCipher, transfer_id: str, text: str) -> str:
    """The stored form of the letter envelope ``text`` (JSON) of ``transfer_id``."""
    blob = cipher.seal(_aad(transfer_id), {"letter": text})
    return _PREFIX + base64.b64encode(blob).decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(_PREFIX)


def open_letter(cipher: FieldCipher, transfer_id: str, stored: str) -> str:
    """The letter envelope text as signed, from its stored form (sealed or, before 0008, clear)."""
    if not is_sealed(stored):
        return stored
    opened = cipher.open(_aad(transfer_id), base64.b64decode(stored[len(_PREFIX) :]))
    text: str = opened["letter"]
    return text
