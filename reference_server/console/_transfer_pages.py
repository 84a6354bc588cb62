"""Transfers in the console: issue a member's letter, see the letters in flight (outgoing and
incoming), accept or reject an incoming one, withdraw an outgoing one. Every step calls the
functions the API routes call (:mod:`tongxin.server._transfers`), so the same rules, signatures,
delivery and audit apply; a letter whose organisation on this hub is outside the signed-in
user's subtree does not exist for these pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import orjson
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tongxin.federation import china_today
from tongxin.server._accounts import Session
from tongxin.server._directory import organisations
from tongxin.server._errors import HubError
from tongxin.server._hub import Hub
from tongxin.server._policy import Act, authorize
from tongxin.server._security import Principal
from tongxin.server._service import create_record
from tongxin.server._transfers import (
    Actor,
    decide_transfer,
    issue_transfer,
    plan_transfer,
    read_letter,
    read_status,
    recent_transfer_ids,
    withdraw_transfer,
)

from ._kit import (
    FormErrors,
    Spec,
    editable,
    errors_of,
    may_write,
    merge_form,
    word,
)
from ._page import HEADERS, checked_form, error_page, field, hub_of, lang_of, render, signed_in

__all__ = ["LETTER_FIELDS", "Letter", "letters", "transfer_pages"]

LETTER_FIELDS = [
    Spec("memberId", "党员", "Member", "hidden"),
    Spec("fromOrganisationId", "转出党组织", "From", "hidden"),
    Spec(
        "toOrganisationId",
        "转入党组织标识",
        "To (organisation id)",
        required=True,
        hint="hub-org-note",
    ),
    Spec("reason", "转接原因", "Reason", "code", "transfer-reason", required=True),
    Spec("duesPaidUntil", "党费交至（如 2026-11）", "Dues paid until (e.g. 2026-11)"),
    Spec("issuedDate", "开具日期", "Issued on", "date", required=True),
    Spec("validDays", "有效天数", "Valid for (days)", "int"),
    Spec("letterNumber", "介绍信编号", "Letter number"),
]
_LISTED = 300


@dataclass(frozen=True, slots=True)
class Letter:
    """An electronic letter as the transfers page shows it."""

    status: dict[str, Any]
    member_name: str
    origin: str
    destination: str

    @property
    def open(self) -> bool:
        return bool(self.status["state"] == "issued")


def letters(hub: Hub, principal: Principal) -> list[Letter]:
    """The letters of this hub the caller may see, most recently changed first (each through
    :func:`read_status`, which also records an issued letter past its validity as expired)."""
    ids = recent_transfer_ids(hub, principal, _LISTED)
    out = []
    for transfer_id in ids:
        try:
            status = read_status(hub, transfer_id, principal)
            envelope = orjson.loads(read_letter(hub, transfer_id, principal))
        except HubError:
            continue  # outside the caller's subtree
        letter = envelope.get("letter", {})
        out.append(
            Letter(
                status,
                str(letter.get("member", {}).get("name", "")),
                str(letter.get("from", {}).get("organisationName") or ""),
                str(letter.get("to", {}).get("organisationName") or ""),
            )
        )
    return out


def issue(hub: Hub, principal: Principal, body: dict[str, Any]) -> str:
    """Store the transfer and, when it goes to a peer hub, issue and deliver its signed letter:
    what ``POST /v1/transfers`` does."""
    authorize(principal, Act.WRITE)
    peer = plan_transfer(hub, body)
    outcome = create_record(hub, principal, "transfers", body)
    if peer is not None and outcome.id is not None:
        issue_transfer(hub, peer, outcome.id, Actor.of(principal))
    return str(outcome.id)


def _file_name(transfer_id: str) -> str:
    """The printed letter's file name (``cd-wuhou_t1.letter.pdf``): letters, digits, ``-_.``."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in transfer_id)
    return f"{safe[:100]}.letter.pdf"


def transfer_pages() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def listing(
        request: Request, session: Session, status: int = 200, problem: str | None = None
    ) -> Response:
        found = await to_thread.run_sync(letters, hub_of(request), session.principal)
        return render(
            request,
            "transfers.html",
            status,
            session=session,
            open_letters=[x for x in found if x.open],
            closed=[x for x in found if not x.open][:50],
            writer=may_write(session),
            problem=problem,
            done=request.query_params.get("done") == "1",
        )

    @router.get("/console/transfers")
    async def transfers(request: Request) -> Response:
        return await listing(request, await signed_in(request))

    @router.get("/console/transfers/{transfer_id}/letter.pdf")
    async def letter_print(request: Request, transfer_id: str) -> Response:
        """The printed letter: the PDF of ``GET /v1/transfers/{id}/letter.pdf``, by the same
        function under the same scope rule (a letter the user may not see is a 404)."""
        session = await signed_in(request)
        # Imported on first use, as by the API: the PDF and font libraries cost no start-up time.
        from tongxin.server._letterpdf import letter_pdf

        try:
            body = await to_thread.run_sync(
                letter_pdf, hub_of(request), transfer_id[:200], session.principal
            )
        except HubError as error:
            if error.status == 404:
                return error_page(request, session, "record-missing", 404)
            return error_page(request, session, error.message(lang_of(request)), error.status)
        headers = {
            **HEADERS,
            "Content-Disposition": f'inline; filename="{_file_name(transfer_id)}"',
        }
        headers.pop("Content-Security-Policy")
        return Response(body, media_type="application/pdf", headers=headers)

    async def letter_form(
        request: Request,
        session: Session,
        member: dict[str, Any],
        values: dict[str, str],
        status: int = 200,
        errors: FormErrors | None = None,
    ) -> Response:
        orgs = await to_thread.run_sync(organisations, hub_of(request), session.principal)
        return render(
            request,
            "record_form.html",
            status,
            session=session,
            specs=LETTER_FIELDS,
            values=values,
            version=None,
            action=request.url.path,
            heading=f"{word(request, 'issue-letter')} · {member.get('name')}",
            errors=errors,
            orgs=orgs,
            sealed={},
            back=f"/console/members/{quote(str(member.get('id')))}",
            reload=None,
        )

    @router.get("/console/members/{member_id}/transfer")
    async def new_letter(request: Request, member_id: str) -> Response:
        session = await signed_in(request)
        found = await editable(request, session, "members", member_id)
        member = found[0]
        values = {
            "memberId": member_id,
            "fromOrganisationId": str(member.get("organisationId")),
            "issuedDate": china_today().isoformat(),
            "validDays": "90",
            "reason": "work-unit-change",
        }
        return await letter_form(request, session, member, values)

    @router.post("/console/members/{member_id}/transfer")
    async def issue_letter(request: Request, member_id: str) -> Response:
        session = await signed_in(request)
        form = await checked_form(request, session)
        hub = hub_of(request)
        member, _ = await editable(request, session, "members", member_id)
        body, entered = merge_form({}, form, LETTER_FIELDS)
        # the member and where it is now come from the record, never from the form
        body.update(memberId=member_id, fromOrganisationId=member.get("organisationId"))
        body["state"] = "issued"
        try:
            await to_thread.run_sync(issue, hub, session.principal, body)
        except HubError as error:
            return await letter_form(
                request, session, member, entered, error.status,
                errors_of(error, LETTER_FIELDS, lang_of(request), None),
            )  # fmt: skip
        return RedirectResponse("/console/transfers?done=1", status_code=303)

    for verb in ("accept", "reject", "withdraw"):
        _decision(router, verb, listing)

    return router


def _decision(
    router: APIRouter,
    verb: str,
    listing: Callable[..., Awaitable[Response]],
) -> None:
    @router.post(f"/console/transfers/{{transfer_id}}/{verb}")
    async def decide(request: Request, transfer_id: str) -> Response:
        session = await signed_in(request)
        form = await checked_form(request, session)
        if not may_write(session):
            return error_page(request, session, "read-only", 403)
        reason = field(form, "reason").strip() or None
        hub, principal = hub_of(request), session.principal
        try:
            authorize(principal, Act.WRITE)
            if verb == "withdraw":
                await to_thread.run_sync(withdraw_transfer, hub, transfer_id, reason, principal)
            else:
                decision: Literal["accepted", "rejected"] = (
                    "accepted" if verb == "accept" else "rejected"
                )
                await to_thread.run_sync(
                    decide_transfer, hub, transfer_id, decision, reason, principal
                )
        except HubError as error:
            message = error.detail_en if lang_of(request) == "en" else error.detail_zh
            return await listing(request, session, error.status, message)
        return RedirectResponse("/console/transfers?done=1", status_code=303)
