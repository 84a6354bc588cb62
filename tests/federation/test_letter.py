"""The electronic letter, its receipt and withdrawal: authentic, tampered, expired, rotated."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest

from tongxin.federation import (
    CHINA,
    KeyStore,
    LetterError,
    citizen_id_check,
    document_digest,
    issue_letter,
    make_receipt,
    make_withdrawal,
    sign_document,
    verify_letter,
    verify_receipt,
    verify_withdrawal,
)

from .conftest import ISSUED_AT, ISSUED_DAY, member, transfer


def _letter(store: KeyStore) -> dict:  # type: ignore[type-arg]
    return issue_letter(
        transfer(),
        member(),
        store.signer(),
        issued_at=ISSUED_AT,
        from_name="武侯区某支部",
        to_name="锦江区某支部",
    )


def _code(error: pytest.ExceptionInfo[LetterError]) -> str:
    return error.value.code


def test_letter_carries_the_least_data(wuhou: KeyStore) -> None:
    body = _letter(wuhou)["letter"]
    assert body["member"] == {
        "id": "cd-wuhou:m00000001",
        "name": "李梅",
        "gender": "2",
        "birthDate": "1990-05-17",
        "category": "full",
        "joinedDate": "2015-07-01",
        "fullMembershipDate": "2016-07-01",
        "citizenIdMasked": "**************002X",
    }
    assert body["format"] == "tongxin-letter/2"
    assert "phone" not in str(body)
    assert "51010719900517002X" not in str(body)
    assert body["from"]["hubId"] == "cd-wuhou"
    assert body["to"] == {
        "hubId": "cd-jinjiang",
        "organisationId": "cd-jinjiang:o0042",
        "organisationName": "锦江区某支部",
    }
    assert (body["duesPaidUntil"], body["validDays"], body["letterNumber"]) == (
        "2025-03",
        90,
        "武组转〔2025〕0001",
    )
    assert body["issuer"] == {"hubId": "cd-wuhou", "kid": wuhou.current.kid}


def _resigned(store: KeyStore, body: dict) -> dict:  # type: ignore[type-arg]
    from tongxin.federation import sign_document

    return sign_document("letter", body, store.signer())


def test_no_check_value_that_guessing_region_codes_would_confirm(wuhou: KeyStore) -> None:
    """A format 2 letter carrying a citizen ID check value is malformed; an already issued
    format 1 letter (with its HMAC check) still verifies until it expires."""
    body = copy.deepcopy(_letter(wuhou)["letter"])
    check = citizen_id_check("51010719900517002x", body["letterNumber"])
    body["member"]["citizenIdCheck"] = check
    with pytest.raises(LetterError) as refused:
        verify_letter(_resigned(wuhou, body), wuhou.key_set(), today=ISSUED_DAY)
    assert _code(refused) == "letter-malformed"
    body["format"] = "tongxin-letter/1"
    old = verify_letter(_resigned(wuhou, body), wuhou.key_set(), today=ISSUED_DAY)
    assert old.member.citizen_id_check == check


def test_authentic_letter_verifies(wuhou: KeyStore) -> None:
    letter = verify_letter(_letter(wuhou), wuhou.key_set(), today=ISSUED_DAY)
    assert letter.member.name == "李梅"
    assert letter.expires_on == date(2025, 6, 30)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("member", "name"), "王五"),
        (("to", "organisationId"), "cd-qingyang:o0001"),
        (("duesPaidUntil",), "2025-04"),
        (("validDays",), 180),
    ],
)
def test_tampered_letter_is_refused(wuhou: KeyStore, path: tuple[str, ...], value: object) -> None:
    envelope = copy.deepcopy(_letter(wuhou))
    target = envelope["letter"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(LetterError) as caught:
        verify_letter(envelope, wuhou.key_set(), today=ISSUED_DAY)
    assert _code(caught) == "letter-tampered"


def test_expiry_is_issued_date_plus_valid_days(wuhou: KeyStore) -> None:
    envelope = _letter(wuhou)
    last = ISSUED_DAY + timedelta(days=89)
    assert verify_letter(envelope, wuhou.key_set(), today=last)
    with pytest.raises(LetterError) as caught:
        verify_letter(envelope, wuhou.key_set(), today=last + timedelta(days=1))
    assert _code(caught) == "letter-expired"
    assert "2025-06-30" in caught.value.detail_en


def test_unknown_and_revoked_keys(wuhou: KeyStore, jinjiang: KeyStore) -> None:
    envelope = _letter(wuhou)
    with pytest.raises(LetterError) as caught:
        verify_letter(envelope, jinjiang.key_set(), today=ISSUED_DAY)
    assert _code(caught) == "letter-unknown-key"
    wuhou.revoke(wuhou.current.kid)
    with pytest.raises(LetterError) as caught:
        verify_letter(envelope, wuhou.key_set(), today=ISSUED_DAY)
    assert _code(caught) == "letter-revoked-key"


def test_letter_outlives_the_rotation_of_its_key(wuhou: KeyStore) -> None:
    envelope = _letter(wuhou)
    issued = int(ISSUED_AT.timestamp())
    wuhou.rotate(issued + 86_400)
    wuhou.rotate(issued + 30 * 86_400)  # the signing key's overlap is long over
    assert verify_letter(envelope, wuhou.key_set(), today=ISSUED_DAY + timedelta(days=60))


def test_backdated_letter_from_a_new_key_is_refused(wuhou: KeyStore) -> None:
    issued = int(ISSUED_AT.timestamp())
    wuhou.rotate(issued + 86_400)
    wuhou.rotate(issued + 2 * 86_400)  # the current key's validity starts after ISSUED_AT
    with pytest.raises(LetterError) as caught:
        verify_letter(_letter(wuhou), wuhou.key_set(), today=ISSUED_DAY)
    assert _code(caught) == "letter-key-inactive"


@pytest.mark.parametrize("envelope", [{}, {"letter": {}}, {"letter": {}, "signature": {}}, []])
def test_malformed(wuhou: KeyStore, envelope: object) -> None:
    with pytest.raises(LetterError) as caught:
        verify_letter(envelope, wuhou.key_set())
    assert _code(caught) in {"letter-malformed", "letter-unknown-key"}


def test_issuer_must_match_the_signing_key(wuhou: KeyStore, tmp_path: object) -> None:
    body = dict(_letter(wuhou)["letter"])
    body["from"] = {**body["from"], "hubId": "cd-qingyang"}
    forged = sign_document("letter", body, wuhou.signer())
    with pytest.raises(LetterError) as caught:
        verify_letter(forged, wuhou.key_set())
    assert _code(caught) == "letter-malformed"


def test_receipt_names_the_letter_by_digest(wuhou: KeyStore, jinjiang: KeyStore) -> None:
    envelope = _letter(wuhou)
    decided = ISSUED_AT + timedelta(days=3)
    receipt = make_receipt(envelope, "accepted", jinjiang.signer(), decided_at=decided)
    checked = verify_receipt(receipt, envelope, jinjiang.key_set())
    assert checked.letter_digest == document_digest(envelope["letter"])
    assert checked.decision == "accepted"
    assert checked.receiver.organisation_id == "cd-jinjiang:o0042"


def test_receipt_for_another_letter_or_from_another_hub(
    wuhou: KeyStore, jinjiang: KeyStore
) -> None:
    envelope = _letter(wuhou)
    other = issue_letter(
        transfer(id="cd-wuhou:t0002", letterNumber="2"),
        member(),
        wuhou.signer(),
        issued_at=ISSUED_AT,
    )
    receipt = make_receipt(
        other, "rejected", jinjiang.signer(), decided_at=ISSUED_AT, reason="查无此人"
    )
    with pytest.raises(LetterError) as caught:
        verify_receipt(receipt, envelope, jinjiang.key_set())
    assert _code(caught) == "receipt-mismatch"
    self_signed = make_receipt(envelope, "accepted", wuhou.signer(), decided_at=ISSUED_AT)
    with pytest.raises(LetterError) as caught:
        verify_receipt(self_signed, envelope, wuhou.key_set())
    assert _code(caught) == "receipt-mismatch"


def test_withdrawal(wuhou: KeyStore, jinjiang: KeyStore) -> None:
    envelope = _letter(wuhou)
    notice = make_withdrawal(envelope, wuhou.signer(), withdrawn_at=ISSUED_AT.astimezone(CHINA))
    assert verify_withdrawal(notice, envelope, wuhou.key_set()).transfer_id == "cd-wuhou:t0001"
    by_receiver = make_withdrawal(envelope, jinjiang.signer(), withdrawn_at=ISSUED_AT)
    with pytest.raises(LetterError) as caught:
        verify_withdrawal(by_receiver, envelope, jinjiang.key_set())
    assert _code(caught) == "withdrawal-mismatch"
