"""The plumbing every console page module shares: the reader's language, the hub and the
client's address of a request, the signed-in user (or a redirect to the login page), CSRF
checks, reading a posted field, JSON for a page's script, and rendering a template of
``templates/`` with the console's words and the same security headers on every page."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from anyio import to_thread
from fastapi import Request
from fastapi.datastructures import FormData
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from tongxin.schemas import codelist
from tongxin.server._accounts import Session, open_session
from tongxin.server._hub import Hub
from tongxin.server._policy import Act, authorize
from tongxin.server._settings import Settings

from ._pagetext import PAGE_TEXT
from ._text import TEXT

__all__ = [
    "CST",
    "HEADERS",
    "LANG_COOKIE",
    "MAX_FIELD",
    "SESSION_COOKIE",
    "Redirect",
    "Refused",
    "checked_form",
    "client_of",
    "csrf_ok",
    "error_page",
    "field",
    "hub_of",
    "lang_of",
    "redirect_handler",
    "refused_handler",
    "render",
    "script_json",
    "secure",
    "signed_in",
    "titler",
]

#: Times on the console's pages are Beijing time.
CST = timezone(timedelta(hours=8))
#: The session cookie (set by the login page).
SESSION_COOKIE = "tongxin_session"
#: The reader's language (``en``, else zh-CN), set by ``/console/lang``.
LANG_COOKIE = "tongxin_lang"
#: The longest value read from a posted field.
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
#: ``{{ when | local }}``: an aware time as Beijing time (``2026-12-01 14:30``).
_templates.filters["local"] = lambda when: when.astimezone(CST).strftime("%Y-%m-%d %H:%M")


class Redirect(Exception):  # noqa: N818 (control flow, not an error)
    """Raised by a page that needs a session without one: answered with a 303 to ``to``."""

    def __init__(self, to: str) -> None:
        self.to = to


class Refused(Exception):  # noqa: N818 (control flow, not an error)
    """Raised by a page that refuses the signed-in user's request: answered with the error
    page saying ``key`` (a word of the console), status ``status``."""

    def __init__(self, session: Session, key: str, status: int) -> None:
        self.session, self.key, self.status = session, key, status


def error_page(
    request: Request,
    session: Session | None,
    key: str,
    status: int,
    *,
    words: Mapping[str, tuple[str, str]] | None = None,
) -> HTMLResponse:
    """The error page saying the word ``key``."""
    return render(request, "error.html", status, words=words, error=key, session=session)


async def refused_handler(request: Request, exc: Exception) -> Response:
    """Turn :class:`Refused` into its error page."""
    assert isinstance(exc, Refused)
    return error_page(request, exc.session, exc.key, exc.status)


async def redirect_handler(request: Request, exc: Exception) -> Response:
    """Turn :class:`Redirect` into a 303 (a page that needs a session, without one)."""
    assert isinstance(exc, Redirect)
    return RedirectResponse(exc.to, status_code=303)


def lang_of(request: Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh-CN"


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def secure(request: Request, settings: Settings) -> bool:
    """Whether a cookie set on this request's answer is to be ``Secure`` (served over TLS)."""
    return (
        request.url.scheme == "https"
        or settings.behind_tls_proxy
        or (settings.public_url or "").startswith("https://")
    )


def titler(lang: str) -> Any:
    """``title(list, code)``: a code's title in ``lang`` (the code itself when unknown)."""

    def title(list_name: str, code: str | None) -> str:
        if code is None:
            return ""
        try:
            zh, en = codelist(list_name).title(code)
        except KeyError:
            return code
        return en if lang == "en" else zh

    return title


def render(
    request: Request,
    name: str,
    status: int = 200,
    *,
    words: Mapping[str, tuple[str, str]] | None = None,
    **context: Any,
) -> HTMLResponse:
    """``templates/name`` with the console's words (``t``, the page's own ``words`` over
    them), the language, the path and the code-list titler."""
    lang = lang_of(request)
    index = 1 if lang == "en" else 0
    merged = {**TEXT, **PAGE_TEXT, **(words or {})}
    html = _templates.get_template(name).render(
        t={key: pair[index] for key, pair in merged.items()},
        lang=lang,
        path=request.url.path,
        title=titler(lang),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def script_json(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` element: no ``<``, ``>`` or ``&`` in
    it, so no text (a name, say) can close the element."""
    text = orjson.dumps(value).decode()
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)  # escaped above for this context


async def signed_in(request: Request, *, allow_must_change: bool = False) -> Session:
    """The signed-in user allowed to read, or :class:`Redirect` to the login page (or to the
    password page while the one-time password is still in use)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    session = await to_thread.run_sync(open_session, hub_of(request).db, cookie)
    if session is None:
        raise Redirect(f"/console/login?next={quote(request.url.path)}")
    if session.must_change and not allow_must_change:
        raise Redirect("/console/password")
    authorize(session.principal, Act.READ)
    return session


def csrf_ok(expected: str | None, given: Any) -> bool:
    """Whether a posted token (``given``) is the one expected (a session's or a cookie's)."""
    return (
        bool(expected)
        and isinstance(given, str)
        and hmac.compare_digest((expected or "").encode(), given.encode())
    )


async def checked_form(request: Request, session: Session) -> FormData:
    """The posted form of a signed-in user's page, its CSRF token checked (else
    :class:`Refused`, 403)."""
    form = await request.form()
    if not csrf_ok(session.csrf, form.get("csrf")):
        raise Refused(session, "csrf", 403)
    return form


def field(form: Any, name: str) -> str:
    """A posted field's text, at most :data:`MAX_FIELD` characters ("" when absent)."""
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""
