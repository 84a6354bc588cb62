"""The console's pages at ``/console/``: login and logout, password change, the dashboard and
the member list. Server-rendered Jinja2 templates; every asset is served by the hub from
``/static/``; every form carries a CSRF token; every page asks the one policy
(:mod:`tongxin.server._policy`) through the signed-in user's caller."""

from __future__ import annotations

import asyncio
import math
import secrets
from datetime import date

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tongxin.server._accounts import (
    Session,
    change_password,
    end_session,
    failure_delay,
    login,
)
from tongxin.server._directory import MemberQuery, organisations, search_members
from tongxin.server._errors import Forbidden, HubError
from tongxin.server._settings import Settings
from tongxin.server._stats import StatsQuery, compute_stats

from . import _member_pages, _orgs, _transfer_pages
from ._page import (
    LANG_COOKIE,
    SESSION_COOKIE,
    checked_form,
    client_of,
    csrf_ok,
    error_page,
    field,
    hub_of,
    render,
    script_json,
    secure,
    signed_in,
)
from ._statspage import stats_router
from ._tokens import tokens_router

__all__ = ["console_router"]

_LOGIN_CSRF = "tongxin_login_csrf"
_PER_PAGE = 20


def _safe_next(value: str) -> str:
    return value if value.startswith("/console/") and "//" not in value else "/console/"


def console_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.include_router(tokens_router(settings))
    router.include_router(stats_router(settings))

    def login_page(
        request: Request, status: int = 200, error: str | None = None, next_url: str = ""
    ) -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        response = render(request, "login.html", status, csrf=token, error=error, next_url=next_url)
        response.set_cookie(
            _LOGIN_CSRF,
            token,
            httponly=True,
            samesite="strict",
            secure=secure(request, settings),
            path="/console/",
        )
        return response

    @router.get("/console")
    async def root() -> Response:
        return RedirectResponse("/console/", status_code=308)

    @router.get("/console/login")
    async def login_form(request: Request, next: str = "") -> Response:
        return login_page(request, next_url=_safe_next(next) if next else "")

    @router.post("/console/login")
    async def login_submit(request: Request) -> Response:
        form = await request.form()
        next_url = field(form, "next")
        if not csrf_ok(request.cookies.get(_LOGIN_CSRF), form.get("csrf")):
            return login_page(request, 403, "csrf", next_url)
        username, password = field(form, "username").strip(), field(form, "password")
        outcome = await to_thread.run_sync(
            lambda: login(hub_of(request).db, username, password, client=client_of(request))
        )
        if outcome.cookie is None:
            if outcome.reason == "bad":
                await asyncio.sleep(failure_delay(outcome.failures))
            return login_page(request, 401, outcome.reason, next_url)
        response = RedirectResponse(_safe_next(next_url), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            outcome.cookie,
            httponly=True,
            samesite="strict",
            secure=secure(request, settings),
            path="/",
        )
        response.delete_cookie(_LOGIN_CSRF, path="/console/")
        return response

    @router.post("/console/logout")
    async def logout(request: Request) -> Response:
        session = await signed_in(request, allow_must_change=True)
        await checked_form(request, session)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        await to_thread.run_sync(
            lambda: end_session(hub_of(request).db, cookie, session, client=client_of(request))
        )
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/console/lang")
    async def language(request: Request, to: str = "zh-CN", next: str = "") -> Response:
        back = next if next.startswith("/console/") and "//" not in next else "/console/"
        response = RedirectResponse(back, status_code=303)
        response.set_cookie(
            LANG_COOKIE, "en" if to == "en" else "zh-CN", samesite="strict", path="/console/"
        )
        return response

    @router.get("/console/password")
    async def password_form(request: Request) -> Response:
        session = await signed_in(request, allow_must_change=True)
        return render(request, "password.html", session=session, error=None, saved=False)

    @router.post("/console/password")
    async def password_submit(request: Request) -> Response:
        session = await signed_in(request, allow_must_change=True)
        form = await request.form()
        if not csrf_ok(session.csrf, form.get("csrf")):
            return render(request, "password.html", 403, session=session, error="csrf")
        old, new = field(form, "old"), field(form, "new")
        reason = await to_thread.run_sync(
            lambda: change_password(
                hub_of(request).db, session, old, new, client=client_of(request)
            )
        )
        if reason:
            return render(request, "password.html", 400, session=session, error=reason)
        return RedirectResponse("/console/", status_code=303)

    @router.get("/console/")
    async def dashboard(request: Request, organisationId: str = "") -> Response:  # noqa: N803
        session = await signed_in(request)
        hub = hub_of(request)
        query = StatsQuery(organisationId or None, None, date.today())
        try:
            stats = await to_thread.run_sync(compute_stats, hub, session.principal, query)
        except HubError:
            return error_page(request, session, "not-found", 404)
        orgs = await to_thread.run_sync(organisations, hub, session.principal)
        return render(
            request,
            "dashboard.html",
            session=session,
            stats=stats,
            stats_json=script_json(stats),
            orgs=orgs,
            chosen=organisationId,
        )

    async def members_page(
        request: Request, session: Session, params: dict[str, str], page: int, status: int = 200
    ) -> Response:
        hub = hub_of(request)
        query = MemberQuery(
            name=params.get("name") or None,
            citizen_id=params.get("citizenId") or None,
            phone=params.get("phone") or None,
            organisation_id=params.get("organisationId") or None,
            page=max(1, min(page, 1_000_000)),
            per_page=_PER_PAGE,
        )
        try:
            total, rows = await to_thread.run_sync(search_members, hub, session.principal, query)
        except Forbidden:
            return error_page(request, session, "sensitive-search", 403)
        except HubError:
            return error_page(request, session, "not-found", 404)
        orgs = await to_thread.run_sync(organisations, hub, session.principal)
        return render(
            request,
            "members.html",
            status,
            session=session,
            total=total,
            rows=rows,
            orgs=orgs,
            query=params,
            sensitive=session.principal.has("records:read-sensitive"),
            page=query.page,
            pages=max(1, math.ceil(total / _PER_PAGE)),
        )

    @router.get("/console/members")
    async def members(request: Request, organisationId: str = "") -> Response:  # noqa: N803
        session = await signed_in(request)
        return await members_page(request, session, {"organisationId": organisationId[:96]}, 1)

    @router.post("/console/members")
    async def members_search(request: Request) -> Response:
        """The search is a POST form: a citizen ID or phone never lands in a URL or a log."""
        session = await signed_in(request)
        form = await checked_form(request, session)
        params = {
            key: field(form, key).strip()
            for key in ("name", "citizenId", "phone", "organisationId")
        }
        page = field(form, "page")
        return await members_page(
            request, session, params, int(page) if page.isascii() and page.isdigit() else 1
        )

    router.include_router(_orgs.org_pages())
    router.include_router(_member_pages.member_pages())
    router.include_router(_transfer_pages.transfer_pages())
    return router
