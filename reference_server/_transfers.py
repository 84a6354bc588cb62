"""Electronic transfers between hubs (``spec/federation.md`` §3, §3.5): the sending hub issues a
signed letter and delivers it to the receiving hub; the receiving hub accepts or rejects it,
taking ownership of the member record in the same transaction that stores its signed receipt,
and sends the receipt back; the sending hub then keeps the receipt and a read-only replica.

Both sides keep the letter, the state and every step in ``transfer_letters``; every step is
idempotent (a repeated message or request answers as the first time).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, insert, select, update

from tongxin.federation import (
    CHINA,
    Change,
    Decision,
    Entry,
    Expire,
    Letter,
    LetterError,
    LetterIssued,
    Receipt,
    ReceiptArrived,
    Step,
    TransferState,
    TransferStatus,
    TransitionError,
    Withdrawal,
    WithdrawalArrived,
    advance,
    china_today,
    decide,
    document_digest,
    issue_letter,
    make_receipt,
    make_withdrawal,
    verify_letter,
    verify_receipt,
    verify_withdrawal,
)
from tongxin.schemas import Member, Transfer, problems

from ._cargo import checked_member, checked_transfer
from ._delivery import DeliveryError, post_signed
from ._errors import Conflict, NotFound, Unprocessable
from ._hub import Hub, now_stamp
from ._hubrules import HUB_RULES
from ._letters_at_rest import open_letter, seal_letter
from ._peers import Peer, PeerResolver, get_peer, hub_keys
from ._policy import sees
from ._security import NOWHERE, Principal, org_path
from ._store import Put, content_digest, open_sealed, replica_values, stored_entry, write_records
from ._tables import audit, org_tree, records, transfer_letters

__all__ = [
    "Actor",
    "decide_transfer",
    "issue_transfer",
    "plan_transfer",
    "read_letter",
    "read_status",
    "receive_letter",
    "receive_receipt",
    "receive_withdrawal",
    "recent_transfer_ids",
    "send_letter",
    "send_receipt",
    "send_withdrawal",
    "utc_now",
    "withdraw_transfer",
]

log = logging.getLogger("tongxin.server")
T = transfer_letters.c
#: Letters read at a time while looking for those a caller may see.
_PAGE = 500
#: Longest wait between two delivery attempts of one message (seconds).
_BACKOFF_CAP = 3600


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused a transfer step, as its audit rows name it: a token, or a peer hub whose
    signed message arrived (``request_id`` ``peer:<hubId>``)."""

    token_id: str | None = None
    request_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(token_id=principal.token_id)

    @classmethod
    def peer(cls, hub_id: str) -> Actor:
        return cls(request_id=f"peer:{hub_id}")


def _loads(value: str | bytes) -> Any:
    return orjson.loads(value)


def _letter_text(hub: Hub, row: Any) -> str:
    """The stored letter envelope (JSON text, byte for byte as signed), opened."""
    return open_letter(hub.cipher, row.transfer_id, row.letter)


def _envelope(hub: Hub, row: Any) -> dict[str, Any]:
    envelope: dict[str, Any] = _loads(_letter_text(hub, row))
    return envelope


def _status(hub: Hub, row: Any) -> TransferStatus:
    letter = _envelope(hub, row)["letter"]
    issued = datetime.fromisoformat(letter["issuedDate"]).date()
    return TransferStatus(
        row.transfer_id,
        letter["letterNumber"],
        row.letter_digest,
        issued + timedelta(days=int(letter["validDays"])),
        TransferState(row.state),
        tuple(Step(TransferState(s["state"]), s["message"], s["at"]) for s in _loads(row.history)),
    )


def _history(status: TransferStatus) -> str:
    steps = [{"state": s.state.value, "message": s.message, "at": s.at} for s in status.history]
    return orjson.dumps(steps).decode()


def status_json(hub: Hub, row: Any) -> dict[str, Any]:
    status = _status(hub, row)
    return {
        "id": row.transfer_id,
        "role": row.role,
        "peerHub": row.peer_hub,
        "memberId": row.member_id,
        "letterNumber": status.letter_number,
        "letterDigest": row.letter_digest,
        "expiresOn": status.expires_on.isoformat(),
        "state": row.state,
        "history": _loads(row.history),
        "receipt": None if row.receipt is None else _loads(row.receipt),
        "withdrawal": None if row.withdrawal is None else _loads(row.withdrawal),
        "delivered": bool(row.delivered),
        "delivery": _delivery(row),
        "refused": None if row.refused is None else _loads(row.refused),
        "lastError": row.last_error,
        "attempts": row.attempts,
        "nextAttemptAt": None if row.next_attempt_at is None else _aware(row.next_attempt_at),
    }


def _delivery(row: Any) -> str:
    """``delivered``, ``pending`` (retried with backoff) or ``refused`` (the peer refused the
    message for good: not retried; ``refused`` holds its problem)."""
    if row.delivered:
        return "delivered"
    return "pending" if row.refused is None else "refused"


def _row(conn: Connection, transfer_id: str) -> Any:
    return conn.execute(select(transfer_letters).where(T.transfer_id == transfer_id)).first()


_ONLY = {
    "sender": ("only the sending hub withdraws a letter", "只有转出枢纽可以撤回介绍信"),
    "receiver": (
        "only the receiving hub accepts or rejects a letter",
        "只有转入枢纽可以接收或退回介绍信",
    ),
}


def _side_org(hub: Hub, row: Any) -> str:
    """The transfer's organisation on this hub: the sending one here on the sending hub."""
    letter = _envelope(hub, row)["letter"]
    return str(letter["from" if row.role == "sender" else "to"]["organisationId"])


def recent_transfer_ids(hub: Hub, principal: Principal, limit: int) -> list[str]:
    """The ``limit`` most recently changed transfers of this hub that ``principal`` may see.
    A caller limited to a subtree gets its own even when the hub's newest letters are all
    elsewhere: the letters are read newest first, a page at a time, until enough are found."""
    query = select(T.transfer_id, T.role, T.letter).order_by(T.updated_at.desc(), T.transfer_id)
    found: list[str] = []
    with hub.db.read() as conn:
        if not principal.restricted:
            limited = query.with_only_columns(T.transfer_id).limit(limit)
            return [str(i) for i in conn.execute(limited).scalars()]
        inside = set(
            conn.execute(
                select(org_tree.c.id).where(
                    org_tree.c.path.startswith(principal.subtree or NOWHERE, autoescape=True)
                )
            ).scalars()
        )
        for start in count(0, _PAGE):
            rows = conn.execute(query.limit(_PAGE).offset(start)).all()
            for row in rows:
                if _side_org(hub, row) in inside:
                    found.append(str(row.transfer_id))
                    if len(found) >= limit:
                        return found
            if len(rows) < _PAGE:
                break
    return found


def _required(
    hub: Hub, transfer_id: str, role: str | None = None, principal: Principal | None = None
) -> Any:
    """The transfer's row on this hub (404 ``letter-unknown``, also when ``principal`` may not
    see it), in ``role`` when given (else 409 ``not-sending-hub`` / ``not-receiving-hub``)."""
    with hub.db.read() as conn:
        row = _row(conn, transfer_id)
        if row is not None and principal is not None and principal.restricted:
            row = row if sees(principal, org_path(conn, _side_org(hub, row))) else None
    if row is None:
        raise NotFound(
            problems.LETTER_UNKNOWN,
            f"no electronic letter for transfer {transfer_id} on this hub",
            f"本枢纽没有转接 {transfer_id} 的电子介绍信",
        )
    if role is not None and row.role != role:
        en, zh = _ONLY[role]
        code = problems.NOT_SENDING_HUB if role == "sender" else problems.NOT_RECEIVING_HUB
        raise Conflict(code, en, zh)
    return row


def _current(hub: Hub, conn: Connection, change: Change) -> Entry | None:
    found = stored_entry(conn, hub.cipher, change.type, change.id)
    return None if found is None else found[0]


def _put(
    hub: Hub,
    conn: Connection,
    change: Change,
    action: str,
    actor: Actor,
    *,
    citizen_hash: str | None = None,
) -> None:
    """Write ``change`` (any owner) through the record store, with an audit entry naming
    ``actor``; a record this hub owns gets its content digest (and ``citizen_hash``)."""
    found = stored_entry(conn, hub.cipher, change.type, change.id)
    values = replica_values(hub.cipher, change, None if found is None else found[1])
    if change.record is not None and change.owner == hub.hub_id:
        values["digest"] = content_digest(dict(change.record), {})
    values["citizen_hash"] = citizen_hash
    entry = {
        "at": utc_now(),
        "token_id": actor.token_id,
        "action": action,
        "collection": change.type,
        "record_id": change.id,
        "before_version": None if found is None else found[0].version,
        "after_version": change.version,
        "request_id": actor.request_id,
    }
    write_records(conn, [Put(values, found is not None)], [entry])


def _step(conn: Connection, transfer_id: str, action: str, actor: Actor) -> None:
    """The audit entry of a transfer step that writes no record (``letter-issue``,
    ``letter-receive``, ``reject``, ``withdraw``, ``withdrawal``, ``receipt``)."""
    conn.execute(
        insert(audit).values(
            at=utc_now(),
            token_id=actor.token_id,
            action=action,
            collection="transfers",
            record_id=transfer_id,
            request_id=actor.request_id,
        )
    )


def _record(hub: Hub, conn: Connection, collection: str, rid: str) -> tuple[Any, dict[str, Any]]:
    c = records.c
    row = conn.execute(
        select(c.version, c.owner, c.deleted, c.doc, c.sealed).where(
            c.collection == collection, c.id == rid
        )
    ).first()
    if row is None or row.deleted or row.doc is None:
        return row, {}
    record = _loads(row.doc)
    record.update(open_sealed(hub.cipher, rid, row.sealed)[0])
    return row, record


def _stamped(record: dict[str, Any], version: int, at: str | None = None) -> dict[str, Any]:
    """``record`` as written at ``version``: the server fields match the stored row."""
    return {**record, "version": version, "updatedAt": at or now_stamp()[0]}


def _item(hub: Hub, conn: Connection, collection: str, rid: str) -> dict[str, Any] | None:
    """``{"version", "record"}`` of a stored record (all fields), for a peer to replicate."""
    row, record = _record(hub, conn, collection, rid)
    return None if row is None or not record else {"version": row.version, "record": record}


# -- sending hub ------------------------------------------------------------------------------
def plan_transfer(hub: Hub, body: Any) -> Peer | None:
    """The peer a new transfer's letter goes to (None: not an electronic inter-hub transfer).

    The receiving hub is the hub id prefix of ``toOrganisationId``; it must be a direct peer
    (parent, child or sibling) of this hub. The member must be owned here.
    """
    if not isinstance(body, dict) or body.get("state", "issued") != "issued":
        return None
    target = str(body.get("toOrganisationId") or "").split(":", 1)[0]
    if not target or target == hub.hub_id:
        return None
    peer = get_peer(hub, target)
    if peer is None:
        return None
    _check_validity(body)
    with hub.db.read() as conn:
        row, _ = _record(hub, conn, "members", str(body.get("memberId")))
    if row is not None and row.owner != hub.hub_id:
        raise Conflict(
            problems.REPLICA_READ_ONLY,
            f"member {body.get('memberId')} is owned by {row.owner}: only its owner issues letters",
            f"党员 {body.get('memberId')} 归 {row.owner} 所有，只有所属枢纽可开具介绍信",
            owner=row.owner,
        )
    return peer


#: How far ahead of today (China Standard Time) a letter may be dated: clocks and time zones.
_FUTURE_DAYS = 1


def _check_validity(body: dict[str, Any]) -> None:
    """Refuse (422, hub rule TRF-102 at ``/issuedDate``) a letter that would be expired when issued
    or dated beyond tomorrow: the receiving hub would refuse it. Ill-typed values are left to
    the record's validation."""
    try:
        issued = date.fromisoformat(str(body.get("issuedDate")))
        days = int(body.get("validDays", 90))
    except (TypeError, ValueError):
        return
    today = china_today()
    expires = issued + timedelta(days=days)
    if today >= expires:
        code = problems.LETTER_EXPIRED
        en = f"a letter issued {issued} for {days} days expired on {expires}: it cannot be sent"
        zh = f"开具于 {issued}、有效期 {days} 天的介绍信已于 {expires} 失效，无法送出"
    elif issued > today + timedelta(days=_FUTURE_DAYS):
        code = problems.LETTER_FUTURE_DATED
        en = f"a letter cannot be dated {issued}, after today ({today}, China Standard Time)"
        zh = f"介绍信的开具日期 {issued} 晚于今天（北京时间 {today}）"
    else:
        return
    issue = HUB_RULES["TRF-102"].issue("/issuedDate", issued=issued, days=days, today=today)
    raise Unprocessable(code, en, zh, issues=[issue])


def _attempted(conn: Connection, transfer_id: str, error: DeliveryError | None) -> None:
    """Record a delivery attempt: delivered; refused for good by the peer (not retried); or
    the error and when to try again (§3.6 Redelivery)."""
    if error is None:
        values: dict[str, Any] = {
            "delivered": True,
            "last_error": None,
            "attempts": 0,
            "next_attempt_at": None,
            "refused": None,
        }
    elif error.permanent and error.problem is not None:
        refused = {**error.problem.to_problem(), "status": error.status, "at": _aware(utc_now())}
        values = {
            "delivered": False,
            "last_error": str(error),
            "next_attempt_at": None,
            "refused": orjson.dumps(refused).decode(),
        }
    else:
        attempts = int(
            conn.execute(select(T.attempts).where(T.transfer_id == transfer_id)).scalar_one()
        )
        wait = min(_BACKOFF_CAP, 2 ** (attempts + 1))
        values = {
            "delivered": False,
            "last_error": str(error),
            "attempts": attempts + 1,
            "next_attempt_at": utc_now() + timedelta(seconds=wait),
        }
    values["updated_at"] = utc_now()
    conn.execute(update(transfer_letters).where(T.transfer_id == transfer_id).values(**values))


def issue_transfer(hub: Hub, peer: Peer, transfer_id: str, actor: Actor) -> dict[str, Any]:
    """Issue (once) and deliver (until it arrives) the letter of a stored transfer record."""
    with hub.db.write() as conn:
        row = _row(conn, transfer_id)
        if row is None:
            trow, transfer = _record(hub, conn, "transfers", transfer_id)
            mrow, member = _record(hub, conn, "members", transfer["memberId"])
            assert trow is not None  # the write checked the references
            assert mrow is not None
            stamp = utc_now().astimezone(CHINA).replace(microsecond=0)
            envelope = issue_letter(
                Transfer.model_validate(transfer),
                Member.model_validate(member),
                hub_keys(hub).signer(),
                issued_at=stamp,
                from_name=_record(hub, conn, "organisations", transfer["fromOrganisationId"])[
                    1
                ].get("name"),
                to_hub_id=peer.hub_id,
            )
            letter = Letter.model_validate(envelope["letter"])
            digest = document_digest(envelope["letter"])
            status = advance(None, LetterIssued(letter, digest)).status
            now = utc_now()
            conn.execute(
                insert(transfer_letters).values(
                    transfer_id=transfer_id,
                    role="sender",
                    peer_hub=peer.hub_id,
                    member_id=transfer["memberId"],
                    letter=seal_letter(hub.cipher, transfer_id, orjson.dumps(envelope).decode()),
                    letter_digest=digest,
                    state=status.state.value,
                    history=_history(status),
                    member_sealed=hub.cipher.seal(transfer_id, member),
                    member_version=mrow.version,
                    created_at=now,
                    updated_at=now,
                )
            )
            _step(conn, transfer_id, "letter-issue", actor)
            row = _row(conn, transfer_id)
    if not row.delivered and row.refused is None:
        row = send_letter(hub, peer, row)
    return status_json(hub, row)


def send_letter(hub: Hub, peer: Peer, row: Any) -> Any:
    with hub.db.read() as conn:
        trow, transfer = _record(hub, conn, "transfers", row.transfer_id)
    member = hub.cipher.open(row.transfer_id, row.member_sealed)
    body = {
        "letter": _envelope(hub, row),
        "transfer": {"version": trow.version, "record": transfer},
        "member": {"version": row.member_version, "record": member},
    }
    error: DeliveryError | None = None
    try:
        post_signed(hub, peer, "/v1/federation/letters", body)
    except DeliveryError as failure:
        error = failure
    with hub.db.write() as conn:
        if _row(conn, row.transfer_id).withdrawal is None:
            # once a withdrawal is pending, only its own delivery settles the outbox
            _attempted(conn, row.transfer_id, error)
        return _row(conn, row.transfer_id)


def receive_receipt(hub: Hub, peer: Peer, body: Any) -> dict[str, Any]:
    """The receiving hub's receipt: record it; on acceptance the member becomes a replica."""
    envelope = body.get("receipt") if isinstance(body, dict) else None
    inner = envelope.get("receipt") if isinstance(envelope, dict) else None
    transfer_id = inner.get("transferId") if isinstance(inner, dict) else None
    if not isinstance(transfer_id, str) or not transfer_id:
        raise LetterError(problems.RECEIPT_MALFORMED, "the body has no receipt", "正文中没有回执")
    row = _required(hub, transfer_id)
    if row.role != "sender" or row.peer_hub != peer.hub_id:
        raise LetterError(
            problems.RECEIPT_MISMATCH,
            "this hub did not send that letter to the hub that signed the receipt",
            "本枢纽并未向签发回执的枢纽发出该介绍信",
        )
    return _apply_receipt(hub, row, body["receipt"], body.get("member"))


def _apply_receipt(hub: Hub, row: Any, envelope: Any, member_item: Any = None) -> dict[str, Any]:
    """Verify a receipt against the stored letter and apply it (once, §3.6 Receipt). On
    acceptance the member becomes a replica of the record the receiving hub now owns
    (``member_item``, as it sent it, checked: the letter's member as accepted, or a later
    version the receiving hub wrote as its owner)."""
    transfer_id = row.transfer_id
    receipt = verify_receipt(envelope, _envelope(hub, row), PeerResolver(hub))
    digest = document_digest(envelope["receipt"])
    if receipt.decision == "accepted" and member_item is not None:
        letter = Letter.model_validate(_envelope(hub, row)["letter"])
        as_accepted = isinstance(member_item, dict) and member_item.get("version") == (
            row.member_version + 1
        )
        checked_member(letter, member_item, letter.to.organisation_id, exact=as_accepted)
    actor = Actor.peer(row.peer_hub)
    with hub.db.write() as conn:
        row = _row(conn, transfer_id)
        outcome = advance(_status(hub, row), ReceiptArrived(receipt, digest))
        if outcome.changed:
            conn.execute(
                update(transfer_letters)
                .where(T.transfer_id == transfer_id)
                .values(
                    state=outcome.status.state.value,
                    history=_history(outcome.status),
                    receipt=orjson.dumps(envelope).decode(),
                    updated_at=utc_now(),
                )
            )
            # a receipt proves the letter arrived, and answers any pending withdrawal
            _attempted(conn, transfer_id, None)
            _step(conn, transfer_id, "receipt", actor)
            if receipt.decision == "accepted":
                _hand_over(hub, conn, row, receipt, member_item, actor)
            _conclude(hub, conn, transfer_id, receipt.decision, actor)
        row = _row(conn, transfer_id)
        trow, transfer = _record(hub, conn, "transfers", transfer_id)
    out = status_json(hub, row)
    if trow is not None:
        out["transfer"] = {"version": trow.version, "record": transfer}
    return out


def _hand_over(
    hub: Hub, conn: Connection, row: Any, receipt: Receipt, item: Any, actor: Actor
) -> None:
    """The member record becomes a replica owned by the receiving hub: the record it sent
    with its receipt (checked by the caller), else (an older peer) the snapshot at the next
    version."""
    version = row.member_version + 1
    record = item.get("record") if isinstance(item, dict) else None
    if isinstance(record, dict) and record.get("id") == row.member_id:
        version = max(version, int(item.get("version") or 0))
    else:
        snapshot = hub.cipher.open(row.transfer_id, row.member_sealed)
        snapshot["organisationId"] = receipt.receiver.organisation_id
        record = _stamped(snapshot, version, receipt.decided_at.isoformat())
    change = Change("members", row.member_id, version, row.peer_hub, False, record)
    current = _current(hub, conn, change)
    if current is None or current.owner == hub.hub_id or current.version < version:
        _put(hub, conn, change, "transfer", actor)


def _conclude(
    hub: Hub, conn: Connection, transfer_id: str, state: str, actor: Actor, at: str | None = None
) -> None:
    """Move the sender's own transfer record to its final ``state`` at the next version."""
    trow, transfer = _record(hub, conn, "transfers", transfer_id)
    if trow is not None and trow.owner == hub.hub_id and transfer and transfer["state"] != state:
        record = _stamped({**transfer, "state": state}, trow.version + 1, at)
        change = Change("transfers", transfer_id, trow.version + 1, hub.hub_id, False, record)
        _put(hub, conn, change, "replace", actor)


def withdraw_transfer(
    hub: Hub, transfer_id: str, reason: str | None, principal: Principal
) -> dict[str, Any]:
    """Withdraw an issued letter (sending hub): sign the withdrawal once, then deliver it until
    the receiving hub answers. The receiving hub decides the order (§3.5 rule 6): the transfer
    ends ``withdrawn``, or in the decision it had already taken (its receipt is applied)."""
    row = _required(hub, transfer_id, "sender", principal)
    if row.withdrawal is None:
        if row.state not in (TransferState.ISSUED.value, TransferState.EXPIRED.value):
            raise _final(row)
        envelope = make_withdrawal(
            _envelope(hub, row),
            hub_keys(hub).signer(),
            withdrawn_at=utc_now().astimezone(CHINA).replace(microsecond=0),
            reason=reason,
        )
        with hub.db.write() as conn:
            if _row(conn, transfer_id).withdrawal is None:
                conn.execute(
                    update(transfer_letters)
                    .where(T.transfer_id == transfer_id)
                    .values(
                        withdrawal=orjson.dumps(envelope).decode(),
                        delivered=False,
                        attempts=0,
                        next_attempt_at=None,
                        refused=None,
                        updated_at=utc_now(),
                    )
                )
                _step(conn, transfer_id, "withdraw", Actor.of(principal))
            row = _row(conn, transfer_id)
    if not row.delivered:
        row = send_withdrawal(hub, row)
    if row.state not in (
        TransferState.WITHDRAWN.value,
        TransferState.ISSUED.value,
        TransferState.EXPIRED.value,
    ):
        raise _final(row)
    return status_json(hub, row)


def _final(row: Any) -> Conflict:
    return Conflict(
        problems.TRANSFER_FINAL,
        f"the transfer was already {row.state}",
        f"该转接已为 {row.state} 状态",
        state=row.state,
    )


def send_withdrawal(hub: Hub, row: Any) -> Any:
    """Deliver the withdrawal with the letter (so it also stops a letter still in flight) and
    the transfer record as it will be once withdrawn."""
    transfer_id = row.transfer_id
    peer = get_peer(hub, row.peer_hub)
    with hub.db.read() as conn:
        trow, transfer = _record(hub, conn, "transfers", transfer_id)
    body: dict[str, Any] = {"withdrawal": _loads(row.withdrawal), "letter": _envelope(hub, row)}
    withdrawn_at = str(body["withdrawal"]["withdrawal"]["withdrawnAt"])
    if trow is not None and transfer and trow.owner == hub.hub_id:
        # the record as _conclude will write it: the same bytes whichever attempt arrives
        record = {**transfer, "state": TransferState.WITHDRAWN.value}
        body["transfer"] = {
            "version": trow.version + 1,
            "record": _stamped(record, trow.version + 1, withdrawn_at),
        }
    error: DeliveryError | None = None
    answer: dict[str, Any] | None = None
    try:
        if peer is None:
            raise DeliveryError(f"{row.peer_hub} is no longer a peer")
        answer = post_signed(hub, peer, "/v1/federation/withdrawals", body)
    except DeliveryError as failure:
        problem = failure.problem
        receipt = problem.extra.get("receipt") if problem else None
        if problem is not None and problem.code == problems.TRANSFER_FINAL and receipt:
            member = problem.extra.get("member")
            _apply_receipt(hub, row, receipt, member)  # the receiver decided first
            with hub.db.read() as conn:
                return _row(conn, transfer_id)
        error = failure
    with hub.db.write() as conn:
        if answer is not None:
            notice = Withdrawal.model_validate(body["withdrawal"]["withdrawal"])
            digest = document_digest(body["withdrawal"]["withdrawal"])
            status = _status(hub, _row(conn, transfer_id))
            outcome = advance(status, WithdrawalArrived(notice, digest))
            if outcome.changed:
                _save(conn, transfer_id, outcome.status, None)
                # the transfer ends withdrawn once the receiving hub acknowledged it
                actor = Actor.peer(row.peer_hub)
                _conclude(
                    hub, conn, transfer_id, TransferState.WITHDRAWN.value, actor, withdrawn_at
                )
        _attempted(conn, transfer_id, error)
        return _row(conn, transfer_id)


# -- receiving hub ----------------------------------------------------------------------------
def _verified_letter(hub: Hub, peer: Peer, envelope: Any, today: date | None) -> Letter:
    """A letter sent by its issuer ``peer`` to this hub (§3.3, §3.6 Receive)."""
    if not isinstance(envelope, dict):
        raise LetterError(problems.LETTER_MALFORMED, "the body has no letter", "正文中没有介绍信")
    letter = verify_letter(envelope, PeerResolver(hub), today=today)
    if letter.from_.hub_id != peer.hub_id or letter.to.hub_id != hub.hub_id:
        raise LetterError(
            problems.LETTER_MISDIRECTED,
            f"the letter goes from {letter.from_.hub_id} to {letter.to.hub_id}, but was sent "
            f"by {peer.hub_id} to {hub.hub_id}",
            f"介绍信由 {letter.from_.hub_id} 开往 {letter.to.hub_id}，却由 {peer.hub_id} 送达 "
            f"{hub.hub_id}",
        )
    return letter


def _insert_received(
    hub: Hub,
    conn: Connection,
    peer: Peer,
    envelope: dict[str, Any],
    status: TransferStatus,
    member: dict[str, Any],
    version: int,
) -> None:
    now = utc_now()
    conn.execute(
        insert(transfer_letters).values(
            transfer_id=status.transfer_id,
            role="receiver",
            peer_hub=peer.hub_id,
            member_id=envelope["letter"]["member"]["id"],
            letter=seal_letter(hub.cipher, status.transfer_id, orjson.dumps(envelope).decode()),
            letter_digest=status.letter_digest,
            state=status.state.value,
            history=_history(status),
            member_sealed=hub.cipher.seal(status.transfer_id, member),
            member_version=version,
            created_at=now,
            updated_at=now,
        )
    )


def receive_letter(hub: Hub, peer: Peer, body: Any) -> dict[str, Any]:
    """A letter delivered by ``peer``: verified, unexpired, for this hub; stored once."""
    if not isinstance(body, dict):
        raise LetterError(problems.LETTER_MALFORMED, "the body has no letter", "正文中没有介绍信")
    envelope = body.get("letter")
    letter = _verified_letter(hub, peer, envelope, china_today())
    assert isinstance(envelope, dict)
    # the records beside the letter say exactly what it states (§3.6 Cargo)
    member = checked_member(letter, body.get("member"), letter.from_.organisation_id)
    version = int(body["member"]["version"])
    if body.get("transfer") is not None:
        checked_transfer(letter, body["transfer"], TransferState.ISSUED.value)
    actor = Actor.peer(peer.hub_id)
    digest = document_digest(envelope["letter"])
    with hub.db.write() as conn:
        org, _ = _record(hub, conn, "organisations", letter.to.organisation_id)
        if org is None or org.deleted or org.owner != hub.hub_id:
            raise LetterError(
                problems.ORGANISATION_UNKNOWN,
                f"organisation {letter.to.organisation_id} is not kept by this hub",
                f"本枢纽没有党组织 {letter.to.organisation_id}",
            )
        row = _row(conn, letter.transfer_id)
        outcome = advance(None if row is None else _status(hub, row), LetterIssued(letter, digest))
        if row is None:
            _insert_received(hub, conn, peer, envelope, outcome.status, member, version)
            _step(conn, letter.transfer_id, "letter-receive", actor)
        _replicate(hub, conn, peer, body.get("transfer"), actor)
        row = _row(conn, letter.transfer_id)
    return status_json(hub, row)


def receive_withdrawal(hub: Hub, peer: Peer, body: Any) -> dict[str, Any]:
    """The sender's withdrawal: applied while the transfer is not decided here (§3.5 rule 6);
    else 409 ``transfer-final`` carrying this hub's receipt. A withdrawal that arrives before
    its letter records the letter as withdrawn, so the letter can no longer be accepted."""
    if not isinstance(body, dict) or not isinstance(body.get("withdrawal"), dict):
        raise LetterError(
            problems.WITHDRAWAL_MALFORMED, "the body has no withdrawal", "正文中没有撤回通知"
        )
    envelope = body.get("letter")
    letter = _verified_letter(hub, peer, envelope, None)
    assert isinstance(envelope, dict)
    notice = verify_withdrawal(body["withdrawal"], envelope, PeerResolver(hub))
    if body.get("transfer") is not None:
        checked_transfer(letter, body["transfer"], TransferState.WITHDRAWN.value)
    actor = Actor.peer(peer.hub_id)
    digest = document_digest(body["withdrawal"]["withdrawal"])
    with hub.db.write() as conn:
        row = _row(conn, letter.transfer_id)
        if row is not None and (row.role != "receiver" or row.peer_hub != peer.hub_id):
            raise LetterError(
                problems.WITHDRAWAL_MISMATCH,
                "this hub did not receive that letter from the hub that withdrew it",
                "本枢纽并未从撤回方收到该介绍信",
            )
        status = None if row is None else _status(hub, row)
        if status is None:
            started = advance(None, LetterIssued(letter, document_digest(envelope["letter"])))
            status = started.status
            _insert_received(hub, conn, peer, envelope, status, {}, 0)
            row = _row(conn, letter.transfer_id)
        try:
            outcome = advance(status, WithdrawalArrived(notice, digest))
        except TransitionError as refused:
            if refused.code == problems.TRANSFER_FINAL and row.receipt is not None:
                refused.extra["receipt"] = _loads(row.receipt)
                if row.state == TransferState.ACCEPTED.value:
                    refused.extra["member"] = _item(hub, conn, "members", row.member_id)
            raise
        if outcome.changed:
            _save(conn, letter.transfer_id, outcome.status, None)
            conn.execute(
                update(transfer_letters)
                .where(T.transfer_id == letter.transfer_id)
                .values(withdrawal=orjson.dumps(body["withdrawal"]).decode())
            )
            _step(conn, letter.transfer_id, "withdrawal", actor)
            _replicate(hub, conn, peer, body.get("transfer"), actor)
        row = _row(conn, letter.transfer_id)
    return status_json(hub, row)


def _replicate(hub: Hub, conn: Connection, peer: Peer, item: Any, actor: Actor) -> None:
    """The sender's transfer record (checked by the caller), kept as a read-only replica
    (§4.3 applies)."""
    if not isinstance(item, dict) or not isinstance(item.get("record"), dict):
        return
    record = item["record"]
    change = Change(
        "transfers", str(record.get("id")), int(item["version"]), peer.hub_id, False, record
    )
    current = _current(hub, conn, change)
    verdict = decide(
        change, current, local_hub=hub.hub_id, may_speak_for=lambda o: o == peer.hub_id
    )
    if verdict is Decision.APPLY:
        _put(hub, conn, change, "replicate", actor)


def decide_transfer(
    hub: Hub,
    transfer_id: str,
    decision: Literal["accepted", "rejected"],
    reason: str | None,
    principal: Principal,
) -> dict[str, Any]:
    """Accept or reject a received letter (once), then send the receipt (until it arrives).
    An accept is refused (409 ``duplicate-citizen-id``) while another member here has the
    transferred member's citizen ID."""
    row = _required(hub, transfer_id, "receiver", principal)
    actor = Actor.of(principal)
    if row.receipt is None:
        envelope = _envelope(hub, row)
        receipt = make_receipt(
            envelope,
            decision,
            hub_keys(hub).signer(),
            decided_at=utc_now().astimezone(CHINA).replace(microsecond=0),
            reason=reason,
        )
        parsed = Receipt.model_validate(receipt["receipt"])
        digest = document_digest(receipt["receipt"])
        with hub.db.write() as conn:
            row = _row(conn, transfer_id)
            if row.receipt is None:
                status = advance(_status(hub, row), Expire(china_today())).status
                if status.state is not TransferState.ISSUED:
                    _save(conn, transfer_id, status, None)
                outcome = advance(status, ReceiptArrived(parsed, digest))
                _save(conn, transfer_id, outcome.status, receipt)
                if decision == "accepted":
                    _take_over(hub, conn, row, actor)
                else:
                    _step(conn, transfer_id, "reject", actor)
            row = _row(conn, transfer_id)
    if _loads(row.receipt)["receipt"]["decision"] != decision:
        raise _final(row)
    if not row.delivered:
        row = send_receipt(hub, row)
    return status_json(hub, row)


def _take_over(hub: Hub, conn: Connection, row: Any, actor: Actor) -> None:
    """This hub owns the accepted member from now on, in the receiving organisation, with its
    citizen-ID hash (one person, one member: refused while another member has that ID)."""
    member = hub.cipher.open(row.transfer_id, row.member_sealed)
    member["organisationId"] = _envelope(hub, row)["letter"]["to"]["organisationId"]
    citizen = member.get("citizenId")
    hashed = hub.cipher.citizen_hash(citizen) if isinstance(citizen, str) else None
    if hashed is not None:
        c = records.c
        taken = conn.execute(
            select(c.id).where(
                c.owner == hub.hub_id,
                c.citizen_hash == hashed,
                c.id != row.member_id,
                c.deleted.is_(False),
            )
        ).first()
        if taken is not None:
            raise Conflict(
                problems.DUPLICATE_CITIZEN_ID,
                "another member on this hub has the transferred member's citizen ID: resolve "
                "the duplicate before accepting",
                "本枢纽已有另一名党员使用该转入党员的公民身份号码，请先处理重复记录再接收",
            )
    version = row.member_version + 1
    change = Change("members", row.member_id, version, hub.hub_id, False, _stamped(member, version))
    _put(hub, conn, change, "transfer", actor, citizen_hash=hashed)


def send_receipt(hub: Hub, row: Any) -> Any:
    peer = get_peer(hub, row.peer_hub)
    answer: dict[str, Any] | None = None
    error: DeliveryError | None = None
    try:
        if peer is None:
            raise DeliveryError(f"{row.peer_hub} is no longer a peer")
        body: dict[str, Any] = {"receipt": _loads(row.receipt)}
        if row.state == TransferState.ACCEPTED.value:
            with hub.db.read() as conn:
                body["member"] = _item(hub, conn, "members", row.member_id)
        answer = post_signed(hub, peer, "/v1/federation/receipts", body)
    except DeliveryError as failure:
        error = failure
    item = None if answer is None else answer.get("transfer")
    if item is not None:
        try:  # the sender's transfer record, as the receipt concluded it
            letter = Letter.model_validate(_envelope(hub, row)["letter"])
            checked_transfer(letter, item, row.state)
        except LetterError as refused:
            log.warning("transfer %s: the sender's record is refused: %s", row.transfer_id, refused)
            item = None
    with hub.db.write() as conn:
        if item is not None and peer is not None:
            _replicate(hub, conn, peer, item, Actor.peer(peer.hub_id))
        _attempted(conn, row.transfer_id, error)
        return _row(conn, row.transfer_id)


def _save(
    conn: Connection, transfer_id: str, status: TransferStatus, receipt: dict[str, Any] | None
) -> None:
    values: dict[str, Any] = {
        "state": status.state.value,
        "history": _history(status),
        "updated_at": utc_now(),
    }
    if receipt is not None:
        values["receipt"] = orjson.dumps(receipt).decode()
    conn.execute(update(transfer_letters).where(T.transfer_id == transfer_id).values(**values))


def _aware(stamp: datetime) -> str:
    aware = stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
    return aware.isoformat(timespec="seconds")


# -- both sides -------------------------------------------------------------------------------
def read_status(hub: Hub, transfer_id: str, principal: Principal) -> dict[str, Any]:
    """State and whole history; an issued letter past its validity is recorded as expired."""
    row = _required(hub, transfer_id, None, principal)
    outcome = advance(_status(hub, row), Expire(china_today()))
    if outcome.changed:
        with hub.db.write() as conn:
            _save(conn, transfer_id, outcome.status, None)
            row = _row(conn, transfer_id)
    return status_json(hub, row)


def read_letter(hub: Hub, transfer_id: str, principal: Principal) -> bytes:
    """The signed letter envelope as stored (byte-for-byte the document that was signed)."""
    return _letter_text(hub, _required(hub, transfer_id, None, principal)).encode()
