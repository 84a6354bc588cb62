"""A member's page (its fields, its history from the audit log, its transfers and dues), the
member create and edit forms, and the dues payment forms. Everything is read as the signed-in
user's caller (a record outside its subtree does not exist) and saved through the API's write
path, with its version check and audit (:mod:`tongxin.server._service`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import ColumnElement, Connection, and_, or_, select

from tongxin.server._accounts import Session
from tongxin.server._directory import organisations
from tongxin.server._errors import HubError
from tongxin.server._hub import Hub
from tongxin.server._security import NOWHERE, Principal
from tongxin.server._service import create_record, replace_record
from tongxin.server._tables import audit, json_field, org_tree, records, transfer_letters
from tongxin.server._transfers import read_status

from ._kit import (
    FormErrors,
    Spec,
    editable,
    errors_of,
    form_values,
    form_version,
    may_write,
    merge_form,
    read_visible,
    word,
)
from ._page import checked_form, error_page, hub_of, lang_of, render, signed_in

__all__ = ["DUES_FIELDS", "MEMBER_FIELDS", "member_pages"]

MEMBER_FIELDS = [
    Spec("name", "姓名", "Name", required=True),
    Spec("gender", "性别", "Gender", "code", "gender", required=True),
    Spec("ethnicity", "民族", "Ethnicity", "code", "ethnicity"),
    Spec("birthDate", "出生日期", "Birth date", "date", required=True),
    Spec("citizenId", "公民身份号码", "Citizen ID", "sensitive"),
    Spec("education", "学历", "Education", "code", "education"),
    Spec("nativePlace", "籍贯", "Native place"),
    Spec("organisationId", "所在党组织", "Organisation", "org", required=True),
    Spec("category", "党员类别", "Category", "code", "member-category", required=True),
    Spec("joinedDate", "入党日期", "Joined", "date", required=True),
    Spec("fullMembershipDate", "转正日期", "Full membership", "date"),
    Spec("status", "党籍状态", "Status", "code", "member-status", required=True),
    Spec("lostContactSince", "失联日期", "Lost contact since", "date"),
    Spec("phone", "联系电话", "Phone", "sensitive"),
    Spec("workUnit", "工作单位", "Work unit"),
]
_SENSITIVE = ("citizenId", "phone")

DUES_FIELDS = [
    Spec("memberId", "党员", "Member", "hidden"),
    Spec("period", "所属月份（如 2026-11）", "Month (e.g. 2026-11)", required=True),
    Spec("memberClass", "党员分类", "Member class", "code", "member-class", required=True),
    Spec("base", "计算基数（元）", "Base (yuan)"),
    Spec("amount", "交纳金额（元，如 12.50）", "Amount (yuan, e.g. 12.50)", required=True),
    Spec("paidDate", "交纳日期", "Paid on", "date", required=True),
]
_HISTORY = 100
_LISTED = 200


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a record's audit history."""

    at: datetime
    who: str
    action: str
    before: int | None
    after: int | None


def _inside(principal: Principal) -> ColumnElement[bool] | None:
    if not principal.restricted:
        return None
    prefix = principal.subtree or NOWHERE
    inside = select(org_tree.c.id).where(org_tree.c.path.startswith(prefix, autoescape=True))
    return or_(records.c.scope_org.in_(inside), records.c.scope_org2.in_(inside))


def _related(hub: Hub, principal: Principal, collection: str, member_id: str) -> list[Any]:
    """The live ``collection`` records of a member the caller may see (their JSON, version and,
    for transfers, the electronic letter's state), newest first."""
    c = records.c
    where = and_(
        c.collection == collection,
        c.deleted.is_(False),
        json_field(hub.db.dialect, "memberId") == member_id,
    )
    scope = _inside(principal)
    if scope is not None:
        where = and_(where, scope)
    t = transfer_letters.c
    query = (
        select(c.id, c.doc, c.version, t.state.label("letter_state"), t.delivered, t.role)
        .select_from(records.outerjoin(transfer_letters, t.transfer_id == c.id))
        .where(where)
        .order_by(c.seq.desc())
        .limit(_LISTED)
    )
    with hub.db.read() as conn:
        rows = list(conn.execute(query).all())
        letters = (
            _letters_of(conn, member_id, {r.id for r in rows})
            if collection == "transfers" and scope is not None
            else []
        )
    rows += [r for r in letters if _letter_seen(hub, principal, r.id)]
    return [
        {
            "id": r.id,
            "version": r.version,
            "record": orjson.loads(r.doc),
            "letter": r.letter_state,
            "delivered": r.delivered,
            "role": r.role,
        }
        for r in rows
    ]


def _letters_of(conn: Connection, member_id: str, listed: set[str]) -> list[Any]:
    """A member's transfers with an electronic letter here, besides those ``listed``."""
    c, t = records.c, transfer_letters.c
    query = (
        select(c.id, c.doc, c.version, t.state.label("letter_state"), t.delivered, t.role)
        .select_from(transfer_letters.join(records, and_(
            c.collection == "transfers", c.id == t.transfer_id, c.deleted.is_(False))))
        .where(t.member_id == member_id)
        .limit(_LISTED)
    )  # fmt: skip
    return [r for r in conn.execute(query).all() if r.id not in listed]


def _letter_seen(hub: Hub, principal: Principal, transfer_id: str) -> bool:
    """A transfer not placed in the caller's subtree (at the receiving hub, a replica of the
    sender's record) is shown when the caller may see its letter, as for
    ``GET /v1/transfers/{id}/history`` (:func:`read_status` decides)."""
    try:
        read_status(hub, transfer_id, principal)
    except HubError:
        return False
    return True


def member_history(hub: Hub, collection: str, record_id: str) -> list[Step]:
    """The audit log's lines about one record (the caller was checked to see it), newest
    first: every create, replace, replication and transfer step with the versions."""
    a = audit.c
    query = (
        select(a.at, a.token_id, a.request_id, a.action, a.before_version, a.after_version)
        .where(a.collection == collection, a.record_id == record_id)
        .order_by(a.seq.desc())
        .limit(_HISTORY)
    )
    with hub.db.read() as conn:
        rows = conn.execute(query).all()
    return [
        Step(
            r.at, str(r.token_id or r.request_id or ""), r.action, r.before_version, r.after_version
        )
        for r in rows
    ]


def _masked(value: Any) -> str:
    text = str(value or "")
    return text if len(text) <= 4 else "*" * (len(text) - 4) + text[-4:]


def member_pages() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def form_page(
        request: Request,
        session: Session,
        specs: list[Spec],
        *,
        values: dict[str, str],
        version: int | None,
        heading: str,
        back: str,
        sealed: dict[str, bool] | None = None,
        status: int = 200,
        errors: FormErrors | None = None,
    ) -> Response:
        orgs = await to_thread.run_sync(organisations, hub_of(request), session.principal)
        return render(
            request,
            "record_form.html",
            status,
            session=session,
            specs=specs,
            values=values,
            version=version,
            action=request.url.path,
            heading=heading,
            errors=errors,
            orgs=orgs,
            sealed=sealed or {},
            back=back,
            reload=request.url.path,
        )

    async def visible(
        request: Request, session: Session, collection: str, rid: str
    ) -> tuple[dict[str, Any], int] | None:
        return await to_thread.run_sync(
            read_visible, hub_of(request), session.principal, collection, rid
        )

    # -- members ------------------------------------------------------------------------------
    @router.get("/console/members/new")
    async def new_member_form(request: Request, organisationId: str = "") -> Response:  # noqa: N803
        session = await signed_in(request)
        if not may_write(session):
            return error_page(request, session, "read-only", 403)
        values = {
            "organisationId": organisationId[:96] or session.organisation_id,
            "category": "probationary",
            "status": "normal",
        }
        return await form_page(
            request, session, MEMBER_FIELDS, values=values, version=None,
            heading=word(request, "new-member"), back="/console/members",
        )  # fmt: skip

    @router.post("/console/members/new")
    async def create_member(request: Request) -> Response:
        session = await signed_in(request)
        form = await checked_form(request, session)
        if not may_write(session):
            return error_page(request, session, "read-only", 403)
        body, entered = merge_form({}, form, MEMBER_FIELDS)
        try:
            outcome = await to_thread.run_sync(
                create_record, hub_of(request), session.principal, "members", body
            )
        except HubError as error:
            return await form_page(
                request, session, MEMBER_FIELDS, values=entered, version=None,
                heading=word(request, "new-member"), back="/console/members",
                status=error.status,
                errors=errors_of(error, MEMBER_FIELDS, lang_of(request), None),
            )  # fmt: skip
        return RedirectResponse(f"/console/members/{quote(str(outcome.id))}", status_code=303)

    @router.get("/console/members/{member_id}")
    async def detail(request: Request, member_id: str, saved: str = "") -> Response:
        session = await signed_in(request)
        found = await visible(request, session, "members", member_id)
        if found is None:
            return error_page(request, session, "record-missing", 404)
        record, version = found
        hub = hub_of(request)
        history = await to_thread.run_sync(member_history, hub, "members", member_id)
        transfers = await to_thread.run_sync(
            _related, hub, session.principal, "transfers", member_id
        )
        dues = await to_thread.run_sync(_related, hub, session.principal, "duesPayments", member_id)
        org = await visible(request, session, "organisations", str(record.get("organisationId")))
        shown = {k: _masked(record.get(k)) for k in _SENSITIVE if record.get(k)}
        return render(
            request,
            "member_detail.html",
            session=session,
            member=record,
            version=version,
            org_name=(org[0].get("name") if org else None) or record.get("organisationId"),
            specs=[s for s in MEMBER_FIELDS if s.kind != "sensitive"],
            shown=shown,
            history=history,
            transfers=transfers,
            dues=dues,
            writer=may_write(session),
            saved=saved == "1",
        )

    @router.get("/console/members/{member_id}/edit")
    async def edit_member_form(request: Request, member_id: str) -> Response:
        session = await signed_in(request)
        found = await editable(request, session, "members", member_id)
        record, version = found
        return await form_page(
            request, session, MEMBER_FIELDS, values=form_values(record, MEMBER_FIELDS),
            version=version, heading=f"{word(request, 'edit-member')} · {record.get('name')}",
            back=f"/console/members/{quote(member_id)}",
            sealed={k: k in record for k in _SENSITIVE},
        )  # fmt: skip

    @router.post("/console/members/{member_id}/edit")
    async def edit_member(request: Request, member_id: str) -> Response:
        session = await signed_in(request)
        form = await checked_form(request, session)
        found = await editable(request, session, "members", member_id)
        stored, _ = found
        mine = form_version(form)
        body, entered = merge_form(stored, form, MEMBER_FIELDS)
        try:
            await to_thread.run_sync(
                replace_record, hub_of(request), session.principal, "members", member_id, body,
                mine,
            )  # fmt: skip
        except HubError as error:
            return await form_page(
                request, session, MEMBER_FIELDS, values=entered, version=mine,
                heading=f"{word(request, 'edit-member')} · {stored.get('name')}",
                back=f"/console/members/{quote(member_id)}",
                sealed={k: k in stored for k in _SENSITIVE}, status=error.status,
                errors=errors_of(error, MEMBER_FIELDS, lang_of(request), mine),
            )  # fmt: skip
        return RedirectResponse(f"/console/members/{quote(member_id)}?saved=1", status_code=303)

    # -- dues payments ------------------------------------------------------------------------
    @router.get("/console/members/{member_id}/dues/new")
    async def new_dues_form(request: Request, member_id: str) -> Response:
        session = await signed_in(request)
        found = await editable(request, session, "members", member_id)
        return await form_page(
            request, session, DUES_FIELDS, values={"memberId": member_id}, version=None,
            heading=f"{word(request, 'new-dues')} · {found[0].get('name')}",
            back=f"/console/members/{quote(member_id)}",
        )  # fmt: skip

    @router.post("/console/members/{member_id}/dues/new")
    async def create_dues(request: Request, member_id: str) -> Response:
        session = await signed_in(request)
        form = await checked_form(request, session)
        found = await editable(request, session, "members", member_id)
        body, entered = merge_form({}, form, DUES_FIELDS)
        body["memberId"] = entered["memberId"] = member_id
        try:
            await to_thread.run_sync(
                create_record, hub_of(request), session.principal, "duesPayments", body
            )
        except HubError as error:
            return await form_page(
                request, session, DUES_FIELDS, values=entered, version=None,
                heading=f"{word(request, 'new-dues')} · {found[0].get('name')}",
                back=f"/console/members/{quote(member_id)}", status=error.status,
                errors=errors_of(error, DUES_FIELDS, lang_of(request), None),
            )  # fmt: skip
        return RedirectResponse(f"/console/members/{quote(member_id)}?saved=1", status_code=303)

    @router.get("/console/dues/{dues_id}/edit")
    async def edit_dues_form(request: Request, dues_id: str) -> Response:
        session = await signed_in(request)
        found = await editable(request, session, "duesPayments", dues_id)
        record, version = found
        return await form_page(
            request, session, DUES_FIELDS, values=form_values(record, DUES_FIELDS),
            version=version, heading=word(request, "edit-dues"),
            back=f"/console/members/{quote(str(record.get('memberId')))}",
        )  # fmt: skip

    @router.post("/console/dues/{dues_id}/edit")
    async def edit_dues(request: Request, dues_id: str) -> Response:
        session = await signed_in(request)
        form = await checked_form(request, session)
        found = await editable(request, session, "duesPayments", dues_id)
        stored, _ = found
        member_id = str(stored.get("memberId"))
        mine = form_version(form)
        body, entered = merge_form(stored, form, DUES_FIELDS)
        body["memberId"] = entered["memberId"] = member_id  # a payment stays with its member
        try:
            await to_thread.run_sync(
                replace_record, hub_of(request), session.principal, "duesPayments", dues_id,
                body, mine,
            )  # fmt: skip
        except HubError as error:
            return await form_page(
                request, session, DUES_FIELDS, values=entered, version=mine,
                heading=word(request, "edit-dues"), back=f"/console/members/{quote(member_id)}",
                status=error.status,
                errors=errors_of(error, DUES_FIELDS, lang_of(request), mine),
            )  # fmt: skip
        return RedirectResponse(f"/console/members/{quote(member_id)}?saved=1", status_code=303)

    return router
