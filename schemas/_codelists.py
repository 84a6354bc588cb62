"""Codelists: CSV files under ``v1/codelists/`` are the single source of every enumerated code.

Each file has the columns ``code,title_zh,title_en,description,deprecated``. A non-empty
``deprecated`` column holds the schema version that deprecated the code; validators report its
use (rule ``SCH-002``) but still accept it until the next major version removes it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["CODELISTS", "Code", "Codelist", "codelist", "codelist_csv"]


@dataclass(frozen=True, slots=True)
class Code:
    """One row of a codelist."""

    code: str
    title_zh: str
    title_en: str
    description: str
    deprecated: str  # the version that deprecated it, or ""


@dataclass(frozen=True, slots=True)
class Codelist:
    """A closed list of codes with its bilingual title and the standard it comes from."""

    name: str
    title_zh: str
    title_en: str
    source: str
    codes: tuple[Code, ...]

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.codes)

    @property
    def deprecated(self) -> frozenset[str]:
        return frozenset(c.code for c in self.codes if c.deprecated)

    def title(self, code: str) -> tuple[str, str]:
        """The (zh, en) title of ``code``; raises ``KeyError`` when it is not in the list."""
        for c in self.codes:
            if c.code == code:
                return c.title_zh, c.title_en
        raise KeyError(code)


# name -> (title zh, title en, source standard)
CODELISTS: dict[str, tuple[str, str, str]] = {
    "gender": ("性别", "Gender", "GB/T 2261.1-2003"),
    "ethnicity": ("民族", "Ethnicity", "GB 3304-1991"),
    "education": ("学历", "Education", "GB/T 4658-2006"),
    "member-category": ("党员类别", "Member category", "中国共产党章程"),
    "member-status": ("党籍状态", "Membership status", "党员教育管理工作条例 (2019)"),
    "organisation-type": ("组织类别", "Organisation type", "支部工作条例(试行) (2018)"),
    "activity-type": ("组织生活类型", "Activity type", "支部工作条例(试行) (2018)"),
    "attendance-status": ("出席情况", "Attendance status", "Tongxin"),
    "member-class": ("党费缴纳类别", "Dues member class", "中组发〔2008〕3号"),
    "transfer-state": ("转接状态", "Transfer state", "Tongxin"),
    "transfer-reason": ("转接原因", "Transfer reason", "党员教育管理工作条例 (2019) 第二十五条"),
}


def codelist_csv(name: str) -> str:
    """The published CSV text of the codelist ``name``."""
    folder = resources.files(__package__).joinpath("v1", "codelists")
    return folder.joinpath(f"{name}.csv").read_text("utf-8")


@cache
def codelist(name: str) -> Codelist:
    """Load the codelist ``name`` from its CSV file (cached)."""
    title_zh, title_en, source = CODELISTS[name]
    text = codelist_csv(name)
    rows = csv.DictReader(text.splitlines())
    codes = tuple(
        Code(r["code"], r["title_zh"], r["title_en"], r["description"], r["deprecated"])
        for r in rows
    )
    return Codelist(name, title_zh, title_en, source, codes)
