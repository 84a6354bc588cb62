"""The electronic letter of introduction (组织关系介绍信), its receipt (回执) and withdrawal.

The paper letter has three parts: the stub the sending branch keeps, the letter the member
carries, and the receipt the receiving base committee returns. Here the letter is one signed
document (:mod:`._signed`) the sending hub issues and keeps (the stub), sends to the receiving
hub and hands out as a file (the letter); the receiving hub answers with a signed receipt that
names the letter by digest.

A letter carries the least data the receiving branch needs: name, gender, birth date, category,
joined and full-membership dates, and the citizen ID only as its last four characters. Letters
of format ``tongxin-letter/1`` also carried ``citizenIdCheck``, an HMAC keyed by the letter
number printed beside it: whoever held the letter could recover the whole ID by trying the few
thousand region codes offline. ``tongxin-letter/2`` (issued since) carries no check value; the
full ID reaches only the receiving hub, in the member record sent with the letter, where only
readers with ``records:read-sensitive`` see it (``spec/federation.md`` §3.2). Letters of
format 1 still verify until they expire.

A letter is valid on ``validDays`` calendar days from ``issuedDate`` in China Standard Time:
it expires at 00:00 (UTC+8) of ``issuedDate + validDays``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from tongxin.schemas import Member, Transfer, problems

from ._errors import LetterError
from ._keys import KeyResolver, PublicKey, Signer
from ._keystore import hub_of_kid
from ._signed import document_digest, open_document, sign_document

__all__ = [
    "CHINA",
    "Letter",
    "Receipt",
    "Withdrawal",
    "china_today",
    "citizen_id_check",
    "citizen_id_hmac",
    "issue_letter",
    "make_receipt",
    "make_withdrawal",
    "verify_letter",
    "verify_receipt",
    "verify_withdrawal",
]

CHINA = timezone(timedelta(hours=8), "CST")
LETTER_FORMAT: Literal["tongxin-letter/2"] = "tongxin-letter/2"
#: Letter formats that still verify (format 1 letters were issued with a check value).
LetterFormat = Literal["tongxin-letter/1", "tongxin-letter/2"]
RECEIPT_FORMAT: Literal["tongxin-receipt/1"] = "tongxin-receipt/1"
WITHDRAWAL_FORMAT: Literal["tongxin-withdrawal/1"] = "tongxin-withdrawal/1"


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class LetterMember(_Wire):
    """党员信息（最少必要）/ The member, with the least data the receiver needs."""

    id: str
    name: str
    gender: str
    birth_date: date
    category: str
    joined_date: date
    full_membership_date: date | None = None
    citizen_id_masked: str | None = Field(default=None, pattern=r"^\*{14}[0-9X]{4}$")
    #: Only in ``tongxin-letter/1`` letters (no longer issued).
    citizen_id_check: str | None = None


class Party(_Wire):
    """转出或转入方 / The sending or receiving side."""

    hub_id: str
    organisation_id: str
    organisation_name: str | None = None


class Issuer(_Wire):
    hub_id: str
    kid: str


class Letter(_Wire):
    """介绍信正文 / The body of a letter (what the signature covers)."""

    format: LetterFormat = LETTER_FORMAT
    letter_number: str = Field(min_length=1, max_length=64)
    transfer_id: str
    member: LetterMember
    from_: Party = Field(alias="from")
    to: Party
    reason: str
    dues_paid_until: str | None = None
    issued_date: date
    issued_at: datetime
    valid_days: int = Field(ge=1, le=180)
    issuer: Issuer

    @model_validator(mode="after")
    def _no_check_value_since_format_2(self) -> Letter:
        if self.format != "tongxin-letter/1" and self.member.citizen_id_check is not None:
            raise ValueError(f"{self.format} carries no citizenIdCheck")
        return self

    @property
    def expires_on(self) -> date:
        """The first day (UTC+8) on which the letter is no longer valid."""
        return self.issued_date + timedelta(days=self.valid_days)

    def expired(self, today: date) -> bool:
        return today >= self.expires_on


class Receipt(_Wire):
    """回执 / The receiving hub's signed decision on a letter."""

    format: Literal["tongxin-receipt/1"] = RECEIPT_FORMAT
    letter_number: str
    letter_digest: str
    transfer_id: str
    decision: Literal["accepted", "rejected"]
    reason: str | None = None
    decided_at: datetime
    receiver: Party
    kid: str


class Withdrawal(_Wire):
    """撤回通知 / The sending hub withdraws a letter it issued."""

    format: Literal["tongxin-withdrawal/1"] = WITHDRAWAL_FORMAT
    letter_number: str
    letter_digest: str
    transfer_id: str
    withdrawn_at: datetime
    reason: str | None = None
    kid: str


def china_today(now: datetime | None = None) -> date:
    """Today's date in China Standard Time."""
    return (now or datetime.now(UTC)).astimezone(CHINA).date()


def citizen_id_hmac(citizen_id: str, letter_number: str) -> str:
    """``hmac-sha256:<hex>`` of the citizen ID (upper-case X) keyed by the letter number: the
    check value of ``tongxin-letter/1`` letters (to compare an ID with an old letter; no longer
    issued, see the module documentation)."""
    mac = hmac.new(letter_number.encode(), citizen_id.upper().encode(), hashlib.sha256)
    return "hmac-sha256:" + mac.hexdigest()


#: Deprecated alias of :func:`citizen_id_hmac` (until 2.0): not the check digit of
#: :func:`tongxin.schemas.citizen_id_check`.
citizen_id_check = citizen_id_hmac


def issue_letter(
    transfer: Transfer,
    member: Member,
    signer: Signer,
    *,
    issued_at: datetime,
    from_name: str | None = None,
    to_name: str | None = None,
    to_hub_id: str | None = None,
) -> dict[str, Any]:
    """The sending hub's signed letter for ``transfer`` (an envelope ``{"letter", "signature"}``).

    ``to_hub_id`` defaults to the hub part of ``transfer.to_organisation_id``.
    """
    number = transfer.letter_number or transfer.id
    hub_id = hub_of_kid(signer.kid)
    citizen = member.citizen_id
    letter = Letter(
        letter_number=number,
        transfer_id=transfer.id,
        member=LetterMember(
            id=member.id,
            name=member.name,
            gender=member.gender,
            birth_date=member.birth_date,
            category=member.category,
            joined_date=member.joined_date,
            full_membership_date=member.full_membership_date,
            citizen_id_masked=None if citizen is None else "*" * 14 + citizen[-4:].upper(),
        ),
        **{
            "from": Party(
                hub_id=hub_id,
                organisation_id=transfer.from_organisation_id,
                organisation_name=from_name,
            )
        },
        to=Party(
            hub_id=to_hub_id or transfer.to_organisation_id.split(":", 1)[0],
            organisation_id=transfer.to_organisation_id,
            organisation_name=to_name,
        ),
        reason=transfer.reason,
        dues_paid_until=transfer.dues_paid_until,
        issued_date=transfer.issued_date,
        issued_at=issued_at,
        valid_days=transfer.valid_days,
        issuer=Issuer(hub_id=hub_id, kid=signer.kid),
    )
    return sign_document("letter", letter.wire(), signer)


def _unix(value: Any) -> int:
    try:
        return int(datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return -1


def _malformed(kind: str, error: ValidationError | str) -> LetterError:
    text = str(error).splitlines()[0] if isinstance(error, ValidationError) else error
    return LetterError(
        problems.signed_document_code(kind, "malformed"),
        f"the {kind} is malformed: {text}",
        f"文书格式错误：{text}",
    )


_Doc = TypeVar("_Doc", bound=BaseModel)


def _open(
    envelope: Any, kind: str, keys: KeyResolver, stamp: str, model: type[_Doc]
) -> tuple[_Doc, PublicKey]:
    """Check a signed document of ``kind`` and parse its body; ``stamp`` names the field that
    holds its signing time."""
    body, key = open_document(envelope, kind, keys, lambda b: _unix(b.get(stamp)), LetterError)
    try:
        return model.model_validate(body), key
    except ValidationError as error:
        raise _malformed(kind, error) from None


def verify_letter(envelope: Any, keys: KeyResolver, *, today: date | None = None) -> Letter:
    """The letter, when it is authentic, untampered and (given ``today``) unexpired.

    Raises :class:`LetterError`: ``letter-malformed``, ``letter-unknown-key``,
    ``letter-revoked-key``, ``letter-tampered``, ``letter-key-inactive`` or ``letter-expired``.
    """
    letter, key = _open(envelope, "letter", keys, "issuedAt", Letter)
    if not (
        letter.issuer.kid == key.kid
        and hub_of_kid(key.kid) == letter.issuer.hub_id == letter.from_.hub_id
    ):
        raise _malformed("letter", "the issuer, the sending hub and the signing key disagree")
    if today is not None and letter.expired(today):
        raise LetterError(
            problems.LETTER_EXPIRED,
            f"the letter expired on {letter.expires_on} (issued {letter.issued_date}, valid "
            f"{letter.valid_days} days)",
            f"介绍信已于 {letter.expires_on} 失效（开具于 {letter.issued_date}，有效期 "
            f"{letter.valid_days} 天）",
        )
    return letter


def _letter_body(letter: Mapping[str, Any]) -> dict[str, Any]:
    body = letter.get("letter", letter)
    return dict(body) if isinstance(body, Mapping) else {}


def make_receipt(
    letter: Mapping[str, Any],
    decision: Literal["accepted", "rejected"],
    signer: Signer,
    *,
    decided_at: datetime,
    reason: str | None = None,
) -> dict[str, Any]:
    """The receiving hub's signed receipt for a (verified) letter envelope."""
    body = _letter_body(letter)
    parsed = Letter.model_validate(body)
    receipt = Receipt(
        letter_number=parsed.letter_number,
        letter_digest=document_digest(body),
        transfer_id=parsed.transfer_id,
        decision=decision,
        reason=reason,
        decided_at=decided_at,
        receiver=parsed.to,
        kid=signer.kid,
    )
    return sign_document("receipt", receipt.wire(), signer)


def verify_receipt(envelope: Any, letter: Mapping[str, Any], keys: KeyResolver) -> Receipt:
    """The receipt, when the receiving hub of ``letter`` signed it for exactly that letter."""
    receipt, key = _open(envelope, "receipt", keys, "decidedAt", Receipt)
    letter_body = _letter_body(letter)
    to_hub = (
        letter_body.get("to", {}).get("hubId")
        if isinstance(letter_body.get("to"), Mapping)
        else None
    )
    if receipt.letter_digest != document_digest(letter_body) or hub_of_kid(key.kid) != to_hub:
        raise LetterError(
            problems.RECEIPT_MISMATCH,
            "the receipt does not answer this letter, or was not signed by its receiving hub",
            "该回执与此介绍信不对应，或并非由转入枢纽签发",
        )
    return receipt


def make_withdrawal(
    letter: Mapping[str, Any], signer: Signer, *, withdrawn_at: datetime, reason: str | None = None
) -> dict[str, Any]:
    """The sending hub's signed withdrawal of a letter it issued."""
    body = _letter_body(letter)
    parsed = Letter.model_validate(body)
    notice = Withdrawal(
        letter_number=parsed.letter_number,
        letter_digest=document_digest(body),
        transfer_id=parsed.transfer_id,
        withdrawn_at=withdrawn_at,
        reason=reason,
        kid=signer.kid,
    )
    return sign_document("withdrawal", notice.wire(), signer)


def verify_withdrawal(envelope: Any, letter: Mapping[str, Any], keys: KeyResolver) -> Withdrawal:
    """The withdrawal, when the issuer of ``letter`` signed it for exactly that letter."""
    notice, key = _open(envelope, "withdrawal", keys, "withdrawnAt", Withdrawal)
    letter_body = _letter_body(letter)
    issuer = letter_body.get("issuer")
    issuer_hub = issuer.get("hubId") if isinstance(issuer, Mapping) else None
    if notice.letter_digest != document_digest(letter_body) or hub_of_kid(key.kid) != issuer_hub:
        raise LetterError(
            problems.WITHDRAWAL_MISMATCH,
            "the withdrawal does not concern this letter, or was not signed by its issuer",
            "该撤回通知与此介绍信不对应，或并非由开具枢纽签发",
        )
    return notice
