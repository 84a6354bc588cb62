"""The transfer state machine: each transition, idempotent repeats and typed refusals."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tongxin.federation import (
    Expire,
    Issue,
    KeyStore,
    Receipt,
    ReceiptArrived,
    TransferState,
    TransferStatus,
    TransitionError,
    Withdrawal,
    WithdrawalArrived,
    advance,
    document_digest,
    issue_letter,
    make_receipt,
    make_withdrawal,
    verify_letter,
)

from .conftest import ISSUED_AT, make_store, member, transfer


class Flow:
    """One letter and the messages that can follow it."""

    def __init__(self, sender: KeyStore, receiver: KeyStore) -> None:
        self.envelope = issue_letter(transfer(), member(), sender.signer(), issued_at=ISSUED_AT)
        letter = verify_letter(self.envelope, sender.key_set())
        self.issue = Issue(letter, document_digest(self.envelope["letter"]))
        self.sender, self.receiver = sender, receiver

    def receipt(self, decision: Literal["accepted", "rejected"], days: float = 1) -> ReceiptArrived:
        env = make_receipt(
            self.envelope,
            decision,
            self.receiver.signer(),
            decided_at=ISSUED_AT + timedelta(days=days),
        )
        return ReceiptArrived(
            Receipt.model_validate(env["receipt"]), document_digest(env["receipt"])
        )

    def withdrawal(self, days: float = 1) -> WithdrawalArrived:
        env = make_withdrawal(
            self.envelope, self.sender.signer(), withdrawn_at=ISSUED_AT + timedelta(days=days)
        )
        return WithdrawalArrived(
            Withdrawal.model_validate(env["withdrawal"]), document_digest(env["withdrawal"])
        )

    def issued(self) -> TransferStatus:
        return advance(None, self.issue).status


@pytest.fixture
def flow(wuhou: KeyStore, jinjiang: KeyStore) -> Flow:
    return Flow(wuhou, jinjiang)


def test_issue_starts_the_transfer(flow: Flow) -> None:
    status = flow.issued()
    assert status.state is TransferState.ISSUED
    assert status.expires_on == date(2025, 6, 30)
    assert status.transfer_id == "cd-wuhou:t0001"


@pytest.mark.parametrize("decision", ["accepted", "rejected"])
def test_decision(flow: Flow, decision: Literal["accepted", "rejected"]) -> None:
    outcome = advance(flow.issued(), flow.receipt(decision))
    assert outcome.changed
    assert outcome.status.state is TransferState(decision)
    assert [s.state for s in outcome.status.history] == [
        TransferState.ISSUED,
        TransferState(decision),
    ]


def test_withdrawal(flow: Flow) -> None:
    assert advance(flow.issued(), flow.withdrawal()).status.state is TransferState.WITHDRAWN


def test_same_message_twice_is_the_same_result(flow: Flow) -> None:
    receipt = flow.receipt("accepted")
    once = advance(flow.issued(), receipt).status
    twice = advance(once, receipt)
    assert not twice.changed
    assert twice.status == once
    assert advance(once, flow.issue).status == once  # the letter again, too


def test_message_before_the_letter_is_refused(flow: Flow) -> None:
    with pytest.raises(TransitionError) as caught:
        advance(None, flow.receipt("accepted"))
    assert caught.value.code == "transfer-unknown"
    assert caught.value.status == 409


def test_final_states_refuse_other_messages(flow: Flow) -> None:
    accepted = advance(flow.issued(), flow.receipt("accepted")).status
    with pytest.raises(TransitionError) as caught:
        advance(accepted, flow.withdrawal())
    assert caught.value.code == "transfer-final"
    assert caught.value.extra == {"state": "accepted"}
    withdrawn = advance(flow.issued(), flow.withdrawal()).status
    with pytest.raises(TransitionError, match="transfer-final"):
        advance(withdrawn, flow.receipt("accepted"))


def test_expiry_by_the_clock(flow: Flow) -> None:
    status = flow.issued()
    assert not advance(status, Expire(date(2025, 6, 29))).changed
    expired = advance(status, Expire(date(2025, 6, 30)))
    assert expired.status.state is TransferState.EXPIRED
    assert not advance(expired.status, Expire(date(2025, 7, 30))).changed


def test_late_receipt_decided_in_time_still_counts(flow: Flow) -> None:
    expired = advance(flow.issued(), Expire(date(2025, 7, 1))).status
    outcome = advance(expired, flow.receipt("accepted", days=89.5))  # 2025-06-29 21:00 CST
    assert outcome.status.state is TransferState.ACCEPTED


def test_decision_after_expiry_is_refused(flow: Flow) -> None:
    with pytest.raises(TransitionError) as caught:
        advance(flow.issued(), flow.receipt("accepted", days=90))
    assert caught.value.code == "letter-expired"


def test_message_for_another_letter(flow: Flow, tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.mktemp("other")
    other = Flow(make_store(base, "cd-wuhou"), make_store(base, "cd-jinjiang"))
    with pytest.raises(TransitionError) as caught:
        advance(flow.issued(), other.receipt("accepted"))
    assert caught.value.code == "transfer-mismatch"
    with pytest.raises(TransitionError, match="transfer-mismatch"):
        advance(flow.issued(), other.issue)


@pytest.fixture(scope="module")
def shared_flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    base = tmp_path_factory.mktemp("flow")
    return Flow(make_store(base, "cd-wuhou"), make_store(base, "cd-jinjiang"))


def _deliver(status: TransferStatus | None, message: object) -> TransferStatus | None:
    with contextlib.suppress(TransitionError):
        return advance(status, message).status  # type: ignore[arg-type]
    return status


@settings(max_examples=80, deadline=None)
@given(order=st.permutations(range(4)), repeats=st.lists(st.integers(0, 3), max_size=4))
def test_first_decision_after_the_letter_sticks(
    order: list[int], repeats: list[int], shared_flow: Flow
) -> None:
    """Whatever arrives, in whatever order and how often: the first decision delivered after
    the letter is the final state; once decided, delivering everything again changes nothing."""
    flow = shared_flow
    messages = [flow.issue, flow.receipt("accepted"), flow.withdrawal(), flow.receipt("rejected")]
    finals = [None, TransferState.ACCEPTED, TransferState.WITHDRAWN, TransferState.REJECTED]
    sequence = [*order, *repeats]
    status: TransferStatus | None = None
    for i in sequence:
        status = _deliver(status, messages[i])
    assert status is not None
    after_letter = sequence[sequence.index(0) :]
    first = next((i for i in after_letter if i != 0), None)
    assert status.state is (TransferState.ISSUED if first is None else finals[first])
    again = status
    for i in sequence:  # the sender retries everything: refused messages may now apply
        again = _deliver(again, messages[i])
    assert again is not None
    if status.state is not TransferState.ISSUED:
        assert again == status
    third = again
    for i in sequence:
        third = _deliver(third, messages[i])
    assert third == again
