"""Validation issues as data: rule ID, severity, JSON Pointer and a bilingual message."""

from __future__ import annotations

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
    path: str
    message_zh: str
    message_en: str

    def message(self, lang: str) -> str:
        """The message in ``lang`` (``zh`` / ``zh-CN`` or ``en``)."""
        return self.message_en if lang == "en" else self.message_zh

    def to_dict(self) -> dict[str, Any]:
        """The wire form used by the CLI's JSON output and by the hub's API."""
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "path": self.path,
            "message": {"zh-CN": self.message_zh, "en": self.message_en},
        }

    def under(self, prefix: str) -> Issue:
        """The same issue with its pointer moved below ``prefix`` (``/members/3``)."""
        return Issue(self.rule, self.severity, prefix + self.path, self.message_zh, self.message_en)


def escape_pointer(token: str | int) -> str:
    """Escape one JSON Pointer reference token (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")
