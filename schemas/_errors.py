"""One error model for the standard, the hub and the federation.

:class:`TongxinError` carries an HTTP ``status``, a catalogued ``code``
(:mod:`tongxin.schemas.problems`), a detail in Chinese and English, the issues (JSON Pointer,
rule, message) and problem extension members. It knows its RFC 9457 wire form
(:meth:`TongxinError.to_problem`) and :func:`from_problem` rebuilds the same error from one,
keyed by code. Every constructor takes ``(code, en, zh)`` in that order::

    TongxinError                          (tongxin.schemas)
    ├── HubError and its status classes   (tongxin.server: BadRequest … NotReady)
    ├── FederationError and its families  (tongxin.federation: SignatureError … )
    └── the client's TongxinError         (tongxin.client: NotFound … , one per problem type,
                                           built from a hub's answer; not catalogued)

The validator's :class:`PackageReadError` and :class:`PackageSyntaxError` are ones too (they
keep their published constructors). Outside the tree, on purpose: the operator's errors
(``ConfigurationError``, ``KeyStoreError``, ``BackupError``) end a command or a start-up with
one message telling the operator what to run, and have no status or wire form; and the hub's
internal outcomes of calling a peer (``DeliveryError``, ``SyncError``, ``CursorMovedError``),
which carry the peer's problem (a :class:`TongxinError`) or steer a retry and never reach a
client.

This module imports nothing of Tongxin but the standard's own issues and catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from ._issues import Issue
from .problems import CATALOGUE, PROBLEM_BASE, ProblemCode

__all__ = ["STANDARD_MEMBERS", "TongxinError", "error_class", "from_problem"]

#: The members of a problem body that are not extensions.
STANDARD_MEMBERS = frozenset(
    {"type", "title", "status", "detail", "detailZh", "code", "errors", "instance"}
)

_CLASSES: dict[str, type[TongxinError]] = {}


class TongxinError(Exception):
    """A failure the caller can act on, with its wire form (RFC 9457)."""

    #: The HTTP status. A subclass named after a status fixes it; 0 here means "the
    #: catalogue's status for the code" (500 for an uncatalogued one).
    status: int = 0
    #: The title used for a code the catalogue does not know (a peer's newer code).
    fallback_title: ClassVar[str] = "Error"
    #: Whether the class (and, inherited, its subclasses) answers for the catalogue's ``kind``
    #: of its name. The client's exceptions are named like the hub's and set it False.
    catalogued: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.catalogued:
            _CLASSES.setdefault(cls.__name__, cls)

    def __init__(
        self,
        code: ProblemCode,
        en: str,
        zh: str,
        *,
        issues: Iterable[Issue] = (),
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{code}: {en}")
        self.code, self.detail_en, self.detail_zh = code, en, zh
        self.issues: list[Issue] = list(issues)
        #: Response headers (``Retry-After``); not part of the body.
        self.headers: dict[str, str] = dict(headers or {})
        #: Problem extension members (camelCase wire names), e.g. ``owner`` for a 409.
        self.extra: dict[str, Any] = extra
        if not self.status:
            entry = CATALOGUE.get(code)
            self.status = entry.status if entry is not None else 500

    @classmethod
    def rebuild(
        cls, code: ProblemCode, en: str, zh: str, issues: list[Issue], extra: dict[str, Any]
    ) -> TongxinError:
        """An error of this class from the parts of a problem body, whatever the class's own
        constructor takes (a validator error keeps its published one)."""
        error = cls.__new__(cls)
        TongxinError.__init__(error, code, en, zh, issues=issues)
        error.extra = extra  # set, not passed: a peer's member may be named like a keyword
        return error

    @property
    def title(self) -> str:
        """The catalogued English title of the code."""
        entry = CATALOGUE.get(self.code)
        return entry.title_en if entry is not None else self.fallback_title

    def message(self, lang: str = "en") -> str:
        """The detail in ``zh`` or ``en``."""
        return self.detail_zh if lang.startswith("zh") else self.detail_en

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 body: ``type, title, status, detail, detailZh, code, errors``, then
        ``instance`` and the extensions. The one place a problem body is built."""
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail_en,
            "detailZh": self.detail_zh,
            "code": self.code,
            "errors": [issue.to_wire() for issue in self.issues],
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def error_class(code: str, status: int | None = None) -> type[TongxinError] | None:
    """The class raised for ``code`` (with ``status``, for a code published with two), once
    the module defining it is imported; None for an uncatalogued code."""
    entry = CATALOGUE.get(ProblemCode(code))
    if entry is None:
        return None
    uses = entry.uses()
    kind = next((k for s, k in uses if s == status), uses[0][1])
    return _CLASSES.get(kind)


def from_problem(
    body: Mapping[str, Any], default: type[TongxinError] = TongxinError
) -> TongxinError:
    """Rebuild the error a problem body describes (the inverse of :meth:`to_problem`): the
    catalogued class of its ``code``, else ``default`` with the body's ``status``."""
    code = ProblemCode(str(body.get("code", "error")))
    raw_status = body.get("status")
    status = raw_status if isinstance(raw_status, int) else None
    cls = error_class(code, status)
    if cls is None or not issubclass(cls, default):
        cls = default
    errors = body.get("errors")
    entries = errors if isinstance(errors, list) else []
    issues = [Issue.from_wire(e) for e in entries if isinstance(e, Mapping)]
    extra = {k: v for k, v in body.items() if k not in STANDARD_MEMBERS}
    detail = str(body.get("detail", ""))
    error = cls.rebuild(code, detail, str(body.get("detailZh", detail)), issues, extra)
    if status is not None and status != error.status:
        error.status = status
    return error
