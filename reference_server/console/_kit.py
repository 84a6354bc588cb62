"""The record form of the record pages (organisations, members, dues, transfers): a list of
fields read from a posted form over the stored record, so that nothing the form does not show
is ever erased, with the standard's issues placed at the field their JSON Pointer names. The
page plumbing (session, CSRF, rendering) is :mod:`._page`'s."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from anyio import to_thread
from fastapi import Request

from tongxin.schemas import codelist, problems
from tongxin.server._accounts import Session
from tongxin.server._errors import HubError
from tongxin.server._hub import Hub
from tongxin.server._reads import get_record
from tongxin.server._security import Principal

from ._page import Refused, hub_of, lang_of
from ._page import field as posted
from ._pagetext import page_words

__all__ = [
    "FormErrors",
    "Spec",
    "editable",
    "errors_of",
    "form_values",
    "form_version",
    "may_write",
    "merge_form",
    "read_visible",
    "word",
]


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


def may_write(session: Session) -> bool:
    return session.principal.has("records:write")


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


async def editable(
    request: Request, session: Session, collection: str, rid: str
) -> tuple[dict[str, Any], int]:
    """A record the signed-in user may see and change, and its version; else :class:`Refused`
    (404 ``record-missing`` when the user cannot see it, 403 ``read-only`` when the user may
    only read)."""
    found = await to_thread.run_sync(
        read_visible, hub_of(request), session.principal, collection, rid
    )
    if found is None:
        raise Refused(session, "record-missing", 404)
    if not may_write(session):
        raise Refused(session, "read-only", 403)
    return found


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
        raw = posted(form, spec.name).strip()
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
