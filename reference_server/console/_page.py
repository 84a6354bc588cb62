"""What every console page module shares: the signed-in user (or a redirect to the login
page), CSRF checks, and rendering a template of ``templates/`` with the console's words and the
same security headers as every console page."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tongxin.server._accounts import Session, open_session
from tongxin.server._hub import Hub

from ._text import words

__all__ = [
    "HEADERS",
    "MAX_FIELD",
    "SESSION_COOKIE",
    "client_of",
    "csrf_ok",
    "field",
    "hub_of",
    "lang_of",
    "render",
    "signed_in",
]

#: The session cookie (set by the login page).
SESSION_COOKIE = "tongxin_session"
MAX_FIELD = 200
HEADERS = {
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


def lang_of(request: Request) -> str:
    return "en" if request.cookies.get("tongxin_lang") == "en" else "zh-CN"


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def signed_in(request: Request) -> Session | RedirectResponse:
    """The signed-in user, or the redirect to the login page (or to the password page while
    the one-time password is still in use)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    session = await to_thread.run_sync(open_session, hub_of(request).db, cookie)
    if session is None:
        return RedirectResponse(f"/console/login?next={quote(request.url.path)}", 303)
    if session.must_change:
        return RedirectResponse("/console/password", 303)
    return session


def csrf_ok(session: Session, given: Any) -> bool:
    return isinstance(given, str) and hmac.compare_digest(session.csrf, given)


def field(form: Any, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def render(
    request: Request, name: str, extra_words: dict[str, tuple[str, str]], status: int = 200,
    **context: Any,
) -> HTMLResponse:  # fmt: skip
    """``templates/name`` with the console's words (``t``) and the page's own (``w``)."""
    lang = lang_of(request)
    index = 1 if lang == "en" else 0
    own = {key: pair[index] for key, pair in extra_words.items()}
    html = _templates.get_template(name).render(
        t=words(lang), w=own, lang=lang, path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)
