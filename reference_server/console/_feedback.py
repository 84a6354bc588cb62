"""The feedback channel's pages (``docs/console.md``, 意见建议).

Public, without an account: an organisation's form at ``/console/feedback/to/{id}`` (its QR
code at ``.../qr.svg``, drawn by segno on the hub) and the receipt page
``/console/feedback/receipt``, where a receipt code shows the answer and the state. For staff
with a session: the list at ``/console/feedback``, an item with its answer form, closing.

A public POST is refused before its body is read when it declares more than
:data:`MAX_REQUEST` bytes, and stops being read when it sends more; submissions and receipt
look-ups are limited per client address (a sliding window, :mod:`tongxin.server._throttle`);
the form carries a CSRF token (a cookie and a field that must match). Every refusal is a page
with a zh-CN message, never a 5xx; every text is escaped by the templates (autoescape).
"""

from __future__ import annotations

import io
import secrets
from typing import Any
from urllib.parse import parse_qsl, quote

import segno
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tongxin.server._accounts import Session
from tongxin.server._directory import organisations
from tongxin.server._feedback import (
    MAX_BODY,
    Refusal,
    close_item,
    find_by_receipt,
    list_items,
    open_item,
    public_organisation,
    reply_item,
    submit,
)
from tongxin.server._settings import Settings
from tongxin.server._throttle import SlidingWindow

from ._page import client_of, csrf_ok, hub_of, render, secure, signed_in

__all__ = ["MAX_REQUEST", "feedback_router"]

#: The largest form body taken (an opinion of 2,000 characters is under 20 KB encoded).
MAX_REQUEST = 32 * 1024
_CSRF_COOKIE = "tongxin_feedback_csrf"
_FORM_PATH = "/console/feedback/to/"

#: key -> (zh-CN, en)
TEXT: dict[str, tuple[str, str]] = {
    "form-title": ("向{org}提意见建议", "Feedback to {org}"),
    "form-intro": (
        "您的意见建议将直接送达本组织书记。可以匿名；如需回复，可留下电话。",
        "Your opinion goes to the organisation's secretary. You may stay anonymous; leave a "
        "phone number if you want an answer by phone.",
    ),
    "body": ("意见建议内容", "Your opinion"),
    "anonymous": ("匿名提交（不留姓名）", "Send anonymously (no name)"),
    "name": ("姓名（选填）", "Name (optional)"),
    "phone": ("联系电话（选填，仅书记可见）", "Phone (optional, seen only by the secretary)"),
    "send": ("提交", "Send"),
    "thanks": ("已收到您的意见建议", "Your opinion was received"),
    "receipt-code": ("回执码", "Receipt code"),
    "receipt-keep": (
        "请保存回执码：凭它可查看答复和办理状态。回执码只显示这一次。",
        "Keep this receipt code: it shows the answer and the state. It is shown only once.",
    ),
    "receipt-title": ("查询答复", "Look up the answer"),
    "receipt-ask": ("请输入回执码", "Enter your receipt code"),
    "look-up": ("查询", "Look up"),
    "not-found": (
        "未找到该回执码对应的意见建议，请核对后重试",
        "No opinion has this receipt code; please check it",
    ),
    "status": ("状态", "State"),
    "status-open": ("待答复", "Awaiting an answer"),
    "status-answered": ("已答复", "Answered"),
    "status-closed": ("已办结", "Closed"),
    "reply": ("答复", "Answer"),
    "no-reply": ("尚未答复", "Not answered yet"),
    "received-at": ("提交时间", "Received"),
    "replied-at": ("答复时间", "Answered"),
    "your-opinion": ("您的意见建议", "Your opinion"),
    "content": ("内容", "Content"),
    "empty": ("请填写意见建议内容", "Please write your opinion"),
    "too-long": (
        f"内容过长，请控制在 {MAX_BODY} 字以内",
        f"The text is too long: {MAX_BODY} characters at most",
    ),
    "name-too-long": ("姓名过长", "The name is too long"),
    "bad-phone": ("电话号码格式不正确", "The phone number is not valid"),
    "no-organisation": (
        "该组织不存在或未开通意见建议",
        "This organisation does not exist or takes no feedback here",
    ),
    "too-large": ("提交的内容过大，未予受理", "The request is too large and was refused"),
    "bad-form": ("表单格式不正确，请从页面重新提交", "The form was malformed; submit it again"),
    "rate": (
        "提交过于频繁，请稍后再试",
        "Too many requests from this address; please try again later",
    ),
    "csrf": ("表单已过期，请刷新页面后重新提交", "The form expired; reload the page and submit"),
    "empty-reply": ("请填写答复内容", "Please write an answer"),
    "share": ("意见建议收集码", "Feedback link and QR code"),
    "share-intro": (
        "群众和党员扫码或打开链接即可提意见建议，无需登录。",
        "Members and residents scan the code or open the link; no login is needed.",
    ),
    "counts": (
        "待答复 {open} · 已答复 {answered} · 已办结 {closed}",
        "{open} open · {answered} answered · {closed} closed",
    ),
    "all": ("全部", "All"),
    "none": ("暂无意见建议", "No feedback"),
    "anonymous-tag": ("匿名", "anonymous"),
    "submitter": ("提交人", "From"),
    "contact-phone": ("联系电话", "Phone"),
    "save-reply": ("保存答复", "Save the answer"),
    "close": ("办结", "Close"),
    "closed-note": ("已办结，不能再修改答复", "Closed: the answer can no longer change"),
    "missing": ("该意见建议不存在", "No such feedback item"),
    "forbidden": ("您的角色不能查看意见建议", "Your role cannot read feedback"),
    "organisation": ("组织", "Organisation"),
    "show": ("显示", "Show"),
    "open-link": ("打开链接", "Open the link"),
    "back": ("返回列表", "Back to the list"),
}


class _Refused(Exception):  # noqa: N818 (an outcome shown as a page)
    def __init__(self, reason: str, status: int) -> None:
        self.reason, self.status = reason, status


async def read_form(request: Request, limit: int = MAX_REQUEST) -> dict[str, str]:
    """A URL-encoded form body of at most ``limit`` bytes: refused from its declared length
    before reading, or as soon as more arrives."""
    declared = request.headers.get("content-length", "")
    if declared and (not (declared.isascii() and declared.isdigit()) or int(declared) > limit):
        raise _Refused("too-large", 413)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise _Refused("bad-form", 415)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _Refused("too-large", 413)
    text = body.decode("utf-8", errors="replace")
    try:
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=20))
    except ValueError:  # more fields than any of these forms has
        raise _Refused("bad-form", 400) from None


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return render(request, name, status, words=TEXT, **context)


def _may_read(session: Session) -> bool:
    return session.principal.has("records:read-sensitive")


def feedback_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    submissions = SlidingWindow(20, 600)
    lookups = SlidingWindow(30, 600)

    def base_url(request: Request) -> str:
        return (settings.public_url or str(request.base_url)).rstrip("/")

    def form_page(
        request: Request, org_id: str, org_name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        token = request.cookies.get(_CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = _render(
            request,
            "feedback/form.html",
            status,
            org_id=org_id,
            org_name=org_name,
            csrf=token,
            action=_FORM_PATH + quote(org_id, safe=":"),
            max_body=MAX_BODY,
            **context,
        )
        response.set_cookie(
            _CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=secure(request, settings),
            path="/console/feedback/",
        )
        return response

    async def org_name_of(request: Request, org_id: str) -> str | None:
        if not org_id or len(org_id) > 96:
            return None
        return await to_thread.run_sync(public_organisation, hub_of(request), org_id)

    @router.get("/console/feedback/to/{org_id}")
    async def form(request: Request, org_id: str) -> Response:
        name = await org_name_of(request, org_id)
        if name is None:
            return _render(request, "feedback/message.html", 404, message="no-organisation")
        return form_page(request, org_id, name)

    @router.post("/console/feedback/to/{org_id}")
    async def send(request: Request, org_id: str) -> Response:
        name = await org_name_of(request, org_id)
        if name is None:
            return _render(request, "feedback/message.html", 404, message="no-organisation")
        if not submissions.allow(client_of(request)):
            return form_page(request, org_id, name, 429, error="rate")
        try:
            data = await read_form(request)
        except _Refused as refused:
            return form_page(request, org_id, name, refused.status, error=refused.reason)
        if not csrf_ok(request.cookies.get(_CSRF_COOKIE), data.get("csrf")):
            return form_page(request, org_id, name, 403, error="csrf", data=data)
        try:
            done = await to_thread.run_sync(
                lambda: submit(
                    hub_of(request),
                    org_id,
                    data.get("body", ""),
                    anonymous=data.get("anonymous") == "1",
                    name=data.get("name", ""),
                    phone=data.get("phone", ""),
                )
            )
        except Refusal as refusal:
            return form_page(request, org_id, name, 400, error=refusal.reason, data=data)
        return _render(request, "feedback/thanks.html", 201, receipt=done.receipt, org_name=name)

    @router.get("/console/feedback/to/{org_id}/qr.svg")
    async def qr_code(request: Request, org_id: str) -> Response:
        if await org_name_of(request, org_id) is None:
            return _render(request, "feedback/message.html", 404, message="no-organisation")
        url = base_url(request) + _FORM_PATH + quote(org_id, safe=":")
        out = io.BytesIO()
        segno.make(url, error="m").save(out, kind="svg", scale=6, border=2, title=url)
        return Response(
            out.getvalue(),
            media_type="image/svg+xml",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    @router.get("/console/feedback/receipt")
    async def receipt_form(request: Request) -> Response:
        return _receipt_page(request)

    def _receipt_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        token = request.cookies.get(_CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = _render(request, "feedback/receipt.html", status, csrf=token, **context)
        response.set_cookie(
            _CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=secure(request, settings),
            path="/console/feedback/",
        )
        return response

    @router.post("/console/feedback/receipt")
    async def receipt_lookup(request: Request) -> Response:
        """A POST, so that a code never lands in a URL or a log; limited per address."""
        if not lookups.allow(client_of(request)):
            return _receipt_page(request, 429, error="rate")
        try:
            data = await read_form(request, 4096)
        except _Refused as refused:
            return _receipt_page(request, refused.status, error=refused.reason)
        if not csrf_ok(request.cookies.get(_CSRF_COOKIE), data.get("csrf")):
            return _receipt_page(request, 403, error="csrf")
        code = data.get("code", "")[:64]
        item = await to_thread.run_sync(find_by_receipt, hub_of(request), code)
        if item is None:
            return _receipt_page(request, 404, error="not-found", code=code)
        hub = hub_of(request)
        org_name = await to_thread.run_sync(public_organisation, hub, item.organisation_id)
        return _receipt_page(request, item=item, org_name=org_name or "", code=code)

    # -- staff -------------------------------------------------------------------------------
    async def staff(request: Request) -> Session | Response:
        session = await signed_in(request)
        if not _may_read(session):
            return _render(
                request, "feedback/message.html", 403, message="forbidden", session=session
            )
        return session

    @router.get("/console/feedback")
    async def items(request: Request, status: str = "", organisationId: str = "") -> Response:  # noqa: N803
        session = await staff(request)
        if isinstance(session, Response):
            return session
        hub = hub_of(request)
        counts, rows = await to_thread.run_sync(list_items, hub, session.principal, status or None)
        orgs = await to_thread.run_sync(organisations, hub, session.principal)
        names = {o.id: o.name for o in orgs}
        share = organisationId if organisationId in names else session.organisation_id
        link = _FORM_PATH + quote(share, safe=":")
        return _render(
            request,
            "feedback/list.html",
            session=session,
            counts=counts,
            rows=rows,
            names=names,
            orgs=orgs,
            share=share,
            link=link,
            full_link=base_url(request) + link,
            chosen=status,
        )

    @router.get("/console/feedback/items/{item_id}")
    async def item(request: Request, item_id: str) -> Response:
        session = await staff(request)
        if isinstance(session, Response):
            return session
        return await item_page(request, session, item_id)

    async def item_page(
        request: Request, session: Session, item_id: str, status: int = 200, error: str = ""
    ) -> Response:
        hub = hub_of(request)
        found = await to_thread.run_sync(open_item, hub, session.principal, item_id)
        if found is None:
            return _render(
                request, "feedback/message.html", 404, message="missing", session=session
            )
        orgs = await to_thread.run_sync(organisations, hub, session.principal)
        names = {o.id: o.name for o in orgs}
        return _render(
            request,
            "feedback/item.html",
            status,
            session=session,
            item=found,
            names=names,
            error=error,
        )

    @router.post("/console/feedback/items/{item_id}/{verb}")
    async def act(request: Request, item_id: str, verb: str) -> Response:
        session = await staff(request)
        if isinstance(session, Response):
            return session
        if verb not in ("reply", "close"):
            return _render(
                request, "feedback/message.html", 404, message="missing", session=session
            )
        try:
            data = await read_form(request)
        except _Refused as refused:
            return await item_page(request, session, item_id, refused.status, refused.reason)
        if not csrf_ok(session.csrf, data.get("csrf")):
            return await item_page(request, session, item_id, 403, "csrf")
        hub = hub_of(request)
        try:
            if verb == "reply":
                text = data.get("reply", "")
                await to_thread.run_sync(reply_item, hub, session.principal, item_id, text)
            else:
                await to_thread.run_sync(close_item, hub, session.principal, item_id)
        except Refusal as refusal:
            return await item_page(request, session, item_id, 400, refusal.reason)
        return RedirectResponse(
            f"/console/feedback/items/{quote(item_id, safe='')}", status_code=303
        )

    return router
