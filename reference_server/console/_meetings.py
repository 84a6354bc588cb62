"""Meetings from a phone (``docs/console.md`` §九): the secretary's pages under
``/console/meetings`` and the member's check-in page under ``/console/checkin/``.

The secretary (or an organiser or admin of the subtree) creates a meeting, taps each member
present, absent or excused, and saves through the write path; shows the meeting's QR code
(rendered here as SVG by segno); confirms the members who checked themselves in. The check-in
page needs no account: its signed, expiring link is the key, and the member proves who they
are with four digits (:mod:`tongxin.server._checkins`).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import segno
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

import tongxin.server._checkins as checkins
from tongxin.schemas import Issue
from tongxin.server._accounts import Session
from tongxin.server._directory import organisations
from tongxin.server._errors import HubError, NotFound, PreconditionFailed
from tongxin.server._settings import Settings
from tongxin.server._throttle import SlidingWindow

from ._page import (
    CST,
    checked_form,
    client_of,
    csrf_ok,
    field,
    hub_of,
    lang_of,
    render,
    secure,
    signed_in,
    titler,
)

__all__ = ["meetings_router"]

_CHECKIN_CSRF = "tongxin_checkin_csrf"
_STATUSES = ("present", "absent", "excused")

#: key -> (zh-CN, en): the words of these pages, beside the console's own.
TEXT: dict[str, tuple[str, str]] = {
    "new-meeting": ("新建会议", "New meeting"),
    "no-meetings": ("还没有会议记录", "No meeting yet"),
    "no-meeting": ("没有找到该会议", "No such meeting"),
    "forbidden": (
        "只有支部书记、组织员或管理员可以管理会议",
        "Only a secretary, organiser or admin manages meetings",
    ),
    "type": ("会议类型", "Type"),
    "topic": ("主题", "Topic"),
    "start": ("开始时间（北京时间）", "Start (Beijing time)"),
    "end": ("结束时间（北京时间）", "End (Beijing time)"),
    "location": ("地点", "Location"),
    "create": ("创建会议", "Create meeting"),
    "attendance": ("出席情况", "Attendance"),
    "present": ("出席", "Present"),
    "absent": ("缺席", "Absent"),
    "excused": ("请假", "Excused"),
    "reason": ("原因", "Reason"),
    "all-present": ("全部出席", "All present"),
    "save-attendance": ("保存出席情况", "Save attendance"),
    "saved-attendance": ("出席情况已保存", "Attendance saved"),
    "counts": (
        "应到 {due} 人，出席 {present} 人，缺席 {absent} 人，请假 {excused} 人",
        "{due} due, {present} present, {absent} absent, {excused} excused",
    ),
    "pending": ("已签到，待确认", "Checked in, awaiting confirmation"),
    "confirmed": ("已确认签到", "Check-in confirmed"),
    "confirm": ("确认", "Confirm"),
    "confirm-all": ("全部确认签到", "Confirm every check-in"),
    "confirmed-n": ("已确认 {n} 人签到", "{n} check-ins confirmed"),
    "show-qr": ("显示签到二维码", "Show the check-in QR code"),
    "qr-title": ("扫码签到", "Scan to check in"),
    "qr-help": (
        "请党员用手机扫描二维码，选择本人姓名并输入手机号码或公民身份号码的后四位。"
        "签到后须由书记确认。",
        "Members scan the code, pick their name and enter the last four digits of their phone "
        "or citizen ID. The secretary then confirms each check-in.",
    ),
    "valid": ("签到时间：{opens} 至 {closes}", "Check-in open from {opens} to {closes}"),
    "back": ("返回会议", "Back to the meeting"),
    "stale": (
        "会议记录已被他人修改，请刷新后重新保存",
        "Someone else changed the meeting: reload and save again",
    ),
    "invalid": ("请按提示改正后再保存", "Please correct the fields marked below"),
    "warning": ("提示", "Note"),
    "unmarked": ("未填写的党员不计入出席情况", "Members left blank are not recorded"),
    "checkin": ("会议签到", "Meeting check-in"),
    "your-name": ("本人姓名", "Your name"),
    "choose": ("请选择", "Choose"),
    "digits": (
        "手机号码或公民身份号码后四位",
        "Last four digits of your phone or citizen ID",
    ),
    "check-in": ("签到", "Check in"),
    "only-branch": (
        "名单中只有本支部的党员；其他支部的党员请在本人所在支部签到",
        "Only this branch's members are listed; members of other branches check in with their own",
    ),
    "checked-in": (
        "{name}，签到成功：已签到，待书记确认",
        "{name}: checked in, awaiting the secretary's confirmation",
    ),
    "bad-link": (
        "签到链接无效，请重新扫描书记出示的二维码",
        "This check-in link is not valid: scan the secretary's QR code again",
    ),
    "not-yet": (
        "签到尚未开始，请在会议开始前 30 分钟内再扫码",
        "Check-in has not opened yet: scan again within 30 minutes of the start",
    ),
    "closed": (
        "签到已结束，该链接已过期，请联系支部书记",
        "Check-in has closed: this link expired; ask the branch secretary",
    ),
    "gone": ("该会议已被删除", "This meeting was deleted"),
    "limited": (
        "签到尝试过于频繁，请 5 分钟后再试",
        "Too many check-in attempts: try again in 5 minutes",
    ),
    "bad-digits": ("请输入 4 位数字", "Enter four digits"),
    "wrong-digits": (
        "后四位不正确，还可以再试 {left} 次",
        "Those four digits are wrong; {left} tries left",
    ),
    "locked": (
        "输错次数过多，本次会议不能自助签到，请联系支部书记",
        "Too many wrong tries: ask the branch secretary to record your attendance",
    ),
    "twice": ("您已经签到过了，无需重复签到", "You have already checked in"),
    "other-branch": (
        "您不是本支部党员，不能签到本次会议",
        "You are not a member of this branch: you cannot check in to this meeting",
    ),
    "no-proof": (
        "您的档案中没有手机号码或公民身份号码，请联系支部书记签到",
        "Your record has no phone or citizen ID: ask the branch secretary",
    ),
}
_STATUS = {
    "bad-link": 404,
    "not-yet": 403,
    "closed": 410,
    "gone": 410,
    "limited": 429,
    "bad-digits": 400,
    "wrong-digits": 403,
    "locked": 403,
    "twice": 409,
    "other-branch": 403,
    "no-proof": 403,
}


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return render(request, name, status, words=TEXT, **context)


def _shown(value: Any) -> str:
    """An RFC 3339 time as Beijing time for the page (``2026-12-01 14:30``)."""
    if not isinstance(value, str):
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CST)
    return _beijing(parsed)


def _beijing(moment: datetime) -> str:
    """``moment`` as Beijing time for the page; a date at the very edge of what a date may
    be (year 1 or 9999) is shown in UTC rather than moved past it."""
    try:
        return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M")
    except OverflowError:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _local_input(value: str) -> str | None:
    """A ``datetime-local`` value as RFC 3339 in Beijing time (None when empty or invalid)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CST)
    return parsed.isoformat(timespec="seconds")


def _field_errors(error: HubError, lang: str) -> dict[str, list[str]]:
    """The rule messages of a refused write, by the pointer they concern."""
    out: dict[str, list[str]] = {}
    for issue in error.issues:
        out.setdefault(issue.pointer, []).append(issue.message(lang))
    return out


def _messages(issues: list[Issue], lang: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for issue in issues:
        out.setdefault(issue.pointer, []).append(issue.message(lang))
    return out


def _at(messages: dict[str, list[str]] | None, index: int) -> list[str]:
    """The messages about the ``index``-th attendance entry (-1: none)."""
    if not messages or index < 0:
        return []
    prefix = f"/attendance/{index}"
    return [m for k, v in messages.items() if k == prefix or k.startswith(prefix + "/") for m in v]


def _outside_rows(messages: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """The messages not about one attendance entry (shown above the list)."""
    return {k: v for k, v in (messages or {}).items() if not k.startswith("/attendance/")}


def _type_titles(lang: str) -> list[tuple[str, str]]:
    titles = titler(lang)
    return [(code, titles("activity-type", code)) for code in checkins.CHECKIN_TYPES]


async def _manager(request: Request) -> Session | Response:
    """The signed-in user when it may manage meetings, else the page that says why not."""
    session = await signed_in(request)
    if not session.principal.has("records:write"):
        return _render(request, "error.html", 403, error="forbidden", session=session)
    return session


def _base_url(request: Request, settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


def meetings_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    #: Check-in attempts per client address: a meeting room behind one address gets enough
    #: for every member, a flood does not.
    attempts = SlidingWindow(30, 300)

    @router.get("/console/meetings")
    async def meeting_list(request: Request) -> Response:
        session = await _manager(request)
        if isinstance(session, Response):
            return session
        hub = hub_of(request)
        rows = await to_thread.run_sync(checkins.list_meetings, hub, session.principal)
        return _render(request, "meetings.html", session=session, rows=rows, shown=_shown)

    def new_form(
        request: Request,
        session: Session,
        orgs: list[Any],
        values: dict[str, str],
        errors: dict[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        lang = lang_of(request)
        return _render(
            request,
            "meeting_new.html",
            status,
            session=session,
            orgs=orgs,
            types=_type_titles(lang),
            values=values,
            errors=errors or {},
        )

    @router.get("/console/meetings/new")
    async def meeting_new(request: Request) -> Response:
        session = await _manager(request)
        if isinstance(session, Response):
            return session
        orgs = await to_thread.run_sync(organisations, hub_of(request), session.principal)
        now = datetime.now(CST).replace(second=0, microsecond=0)
        values = {
            "organisationId": session.organisation_id,
            "type": "general-meeting",
            "startTime": now.strftime("%Y-%m-%dT%H:%M"),
            "endTime": (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        }
        return new_form(request, session, orgs, values)

    @router.post("/console/meetings/new")
    async def meeting_create(request: Request) -> Response:
        session = await _manager(request)
        if isinstance(session, Response):
            return session
        form = await checked_form(request, session)
        hub = hub_of(request)
        values = {
            key: field(form, key).strip()
            for key in ("organisationId", "type", "topic", "startTime", "endTime", "location")
        }
        allowed = await to_thread.run_sync(
            checkins.visible_org, hub, session.principal, values["organisationId"]
        )
        if not allowed:
            return _render(request, "error.html", 404, error="not-found", session=session)
        record: dict[str, Any] = {
            "organisationId": values["organisationId"],
            "type": values["type"],
            "topic": values["topic"],
            "startTime": _local_input(values["startTime"]),
            "endTime": _local_input(values["endTime"]),
            "location": values["location"],
        }
        try:
            made = await to_thread.run_sync(checkins.create_meeting, hub, session.principal, record)
        except HubError as error:
            lang = lang_of(request)
            errors: dict[str, list[str]] = {}
            for pointer, messages in _field_errors(error, lang).items():
                errors.setdefault(pointer if pointer[1:] in values else "", []).extend(messages)
            if not errors:
                errors[""] = [error.detail_en if lang == "en" else error.detail_zh]
            orgs = await to_thread.run_sync(organisations, hub, session.principal)
            return new_form(request, session, orgs, values, errors, 422)
        return RedirectResponse(f"/console/meetings/{made}", status_code=303)

    async def meeting_page(
        request: Request,
        session: Session,
        activity_id: str,
        *,
        status: int = 200,
        notice: str = "",
        errors: dict[str, list[str]] | None = None,
        warnings: dict[str, list[str]] | None = None,
        marks: dict[str, tuple[str, str | None]] | None = None,
    ) -> Response:
        hub = hub_of(request)
        try:
            meeting = await to_thread.run_sync(
                checkins.load_meeting, hub, session.principal, activity_id
            )
        except HubError:
            return _render(request, "error.html", 404, error="no-meeting", session=session)
        people = await to_thread.run_sync(checkins.branch_members, hub, meeting.organisation_id)
        states = await to_thread.run_sync(checkins.checkin_states, hub, activity_id)
        stored = meeting.attendance
        chosen = marks or {m: (str(e.get("status")), e.get("reason")) for m, e in stored.items()}
        order = list(marks or {})
        rows = []
        for person in people:
            status_, reason = chosen.get(person.id, ("", None))
            at = order.index(person.id) if person.id in order else -1
            rows.append(
                {
                    "id": person.id,
                    "name": person.name,
                    "status": status_,
                    "reason": reason or "",
                    "checkin": states.get(person.id, ""),
                    "errors": _at(errors, at),
                    "warnings": _at(warnings, at),
                }
            )
        counts = {s: sum(1 for r in rows if r["status"] == s) for s in _STATUSES}
        shown_errors = _outside_rows(errors)
        shown_warnings = _outside_rows(warnings)
        return _render(
            request,
            "meeting.html",
            status,
            session=session,
            meeting=meeting,
            record=meeting.record,
            rows=rows,
            counts=counts,
            due=len(rows),
            notice=notice,
            errors=shown_errors,
            warnings=shown_warnings,
            shown=_shown,
            pending=sum(1 for r in rows if r["checkin"] == "pending"),
        )

    @router.get("/console/meetings/{activity_id}")
    async def meeting(request: Request, activity_id: str, saved: str = "") -> Response:
        session = await _manager(request)
        if isinstance(session, Response):
            return session
        notice = {"1": "saved-attendance"}.get(saved, "")
        return await meeting_page(request, session, activity_id[:96], notice=notice)

    @router.post("/console/meetings/{activity_id}")
    async def meeting_save(request: Request, activity_id: str) -> Response:
        session = await _manager(request)
        if isinstance(session, Response):
            return session
        form = await checked_form(request, session)
        activity_id = activity_id[:96]
        hub = hub_of(request)
        version = field(form, "version")
        marks: dict[str, tuple[str, str | None]] = {}
        for key in form:
            if key.startswith("status:"):
                member_id = key.removeprefix("status:")[:96]
                status = field(form, key)
                if status in _STATUSES:
                    reason = field(form, f"reason:{member_id}").strip()
                    marks[member_id] = (status, reason if status != "present" and reason else None)
        lang = lang_of(request)
        try:
            warnings = await to_thread.run_sync(
                checkins.save_attendance,
                hub,
                session.principal,
                session.username,
                activity_id,
                int(version) if version.isascii() and version.isdigit() else 0,
                marks,
            )
        except (NotFound, PreconditionFailed) as error:
            if isinstance(error, NotFound):
                return _render(request, "error.html", 404, error="no-meeting", session=session)
            return await meeting_page(
                request, session, activity_id, status=409, notice="stale", marks=marks
            )
        except HubError as error:
            return await meeting_page(
                request,
                session,
                activity_id,
                status=422,
                notice="invalid",
                errors=_field_errors(error, lang),
                marks=marks,
            )
        if warnings:
            return await meeting_page(
                request,
                session,
                activity_id,
                notice="saved-attendance",
                warnings=_messages(warnings, lang),
                marks=marks,
            )
        return RedirectResponse(f"/console/meetings/{activity_id}?saved=1", status_code=303)

    @router.post("/console/meetings/{activity_id}/confirm")
    async def meeting_confirm(request: Request, activity_id: str) -> Response:
        session = await _manager(request)
        if isinstance(session, Response):
            return session
        form = await checked_form(request, session)
        activity_id = activity_id[:96]
        member = field(form, "member")
        try:
            await to_thread.run_sync(
                checkins.confirm_checkins,
                hub_of(request),
                session.principal,
                session.username,
                activity_id,
                [member] if member else [],
            )
        except NotFound:
            return _render(request, "error.html", 404, error="no-meeting", session=session)
        except HubError:
            return await meeting_page(request, session, activity_id, status=409, notice="stale")
        return RedirectResponse(f"/console/meetings/{activity_id}", status_code=303)

    @router.get("/console/meetings/{activity_id}/qr")
    async def meeting_qr(request: Request, activity_id: str) -> Response:
        session = await _manager(request)
        if isinstance(session, Response):
            return session
        hub = hub_of(request)
        try:
            meeting = await to_thread.run_sync(
                checkins.load_meeting, hub, session.principal, activity_id[:96]
            )
        except HubError:
            return _render(request, "error.html", 404, error="no-meeting", session=session)
        link = f"{_base_url(request, settings)}/console/checkin/{checkins.sign_link(hub, meeting)}"
        svg = segno.make(link, error="m").svg_inline(scale=6, dark="#000", light="#fff")
        opens, closes = checkins.window(meeting)
        return _render(
            request,
            "meeting_qr.html",
            session=session,
            meeting=meeting,
            record=meeting.record,
            link=link,
            svg=Markup(svg),  # segno's own SVG: no text of ours inside it but the link
            opens=_beijing(opens),
            closes=_beijing(closes),
            shown=_shown,
        )

    def checkin_page(
        request: Request,
        token: str,
        meeting: checkins.Meeting | None,
        *,
        status: int = 200,
        error: str = "",
        left: int = 0,
        done: str = "",
        chosen: str = "",
    ) -> Response:
        people = (
            checkins.branch_members(hub_of(request), meeting.organisation_id)
            if (meeting is not None and not done and error not in ("bad-link", "closed", "gone"))
            else []
        )
        csrf = secrets.token_urlsafe(24)
        response = _render(
            request,
            "checkin.html",
            status,
            session=None,
            meeting=meeting,
            record=meeting.record if meeting is not None else {},
            people=people,
            token=token,
            error=error,
            left=left,
            done=done,
            chosen=chosen,
            csrf=csrf,
            shown=_shown,
        )
        response.set_cookie(
            _CHECKIN_CSRF,
            csrf,
            httponly=True,
            samesite="strict",
            secure=secure(request, settings),
            path="/console/checkin/",
        )
        return response

    def open_meeting(token: str, hub: Any) -> tuple[str, checkins.Meeting | None]:
        now = datetime.now(UTC)
        link = checkins.open_link(hub, token)
        state = checkins.link_state(link, now)
        meeting = checkins.meeting_for_link(hub, link) if link is not None else None
        if state == "open":
            state = "gone" if meeting is None else checkins.window_state(meeting, now)
        return state, meeting

    @router.get("/console/checkin/{token}")
    async def checkin_form(request: Request, token: str) -> Response:
        hub = hub_of(request)
        state, meeting = await to_thread.run_sync(open_meeting, token[:400], hub)
        if state != "open":
            return checkin_page(request, "", meeting, status=_STATUS[state], error=state)
        return checkin_page(request, token, meeting)

    @router.post("/console/checkin/{token}")
    async def checkin_submit(request: Request, token: str) -> Response:
        hub = hub_of(request)
        token = token[:400]
        form = await request.form()
        _, meeting = await to_thread.run_sync(open_meeting, token, hub)
        if not csrf_ok(request.cookies.get(_CHECKIN_CSRF), form.get("csrf")):
            return checkin_page(request, token, meeting, status=403, error="csrf")
        member_id = field(form, "member")[:96]
        digits = field(form, "digits")[:8]
        outcome = await to_thread.run_sync(
            lambda: checkins.check_in(
                hub, token, member_id, digits, client=client_of(request), limiter=attempts
            )
        )
        if outcome.ok:
            return checkin_page(request, "", meeting, done=outcome.name)
        return checkin_page(
            request,
            token if outcome.reason not in ("bad-link", "closed", "gone") else "",
            meeting,
            status=_STATUS.get(outcome.reason, 400),
            error=outcome.reason,
            left=outcome.tries_left,
            chosen=member_id,
        )

    return router
