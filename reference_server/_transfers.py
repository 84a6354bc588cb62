"""Electronic transfers between hubs (``spec/federation.md`` §3, §3.5): the sending hub issues a
signed letter and delivers it to the receiving hub; the receiving hub accepts or rejects it,
taking ownership of the member record in the same transaction that stores its signed receipt,
and sends the receipt back; the sending hub then keeps the receipt and a read-only replica.

Both sides keep the letter, the state and every step in ``transfer_letters``; every step is
idempotent (a repeated message or request answers as the first time).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import orjson
from sqlalchemy import Connection, insert, select, update

from tongxin.federation import (
    CHINA,
    Change,
    Decision,
    Expire,
    FederationError,
    Issue,
    Letter,
    LetterError,
    Receipt,
    ReceiptArrived,
    SigningAuth,
    Step,
    TransferState,
    TransferStatus,
    advance,
    china_today,
    decide,
    document_digest,
    from_problem,
    issue_letter,
    make_receipt,
    verify_letter,
    verify_receipt,
)
from tongxin.schemas import Member, Transfer

from ._errors import Conflict, NotFound
from ._federation import (
    DbNonceCache,
    Peer,
    PeerResolver,
    _current,
    _store,
    get_peer,
    hub_keys,
)
from ._hub import Hub
from ._tables import audit, hub_state, records, transfer_letters
from ._writes import _digest

__all__ = [
    "decide_transfer",
    "issue_transfer",
    "plan_transfer",
    "read_letter",
    "read_status",
    "receive_letter",
    "receive_receipt",
]

log = logging.getLogger("tongxin.server")
T = transfer_letters.c


def _now() -> datetime:
    return datetime.now(UTC)


def _loads(value: str | bytes) -> Any:
    return orjson.loads(value)


def _status(row: Any) -> TransferStatus:
    letter = _loads(row.letter)["letter"]
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


def status_json(row: Any) -> dict[str, Any]:
    status = _status(row)
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
        "delivered": bool(row.delivered),
        "lastError": row.last_error,
    }


def _row(conn: Connection, transfer_id: str) -> Any:
    return conn.execute(select(transfer_letters).where(T.transfer_id == transfer_id)).first()


def _required(hub: Hub, transfer_id: str) -> Any:
    with hub.db.read() as conn:
        row = _row(conn, transfer_id)
    if row is None:
        raise NotFound(
            f"no electronic letter for transfer {transfer_id} on this hub",
            f"本枢纽没有转接 {transfer_id} 的电子介绍信",
            code="letter-unknown",
        )
    return row


def _next_seq(conn: Connection) -> int:
    seq: int = conn.execute(
        update(hub_state)
        .where(hub_state.c.id == 1)
        .values(last_seq=hub_state.c.last_seq + 1)
        .returning(hub_state.c.last_seq)
    ).scalar_one()
    return seq


def _put(hub: Hub, conn: Connection, change: Change, action: str) -> None:
    """Write ``change`` (any owner) at a new feed sequence, with an audit entry."""
    _, old = _current(hub, conn, change)
    _store(hub, conn, change, old, _next_seq(conn))
    if change.record is not None and change.owner == hub.hub_id:
        conn.execute(
            update(records)
            .where(records.c.collection == change.type, records.c.id == change.id)
            .values(digest=_digest(dict(change.record), {}))
        )
    conn.execute(
        insert(audit).values(
            at=_now(),
            token_id=None,
            action=action,
            collection=change.type,
            record_id=change.id,
            before_version=None if old is None else old.version,
            after_version=change.version,
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
    if row.sealed:
        opened = hub.cipher.open(rid, row.sealed)
        opened.pop("$hashed", None)
        record.update(opened)
    return row, record


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
    with hub.db.read() as conn:
        row, _ = _record(hub, conn, "members", str(body.get("memberId")))
    if row is not None and row.owner != hub.hub_id:
        raise Conflict(
            f"member {body.get('memberId')} is owned by {row.owner}: only its owner issues letters",
            f"党员 {body.get('memberId')} 归 {row.owner} 所有，只有所属枢纽可开具介绍信",
            code="replica-read-only",
            extra={"owner": row.owner},
        )
    return peer


def _client(hub: Hub, peer: Peer) -> httpx.Client:
    auth = SigningAuth(
        hub_keys(hub).signer(),
        verify_with=PeerResolver(hub, only=peer.hub_id),
        nonces=DbNonceCache(hub),
    )
    return httpx.Client(auth=auth, timeout=30)


def _post(
    hub: Hub, peer: Peer, path: str, body: dict[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """POST a signed message to a peer: (response body, None) or (None, the error)."""
    try:
        with _client(hub, peer) as client:
            response = client.post(
                peer.url + path,
                content=orjson.dumps(body),
                headers={"content-type": "application/json"},
            )
    except FederationError as error:
        return None, f"response {error.code}: {error.detail_en}"
    except httpx.HTTPError as error:
        return None, f"unreachable: {error}"
    if response.status_code != 200:
        try:
            problem = from_problem(response.json())
            return None, f"{response.status_code} {problem.code}: {problem.detail_en}"
        except (ValueError, TypeError, AttributeError):
            return None, f"{response.status_code} {response.reason_phrase}"
    answer: dict[str, Any] = response.json()
    return answer, None


def issue_transfer(hub: Hub, peer: Peer, transfer_id: str) -> dict[str, Any]:
    """Issue (once) and deliver (until it arrives) the letter of a stored transfer record."""
    with hub.db.write() as conn:
        row = _row(conn, transfer_id)
        if row is None:
            trow, transfer = _record(hub, conn, "transfers", transfer_id)
            mrow, member = _record(hub, conn, "members", transfer["memberId"])
            assert trow is not None  # the write checked the references
            assert mrow is not None
            stamp = _now().astimezone(CHINA).replace(microsecond=0)
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
            status = advance(None, Issue(letter, digest)).status
            now = _now()
            conn.execute(
                insert(transfer_letters).values(
                    transfer_id=transfer_id,
                    role="sender",
                    peer_hub=peer.hub_id,
                    member_id=transfer["memberId"],
                    letter=orjson.dumps(envelope).decode(),
                    letter_digest=digest,
                    state=status.state.value,
                    history=_history(status),
                    member_sealed=hub.cipher.seal(transfer_id, member),
                    member_version=mrow.version,
                    created_at=now,
                    updated_at=now,
                )
            )
            row = _row(conn, transfer_id)
    if not row.delivered:
        with hub.db.read() as conn:
            trow, transfer = _record(hub, conn, "transfers", transfer_id)
        member = hub.cipher.open(transfer_id, row.member_sealed)
        body = {
            "letter": _loads(row.letter),
            "transfer": {"version": trow.version, "record": transfer},
            "member": {"version": row.member_version, "record": member},
        }
        _, error = _post(hub, peer, "/v1/federation/letters", body)
        with hub.db.write() as conn:
            conn.execute(
                update(transfer_letters)
                .where(T.transfer_id == transfer_id)
                .values(delivered=error is None, last_error=error, updated_at=_now())
            )
            row = _row(conn, transfer_id)
    return status_json(row)


def receive_receipt(hub: Hub, peer: Peer, body: Any) -> dict[str, Any]:
    """The receiving hub's receipt: record it; on acceptance the member becomes a replica."""
    transfer_id = str((body or {}).get("receipt", {}).get("receipt", {}).get("transferId", ""))
    row = _required(hub, transfer_id)
    if row.role != "sender" or row.peer_hub != peer.hub_id:
        raise LetterError(
            "receipt-mismatch",
            "this hub did not send that letter to the hub that signed the receipt",
            "本枢纽并未向签发回执的枢纽发出该介绍信",
        )
    envelope = body["receipt"]
    receipt = verify_receipt(envelope, _loads(row.letter), PeerResolver(hub))
    digest = document_digest(envelope["receipt"])
    with hub.db.write() as conn:
        row = _row(conn, transfer_id)
        outcome = advance(_status(row), ReceiptArrived(receipt, digest))
        if outcome.changed:
            conn.execute(
                update(transfer_letters)
                .where(T.transfer_id == transfer_id)
                .values(
                    state=outcome.status.state.value,
                    history=_history(outcome.status),
                    receipt=orjson.dumps(envelope).decode(),
                    updated_at=_now(),
                )
            )
            if receipt.decision == "accepted":
                member = hub.cipher.open(transfer_id, row.member_sealed)
                member["organisationId"] = receipt.receiver.organisation_id
                change = Change(
                    "members", row.member_id, row.member_version + 1, peer.hub_id, False, member
                )
                _put(hub, conn, change, "transfer")
            trow, transfer = _record(hub, conn, "transfers", transfer_id)
            if trow is not None and trow.owner == hub.hub_id and transfer:
                transfer["state"] = receipt.decision
                change = Change(
                    "transfers", transfer_id, trow.version + 1, hub.hub_id, False, transfer
                )
                _put(hub, conn, change, "replace")
        row = _row(conn, transfer_id)
        trow, transfer = _record(hub, conn, "transfers", transfer_id)
    out = status_json(row)
    if trow is not None:
        out["transfer"] = {"version": trow.version, "record": transfer}
    return out


# -- receiving hub ----------------------------------------------------------------------------
def receive_letter(hub: Hub, peer: Peer, body: Any) -> dict[str, Any]:
    """A letter delivered by ``peer``: verified, unexpired, for this hub; stored once."""
    if not isinstance(body, dict) or not isinstance(body.get("letter"), dict):
        raise LetterError("letter-malformed", "the body has no letter", "正文中没有介绍信")
    envelope = body["letter"]
    letter = verify_letter(envelope, PeerResolver(hub), today=china_today())
    if letter.from_.hub_id != peer.hub_id or letter.to.hub_id != hub.hub_id:
        raise LetterError(
            "letter-misdirected",
            f"the letter goes from {letter.from_.hub_id} to {letter.to.hub_id}, but was sent "
            f"by {peer.hub_id} to {hub.hub_id}",
            f"介绍信由 {letter.from_.hub_id} 开往 {letter.to.hub_id}，却由 {peer.hub_id} 送达 "
            f"{hub.hub_id}",
        )
    member = (body.get("member") or {}).get("record") or {}
    version = int((body.get("member") or {}).get("version") or 0)
    if member.get("id") != letter.member.id or version < 1:
        raise LetterError(
            "letter-malformed",
            "the member record sent with the letter is not the letter's member",
            "随介绍信送达的党员记录与介绍信不符",
        )
    digest = document_digest(envelope["letter"])
    with hub.db.write() as conn:
        org, _ = _record(hub, conn, "organisations", letter.to.organisation_id)
        if org is None or org.deleted or org.owner != hub.hub_id:
            raise LetterError(
                "organisation-unknown",
                f"organisation {letter.to.organisation_id} is not kept by this hub",
                f"本枢纽没有党组织 {letter.to.organisation_id}",
            )
        row = _row(conn, letter.transfer_id)
        outcome = advance(None if row is None else _status(row), Issue(letter, digest))
        if row is None:
            now = _now()
            conn.execute(
                insert(transfer_letters).values(
                    transfer_id=letter.transfer_id,
                    role="receiver",
                    peer_hub=peer.hub_id,
                    member_id=letter.member.id,
                    letter=orjson.dumps(envelope).decode(),
                    letter_digest=digest,
                    state=outcome.status.state.value,
                    history=_history(outcome.status),
                    member_sealed=hub.cipher.seal(letter.transfer_id, member),
                    member_version=version,
                    created_at=now,
                    updated_at=now,
                )
            )
        _replicate(hub, conn, peer, body.get("transfer"))
        row = _row(conn, letter.transfer_id)
    return status_json(row)


def _replicate(hub: Hub, conn: Connection, peer: Peer, item: Any) -> None:
    """The sender's transfer record, kept as a read-only replica (§4.3 applies)."""
    if not isinstance(item, dict) or not isinstance(item.get("record"), dict):
        return
    record = item["record"]
    change = Change(
        "transfers", str(record.get("id")), int(item["version"]), peer.hub_id, False, record
    )
    current, _ = _current(hub, conn, change)
    verdict = decide(
        change, current, local_hub=hub.hub_id, may_speak_for=lambda o: o == peer.hub_id
    )
    if verdict is Decision.APPLY:
        _put(hub, conn, change, "replicate")


def decide_transfer(
    hub: Hub, transfer_id: str, decision: Literal["accepted", "rejected"], reason: str | None
) -> dict[str, Any]:
    """Accept or reject a received letter (once), then send the receipt (until it arrives)."""
    row = _required(hub, transfer_id)
    if row.role != "receiver":
        raise Conflict(
            "only the receiving hub accepts or rejects a letter",
            "只有转入枢纽可以接收或退回介绍信",
            code="not-receiving-hub",
        )
    if row.receipt is None:
        envelope = _loads(row.letter)
        receipt = make_receipt(
            envelope,
            decision,
            hub_keys(hub).signer(),
            decided_at=_now().astimezone(CHINA).replace(microsecond=0),
            reason=reason,
        )
        parsed = Receipt.model_validate(receipt["receipt"])
        digest = document_digest(receipt["receipt"])
        with hub.db.write() as conn:
            row = _row(conn, transfer_id)
            if row.receipt is None:
                status = advance(_status(row), Expire(china_today())).status
                if status.state is not TransferState.ISSUED:
                    _save(conn, transfer_id, status, None)
                outcome = advance(status, ReceiptArrived(parsed, digest))
                _save(conn, transfer_id, outcome.status, receipt)
                if decision == "accepted":
                    member = hub.cipher.open(transfer_id, row.member_sealed)
                    member["organisationId"] = _loads(row.letter)["letter"]["to"]["organisationId"]
                    change = Change(
                        "members", row.member_id, row.member_version + 1, hub.hub_id, False, member
                    )
                    _put(hub, conn, change, "transfer")
            row = _row(conn, transfer_id)
    if _loads(row.receipt)["receipt"]["decision"] != decision:
        raise Conflict(
            f"the transfer was already {row.state}",
            f"该转接已为 {row.state} 状态",
            code="transfer-final",
            extra={"state": row.state},
        )
    if not row.delivered:
        peer = get_peer(hub, row.peer_hub)
        error: str | None = f"{row.peer_hub} is no longer a peer"
        answer = None
        if peer is not None:
            answer, error = _post(
                hub, peer, "/v1/federation/receipts", {"receipt": _loads(row.receipt)}
            )
        with hub.db.write() as conn:
            if answer is not None and peer is not None:
                _replicate(hub, conn, peer, answer.get("transfer"))
            conn.execute(
                update(transfer_letters)
                .where(T.transfer_id == transfer_id)
                .values(delivered=error is None, last_error=error, updated_at=_now())
            )
            row = _row(conn, transfer_id)
    return status_json(row)


def _save(
    conn: Connection, transfer_id: str, status: TransferStatus, receipt: dict[str, Any] | None
) -> None:
    values: dict[str, Any] = {
        "state": status.state.value,
        "history": _history(status),
        "updated_at": _now(),
    }
    if receipt is not None:
        values["receipt"] = orjson.dumps(receipt).decode()
    conn.execute(update(transfer_letters).where(T.transfer_id == transfer_id).values(**values))


# -- both sides -------------------------------------------------------------------------------
def read_status(hub: Hub, transfer_id: str) -> dict[str, Any]:
    """State and whole history; an issued letter past its validity is recorded as expired."""
    row = _required(hub, transfer_id)
    outcome = advance(_status(row), Expire(china_today()))
    if outcome.changed:
        with hub.db.write() as conn:
            _save(conn, transfer_id, outcome.status, None)
            row = _row(conn, transfer_id)
    return status_json(row)


def read_letter(hub: Hub, transfer_id: str) -> bytes:
    """The signed letter envelope as stored (byte-for-byte the document that was signed)."""
    letter: str = _required(hub, transfer_id).letter
    return letter.encode()
