"""The console's pages at ``/console/``: login and logout, password change, the dashboard and
the member list. Server-rendered Jinja2 templates; every asset is served by the hub from
``/static/``; every form carries a CSRF token; every page asks the one policy
(:mod:`tongxin.server._policy`) through the signed-in user's caller."""

from __future__ import annotations

import asyncio
import hmac
import math
import secrets
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from tongxin.schemas import codelist
from tongxin.server._accounts import (
    Session,
    change_password,
    end_session,
    failure_delay,
    login,
    open_session,
)
from tongxin.server._directory import MemberQuery, organisations, search_members
from tongxin.server._errors import HubError
from tongxin.server._hub import Hub
from tongxin.server._policy import Act, authorize
from tongxin.server._settings import Settings
from tongxin.server._stats import StatsQuery, compute_stats

from ._statspage import stats_router
from ._text import words
from ._tokens import tokens_router

__all__ = ["SESSION_COOKIE", "console_router"]

SESSION_COOKIE = "tongxin_session"
_LOGIN_CSRF = "tongxin_login_csrf"
_LANG = "tongxin_lang"
_PER_PAGE = 20
_MAX_FIELD = 200
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


class _Redirect(Exception):  # noqa: N818 (control flow, not an error)
    def __init__(self, to: str) -> None:
        self.to = to


def _lang(request: Request) -> str:
    return "en" if request.cookies.get(_LANG) == "en" else "zh-CN"


def _secure(request: Request, settings: Settings) -> bool:
    return (
        request.url.scheme == "https"
        or settings.behind_tls_proxy
        or (settings.public_url or "").startswith("https://")
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _titler(lang: str) -> Any:
    def title(list_name: str, code: str) -> str:
        try:
            zh, en = codelist(list_name).title(code)
        except KeyError:
            return code
        return en if lang == "en" else zh

    return title


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = _lang(request)
    html = _templates.get_template(name).render(
        t=words(lang), lang=lang, path=request.url.path, title=_titler(lang), **context
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _script_json(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` element: no ``<``, ``>`` or ``&`` in
    it, so no text (a name, say) can close the element."""
    text = orjson.dumps(value).decode()
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)  # escaped above for this context


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def _session(request: Request, *, allow_must_change: bool = False) -> Session:
    """The signed-in user, or a redirect to the login page (or to the password page while the
    one-time password is still in use)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    session = await to_thread.run_sync(open_session, _hub(request).db, cookie)
    if session is None:
        raise _Redirect(f"/console/login?next={quote(request.url.path)}")
    if session.must_change and not allow_must_change:
        raise _Redirect("/console/password")
    authorize(session.principal, Act.READ)
    return session


def _csrf_ok(expected: str | None, given: Any) -> bool:
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected or "", given)


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value[:_MAX_FIELD] if isinstance(value, str) else ""


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
        response = _render(
            request, "login.html", status, csrf=token, error=error, next_url=next_url
        )
        response.set_cookie(
            _LOGIN_CSRF,
            token,
            httponly=True,
            samesite="strict",
            secure=_secure(request, settings),
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
        next_url = _field(form, "next")
        if not _csrf_ok(request.cookies.get(_LOGIN_CSRF), form.get("csrf")):
            return login_page(request, 403, "csrf", next_url)
        username, password = _field(form, "username").strip(), _field(form, "password")
        outcome = await to_thread.run_sync(
            lambda: login(_hub(request).db, username, password, client=_client(request))
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
            secure=_secure(request, settings),
            path="/",
        )
        response.delete_cookie(_LOGIN_CSRF, path="/console/")
        return response

    @router.post("/console/logout")
    async def logout(request: Request) -> Response:
        session = await _session(request, allow_must_change=True)
        form = await request.form()
        if not _csrf_ok(session.csrf, form.get("csrf")):
            return _render(request, "error.html", 403, error="csrf", session=session)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        await to_thread.run_sync(
            lambda: end_session(_hub(request).db, cookie, session, client=_client(request))
        )
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/console/lang")
    async def language(request: Request, to: str = "zh-CN", next: str = "") -> Response:
        back = next if next.startswith("/console/") and "//" not in next else "/console/"
        response = RedirectResponse(back, status_code=303)
        response.set_cookie(
            _LANG, "en" if to == "en" else "zh-CN", samesite="strict", path="/console/"
        )
        return response

    @router.get("/console/password")
    async def password_form(request: Request) -> Response:
        session = await _session(request, allow_must_change=True)
        return _render(request, "password.html", session=session, error=None, saved=False)

    @router.post("/console/password")
    async def password_submit(request: Request) -> Response:
        session = await _session(request, allow_must_change=True)
        form = await request.form()
        if not _csrf_ok(session.csrf, form.get("csrf")):
            return _render(request, "password.html", 403, session=session, error="csrf")
        old, new = _field(form, "old"), _field(form, "new")
        reason = await to_thread.run_sync(
            lambda: change_password(_hub(request).db, session, old, new, client=_client(request))
        )
        if reason:
            return _render(request, "password.html", 400, session=session, error=reason)
        return RedirectResponse("/console/", status_code=303)

    @router.get("/console/")
    async def dashboard(request: Request, organisationId: str = "") -> Response:  # noqa: N803
        session = await _session(request)
        hub = _hub(request)
        query = StatsQuery(organisationId or None, None, date.today())
        try:
            stats = await to_thread.run_sync(compute_stats, hub, session.principal, query)
        except HubError:
            return _render(request, "error.html", 404, error="not-found", session=session)
        orgs = await to_thread.run_sync(organisations, hub, session.principal)
        return _render(
            request,
            "dashboard.html",
            session=session,
            stats=stats,
            stats_json=_script_json(stats),
            orgs=orgs,
            chosen=organisationId,
        )

    async def members_page(
        request: Request, session: Session, params: dict[str, str], page: int, status: int = 200
    ) -> Response:
        hub = _hub(request)
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
        except HubError:
            return _render(request, "error.html", 404, error="not-found", session=session)
        orgs = await to_thread.run_sync(organisations, hub, session.principal)
        return _render(
            request,
            "members.html",
            status,
            session=session,
            total=total,
            rows=rows,
            orgs=orgs,
            query=params,
            page=query.page,
            pages=max(1, math.ceil(total / _PER_PAGE)),
        )

    @router.get("/console/members")
    async def members(request: Request, organisationId: str = "") -> Response:  # noqa: N803
        session = await _session(request)
        return await members_page(request, session, {"organisationId": organisationId[:96]}, 1)

    @router.post("/console/members")
    async def members_search(request: Request) -> Response:
        """The search is a POST form: a citizen ID or phone never lands in a URL or a log."""
        session = await _session(request)
        form = await request.form()
        if not _csrf_ok(session.csrf, form.get("csrf")):
            return _render(request, "error.html", 403, error="csrf", session=session)
        params = {
            key: _field(form, key).strip()
            for key in ("name", "citizenId", "phone", "organisationId")
        }
        page = _field(form, "page")
        return await members_page(request, session, params, int(page) if page.isdigit() else 1)

    from . import _member_pages, _orgs, _transfer_pages  # they use this module's names

    router.include_router(_orgs.org_pages())
    router.include_router(_member_pages.member_pages())
    router.include_router(_transfer_pages.transfer_pages())
    return router


async def redirect_handler(request: Request, exc: Exception) -> Response:
    """Turn :class:`_Redirect` into a 303 (a page that needs a session, without one)."""
    assert isinstance(exc, _Redirect)
    return RedirectResponse(exc.to, status_code=303)


REDIRECT = _Redirect
