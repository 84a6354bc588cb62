"""The transfer state machine, as pure functions over signed messages.

::

                 receipt(accepted), decided in time
               ┌──────────────────────────────────► accepted
               │ receipt(rejected), decided in time
    issued ────┼──────────────────────────────────► rejected
               │ withdrawal
               ├──────────────────────────────────► withdrawn
               │ clock reaches expiresOn
               └──────────────────────────────────► expired ──(receipt decided in time)──► …

``accepted``, ``rejected`` and ``withdrawn`` are final. ``expired`` is concluded from the local
clock, so a receipt the receiving hub decided *before* the letter expired but that arrives late
still moves the transfer on. Every message is identified by its digest: delivering the same
message again returns the same status unchanged; a message that does not fit the current
state is refused with :class:`TransitionError` (``transfer-unknown`` before the letter,
``transfer-final`` after a final state, ``transfer-mismatch`` for another letter,
``letter-expired`` for a decision taken after expiry).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from tongxin.schemas import problems
from tongxin.schemas.problems import ProblemCode

from ._errors import TransitionError
from ._letter import CHINA, Letter, Receipt, Withdrawal

__all__ = [
    "Expire",
    "Issue",
    "LetterIssued",
    "Outcome",
    "ReceiptArrived",
    "Step",
    "TransferState",
    "TransferStatus",
    "WithdrawalArrived",
    "advance",
]


class TransferState(StrEnum):
    """The codes of codelist ``transfer-state``."""

    ISSUED = "issued"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


FINAL = frozenset({TransferState.ACCEPTED, TransferState.REJECTED, TransferState.WITHDRAWN})


@dataclass(frozen=True, slots=True)
class Step:
    """One entry of a transfer's history: the state reached, by which message, when."""

    state: TransferState
    message: str
    at: str


@dataclass(frozen=True, slots=True)
class TransferStatus:
    transfer_id: str
    letter_number: str
    letter_digest: str
    expires_on: date
    state: TransferState
    history: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class LetterIssued:
    """The letter itself (its digest from :func:`~tongxin.federation.document_digest`)."""

    letter: Letter
    digest: str


#: Deprecated alias of :class:`LetterIssued` (until 2.0): not :class:`tongxin.schemas.Issue`.
Issue = LetterIssued


@dataclass(frozen=True, slots=True)
class ReceiptArrived:
    receipt: Receipt
    digest: str


@dataclass(frozen=True, slots=True)
class WithdrawalArrived:
    withdrawal: Withdrawal
    digest: str


@dataclass(frozen=True, slots=True)
class Expire:
    """The clock: ``today`` in China Standard Time."""

    today: date


Event = LetterIssued | ReceiptArrived | WithdrawalArrived | Expire


@dataclass(frozen=True, slots=True)
class Outcome:
    status: TransferStatus
    changed: bool


def _refuse(code: ProblemCode, en: str, zh: str, status: TransferStatus | None) -> TransitionError:
    if status is None:
        return TransitionError(code, en, zh)
    return TransitionError(code, en, zh, state=status.state.value)


def _start(event: Event) -> Outcome:
    if not isinstance(event, LetterIssued):
        raise _refuse(
            problems.TRANSFER_UNKNOWN,
            "no letter is known for this transfer yet: deliver the letter first",
            "尚未收到该转接的介绍信，请先送达介绍信",
            None,
        )
    letter = event.letter
    step = Step(TransferState.ISSUED, event.digest, letter.issued_at.isoformat())
    status = TransferStatus(
        letter.transfer_id,
        letter.letter_number,
        event.digest,
        letter.expires_on,
        TransferState.ISSUED,
        (step,),
    )
    return Outcome(status, True)


def _move(status: TransferStatus, state: TransferState, digest: str, at: str) -> Outcome:
    history = (*status.history, Step(state, digest, at))
    return Outcome(replace(status, state=state, history=history), True)


def advance(status: TransferStatus | None, event: Event) -> Outcome:
    """The status after ``event``; ``changed`` is False for a repeat or a no-op."""
    if status is None:
        return _start(event)
    if isinstance(event, Expire):
        if status.state is TransferState.ISSUED and event.today >= status.expires_on:
            return _move(status, TransferState.EXPIRED, "clock", event.today.isoformat())
        return Outcome(status, False)
    if any(step.message == event.digest for step in status.history):
        return Outcome(status, False)
    if isinstance(event, LetterIssued):
        raise _refuse(
            problems.TRANSFER_MISMATCH,
            "a different letter for the same transfer",
            "同一转接的另一封介绍信",
            status,
        )
    message = event.receipt if isinstance(event, ReceiptArrived) else event.withdrawal
    if (message.letter_digest, message.transfer_id) != (status.letter_digest, status.transfer_id):
        raise _refuse(
            problems.TRANSFER_MISMATCH,
            "the message concerns another letter",
            "该消息针对的是另一封介绍信",
            status,
        )
    if status.state in FINAL:
        raise _refuse(
            problems.TRANSFER_FINAL,
            f"the transfer is already {status.state.value}",
            f"该转接已处于终态：{status.state.value}",
            status,
        )
    if isinstance(event, WithdrawalArrived):
        at = event.withdrawal.withdrawn_at.isoformat()
        return _move(status, TransferState.WITHDRAWN, event.digest, at)
    decided = event.receipt.decided_at
    if decided.astimezone(CHINA).date() >= status.expires_on:
        raise _refuse(
            problems.LETTER_EXPIRED,
            f"the decision was taken after the letter expired on {status.expires_on}",
            f"该决定作出时介绍信已于 {status.expires_on} 失效",
            status,
        )
    state = TransferState(event.receipt.decision)
    return _move(status, state, event.digest, decided.isoformat())
