"""What travels beside a signed letter, receipt or withdrawal (``spec/federation.md`` §3.6
Cargo): the transfer and member records a peer sends with them. The signature covers only the
letter, so each record is checked against the standard (no unknown field, valid codes) and must
say exactly what the signed letter states; anything else is refused with a 422 problem that
names the field (``errors[].pointer`` into the request body).
"""

from __future__ import annotations

from typing import Any

from tongxin.federation import Letter, LetterError, citizen_id_hmac
from tongxin.schemas import Issue, Severity, problems

from ._errors import issue_to_error
from ._hubrules import HUB_RULES
from ._writes import check

__all__ = ["checked_member", "checked_transfer"]


def _refused(pointer: str, en: str, zh: str, *, invalid: bool = False) -> LetterError:
    """``cargo-invalid`` (schema, rule SCH-001) or ``cargo-mismatch`` (hub rule TRF-103)."""
    if invalid:
        issue = Issue("SCH-001", Severity.ERROR, pointer, zh, en)
    else:
        field = pointer.rsplit("/", 1)[-1]
        issue = HUB_RULES["TRF-103"].issue(pointer, field=field, label=_ZH.get(field, "字段"))
    return LetterError(
        problems.CARGO_INVALID if invalid else problems.CARGO_MISMATCH,
        f"the record sent with the signed document is refused: {en} (at {pointer})",
        f"随签名文书送达的记录被拒绝：{zh}",
        issues=[issue],
    )


def _valid(collection: str, item: Any, where: str) -> dict[str, Any]:
    """The record of ``item`` (``{"version", "record"}``) when it meets the standard."""
    record = item.get("record") if isinstance(item, dict) else None
    version = item.get("version") if isinstance(item, dict) else None
    if not isinstance(record, dict) or not isinstance(version, int) or version < 1:
        raise _refused(where, "no {version, record} item", "缺少版本号与记录", invalid=True)
    if record.get("version") != version:
        raise _refused(
            f"{where}/record/version", "the record's version differs", "记录的版本号不一致"
        )
    for issue in check(collection, record):
        if issue.severity is Severity.ERROR:
            detail = Issue(
                issue.rule,
                issue.severity,
                f"{where}/record{issue.path}",
                issue.message_zh,
                issue.message_en,
            )
            raise LetterError(
                problems.CARGO_INVALID,
                f"the record sent with the signed document does not meet the standard: "
                f"{issue.message_en} (at {detail.path})",
                f"随签名文书送达的记录不符合标准：{issue.message_zh}",
                errors=[issue_to_error(detail)],
            )
    return record


#: Fields the standard lets a record omit, with the value omitting them means.
_DEFAULTS = {"validDays": 90}


def _same(record: dict[str, Any], where: str, field: str, expected: Any) -> None:
    if record.get(field, _DEFAULTS.get(field)) != expected:
        raise _refused(
            f"{where}/record/{field}",
            f"{field} differs from the signed letter",
            f"{_ZH.get(field, '该字段')}与签名介绍信不一致",
        )


_ZH = {
    "version": "版本号",
    "id": "标识",
    "name": "姓名",
    "gender": "性别",
    "birthDate": "出生日期",
    "category": "党员类别",
    "joinedDate": "入党日期",
    "fullMembershipDate": "转正日期",
    "organisationId": "所在党组织",
    "citizenId": "公民身份号码",
    "memberId": "党员",
    "fromOrganisationId": "转出党组织",
    "toOrganisationId": "转入党组织",
    "reason": "转接原因",
    "duesPaidUntil": "党费交至",
    "issuedDate": "开具日期",
    "validDays": "有效期",
    "letterNumber": "介绍信编号",
    "state": "状态",
}


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def checked_member(
    letter: Letter, item: Any, organisation_id: str, where: str = "/member", *, exact: bool = True
) -> dict[str, Any]:
    """The member record sent with ``letter`` (or with its receipt), checked: valid, and the
    letter's member in ``organisation_id`` (the sending organisation with the letter, the
    receiving one with an accepting receipt). Not ``exact``: only valid and the letter's member
    id (a receipt sent after the receiving hub, the owner by then, edited the record). Raises
    :class:`LetterError` (422)."""
    record = _valid("members", item, where)
    if not exact:
        _same(record, where, "id", letter.member.id)
        return record
    m = letter.member
    expected = {
        "id": m.id,
        "name": m.name,
        "gender": m.gender,
        "birthDate": _iso(m.birth_date),
        "category": m.category,
        "joinedDate": _iso(m.joined_date),
        "fullMembershipDate": _iso(m.full_membership_date),
        "organisationId": organisation_id,
    }
    for field, value in expected.items():
        _same(record, where, field, value)
    _citizen_id_agrees(letter, record, where)
    return record


def _citizen_id_agrees(letter: Letter, record: dict[str, Any], where: str) -> None:
    masked, check_value = letter.member.citizen_id_masked, letter.member.citizen_id_check
    cid = record.get("citizenId")

    def agrees(c: str) -> bool:
        return (
            masked is not None
            and c.upper()[-4:] == masked[-4:]
            and (check_value is None or citizen_id_hmac(c, letter.letter_number) == check_value)
        )

    if (cid is None) != (masked is None) or (isinstance(cid, str) and not agrees(cid)):
        raise _refused(
            f"{where}/record/citizenId",
            "citizenId does not agree with the letter's masked digits and check",
            "公民身份号码与介绍信所载尾号或校验值不符",
        )


def checked_transfer(
    letter: Letter, item: Any, state: str, where: str = "/transfer"
) -> dict[str, Any]:
    """The sender's transfer record sent with ``letter`` or its withdrawal, checked: valid, the
    letter's transfer, in ``state`` (``issued`` with the letter, ``withdrawn`` with a
    withdrawal, the decision in the answer to a receipt). Raises :class:`LetterError` (422)."""
    record = _valid("transfers", item, where)
    expected = {
        "id": letter.transfer_id,
        "memberId": letter.member.id,
        "fromOrganisationId": letter.from_.organisation_id,
        "toOrganisationId": letter.to.organisation_id,
        "reason": letter.reason,
        "duesPaidUntil": letter.dues_paid_until,
        "issuedDate": _iso(letter.issued_date),
        "validDays": letter.valid_days,
        "state": state,
    }
    for field, value in expected.items():
        _same(record, where, field, value)
    number = record.get("letterNumber") or record.get("id")
    if number != letter.letter_number:
        _same(record, where, "letterNumber", letter.letter_number)
    return record
