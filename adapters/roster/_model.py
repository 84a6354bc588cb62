"""What an import produces: the per-cell issues, the counts, and the rows needing attention."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tongxin.schemas import Issue, Severity

from ._headers import Header

__all__ = ["AttentionRow", "CellIssue", "ImportResult", "SheetInfo"]


@dataclass(frozen=True, slots=True)
class CellIssue:
    """One finding at a cell: file, sheet, Excel row (1-based), column letter and header text
    (``None`` for a finding about a whole sheet or organisation), rule, severity, messages."""

    file: str
    sheet: str
    row: int | None
    column: str | None
    header: str | None
    rule: str
    severity: Severity
    message_zh: str
    message_en: str

    @classmethod
    def of(
        cls,
        issue: Issue,
        file: str,
        sheet: str,
        row: int | None,
        column: str | None,
        header: str | None,
    ) -> CellIssue:
        return cls(
            file, sheet, row, column, header, issue.rule, issue.severity,
            issue.message_zh, issue.message_en,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The wire form of ``tongxin roster import --format json``."""
        return {
            "file": self.file,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "header": self.header,
            "rule": self.rule,
            "severity": self.severity.value,
            "message": {"zh-CN": self.message_zh, "en": self.message_en},
        }


@dataclass(slots=True)
class SheetInfo:
    """A sheet that was imported: where, its header and the kind of record of its rows."""

    file: str
    sheet: str
    header: Header
    #: the records its rows become: ``members`` or ``applicants`` (入党申请人、积极分子、发展对象)
    kind: str = "members"


@dataclass(slots=True)
class AttentionRow:
    """A row with an issue, kept with its original cells for the error workbook."""

    sheet: SheetInfo
    row: int  # Excel row number
    cells: list[Any]
    issues: list[CellIssue] = field(default_factory=list)


@dataclass(slots=True)
class ImportResult:
    """The outcome of an import. ``rows == accepted + rejected``; skipped rows (blank or a
    repeated header) are counted apart."""

    files: list[str] = field(default_factory=list)
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0
    issues: list[CellIssue] = field(default_factory=list)
    sheets: list[SheetInfo] = field(default_factory=list)
    attention: list[AttentionRow] = field(default_factory=list)
    #: the written package (with --out) or None
    package: dict[str, Any] | None = None
    #: per-outcome counts from the hub (with --hub)
    hub: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The object printed by ``tongxin roster import --format json``."""
        out: dict[str, Any] = {
            "files": self.files,
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "issues": [i.to_dict() for i in self.issues],
        }
        if self.hub:
            out["hub"] = self.hub
        return out
