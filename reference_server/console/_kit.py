"""What the record pages share: the signed-in user (the same session and policy as the other
console pages), rendering with the console's words, CSRF checks, and the record form — a list
of fields read from a posted form over the stored record, so that nothing the form does not
show is ever erased, with the standard's issues placed at the field their JSON Pointer names."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from anyio import to_thread
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tongxin.schemas import codelist, problems
from tongxin.server._accounts import Session, open_session
from tongxin.server._errors import HubError
from tongxin.server._hub import Hub
from tongxin.server._policy import Act, authorize
from tongxin.server._reads import get_record
from tongxin.server._security import Principal

from ._page import HEADERS, SESSION_COOKIE, hub_of, lang_of
from ._pagetext import page_words
from ._text import words
from ._web import REDIRECT

__all__ = [
    "FormErrors",
    "Spec",
    "csrf_ok",
    "errors_of",
    "form_values",
    "form_version",
    "hub_of",
    "lang_of",
    "may_write",
    "merge_form",
    "read_visible",
    "render",
    "signed_in",
    "text",
    "word",
]

_MAX_FIELD = 200
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


@dataclass(frozen=True, slots=True)
class Spec:
    """One field of a record form: its JSON name, titles, and kind (``text``, ``date``,
    ``code`` of ``codes``, ``org`` (one of the caller's organisations), ``int``,
    ``sensitive`` (never echoed from the store: blank keeps the stored value), ``hidden``)."""

    name: str
    zh: str
    en: str
    kind: str = "text"
    codes: str = ""
    required: bool = False
    hint: str = ""

    def title(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def options(self, lang: str) -> list[tuple[str, str]]:
        if self.kind != "code":
            return []
        listing = codelist(self.codes)
        index = 1 if lang == "en" else 0
        return [(c.code, (c.title_zh, c.title_en)[index]) for c in listing.codes]


@dataclass(slots=True)
class FormErrors:
    """Issues placed at their fields (by JSON Pointer), and the ones no field shows."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    stale: tuple[int, int] | None = None

    def __bool__(self) -> bool:
        return bool(self.fields or self.general or self.stale)


def _titler(lang: str) -> Any:
    def title(list_name: str, code: str | None) -> str:
        if code is None:
            return ""
        try:
            zh, en = codelist(list_name).title(code)
        except KeyError:
            return code
        return en if lang == "en" else zh

    return title


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    html = _templates.get_template(name).render(
        t={**words(lang), **page_words(lang)},
        lang=lang,
        path=request.url.path,
        title=_titler(lang),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


async def signed_in(request: Request) -> Session:
    """The signed-in user allowed to read, or a redirect to the login page (or to the password
    page while the one-time password is still in use)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    session = await to_thread.run_sync(open_session, hub_of(request).db, cookie)
    if session is None:
        raise REDIRECT(f"/console/login?next={quote(request.url.path)}")
    if session.must_change:
        raise REDIRECT("/console/password")
    authorize(session.principal, Act.READ)
    return session


def may_write(session: Session) -> bool:
    return session.principal.has("records:write")


def csrf_ok(session: Session, form: Any) -> bool:
    given = form.get("csrf")
    return isinstance(given, str) and hmac.compare_digest(session.csrf, given)


def text(form: Any, name: str) -> str:
    value = form.get(name)
    return value[:_MAX_FIELD].strip() if isinstance(value, str) else ""


def read_visible(
    hub: Hub, principal: Principal, collection: str, rid: str
) -> tuple[dict[str, Any], int] | None:
    """A live record the caller may see (with its sensitive fields when the caller may read
    them), and its version; None when it does not exist for the caller."""
    try:
        found = get_record(hub, principal, collection, rid)
    except HubError:
        return None
    record: dict[str, Any] = orjson.loads(found.body)
    return record, found.version


def form_values(record: dict[str, Any], specs: list[Spec]) -> dict[str, str]:
    """What the form shows for a stored record (a sensitive field shows nothing)."""
    out: dict[str, str] = {}
    for spec in specs:
        value = record.get(spec.name)
        if spec.kind == "sensitive" or value is None:
            out[spec.name] = ""
        else:
            out[spec.name] = str(value)
    return out


def merge_form(
    stored: dict[str, Any], form: Any, specs: list[Spec]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The record to save: the stored record (as the caller sees it) with the form's fields
    over it — every field the form does not show is kept as stored, a blank sensitive field
    keeps its stored value (a field the caller cannot read is kept by the write path), a
    blank field of the form is removed. Also the values as entered, to show them again."""
    body = dict(stored)
    entered: dict[str, str] = {}
    for spec in specs:
        raw = text(form, spec.name)
        entered[spec.name] = raw
        if spec.kind == "sensitive":
            if form.get(f"{spec.name}--clear") == "1":
                body.pop(spec.name, None)
            elif raw:
                body[spec.name] = raw
            continue
        if not raw:
            body.pop(spec.name, None)
        elif spec.kind == "int":
            body[spec.name] = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else raw
        else:
            body[spec.name] = raw
    return body, entered


def errors_of(error: HubError, specs: list[Spec], lang: str, mine: int | None) -> FormErrors:
    """Place a refused save's issues at the fields their pointers name (``/birthDate`` →
    ``birthDate``); the rest, and a refusal without issues, above the form. A stale version
    (412 ``version-mismatch``) is a conflict of its own."""
    out = FormErrors()
    if error.code == problems.VERSION_MISMATCH:
        current = error.extra.get("currentVersion")
        out.stale = (int(current) if isinstance(current, int) else 0, mine or 0)
        return out
    names = {s.name for s in specs if s.kind != "hidden"}
    for issue in error.issues:
        parts = issue.pointer.split("/")
        name = parts[1] if len(parts) > 1 else ""
        message = issue.message(lang)
        if name in names:
            out.fields.setdefault(name, []).append(message)
        else:
            out.general.append(message)
    if not error.issues:
        out.general.append(error.detail_en if lang == "en" else error.detail_zh)
    return out


def form_version(form: Any) -> int:
    """The version the form was opened at; a form without one matches no version."""
    value = form.get("version")
    return (
        int(value)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10
        else -1
    )


def word(request: Request, key: str) -> str:
    """One word of these pages in the reader's language."""
    return page_words(lang_of(request))[key]
