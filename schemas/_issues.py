"""Validation issues as data: rule ID, severity, JSON Pointer and a bilingual message.

One wire form everywhere (:meth:`Issue.to_wire`): ``{"pointer", "rule", "severity",
"message": {"zh-CN", "en"}}`` — in problem bodies' ``errors``, in ``/v1/bulk`` result lines'
``problems`` and in validation reports. Validation reports (``tongxin validate --format json``,
``POST /v1/validate``) also carry ``path``, the same pointer under its 1.x name: a deprecated
alias kept until 2.0 (:meth:`Issue.to_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Issue", "Severity", "escape_pointer"]


class Severity(StrEnum):
    """How bad an issue is. A document is valid when it has no ``error``."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding: which rule, how severe, where (a JSON Pointer into the input), and why."""

    rule: str
    severity: Severity
    pointer: str
    message_zh: str
    message_en: str

    @property
    def path(self) -> str:
        """The pointer under its 1.x name (deprecated alias of :attr:`pointer`, until 2.0)."""
        return self.pointer

    def message(self, lang: str) -> str:
        """The message in ``lang`` (``zh`` / ``zh-CN`` or ``en``)."""
        return self.message_en if lang == "en" else self.message_zh

    def to_wire(self) -> dict[str, Any]:
        """The issue wire form: ``pointer``, ``rule``, ``severity``, bilingual ``message``."""
        return {
            "pointer": self.pointer,
            "rule": self.rule,
            "severity": self.severity.value,
            "message": {"zh-CN": self.message_zh, "en": self.message_en},
        }

    def to_dict(self) -> dict[str, Any]:
        """The validation report's form: :meth:`to_wire` plus ``path``, the deprecated alias of
        ``pointer`` that 1.x reports carry (until 2.0)."""
        wire = self.to_wire()
        wire["path"] = self.pointer
        return wire

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Issue:
        """The issue an entry of the wire form describes (``path`` read when ``pointer`` is
        absent); unknown severities read as ``error``."""
        message = wire.get("message")
        texts = message if isinstance(message, Mapping) else {}
        try:
            severity = Severity(str(wire.get("severity", "error")))
        except ValueError:
            severity = Severity.ERROR
        return cls(
            str(wire.get("rule", "")),
            severity,
            str(wire.get("pointer", wire.get("path", ""))),
            str(texts.get("zh-CN", "")),
            str(texts.get("en", "")),
        )

    def under(self, prefix: str) -> Issue:
        """The same issue with its pointer moved below ``prefix`` (``/members/3``)."""
        return Issue(
            self.rule, self.severity, prefix + self.pointer, self.message_zh, self.message_en
        )


def escape_pointer(token: str | int) -> str:
    """Escape one JSON Pointer reference token (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")
