"""Codelists: CSV files under ``v1/codelists/`` (version 1.0) and ``v1_1/codelists/`` (1.1) are
the single source of every enumerated code. A later minor version only appends codes and lists
(a test holds each 1.1 list to its 1.0 rows, in order).

Each file has the columns ``code,title_zh,title_en,description,deprecated``. A non-empty
``deprecated`` column holds the schema version that deprecated the code; validators report its
use (rule ``SCH-002``) but still accept it until the next major version removes it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "CODELISTS",
    "CODELISTS_BY_VERSION",
    "FOLDERS",
    "LATEST",
    "Code",
    "Codelist",
    "codelist",
    "codelist_csv",
]

#: The versions of the standard, oldest first, and the package folder of each one's files.
FOLDERS: dict[str, str] = {"1.0": "v1", "1.1": "v1_1"}
LATEST = "1.1"


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


# name -> (title zh, title en, source standard), in 1.0
_CODELISTS_1_0: dict[str, tuple[str, str, str]] = {
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
#: Codelists by version: 1.1 adds the posts in a leading body and the stages of admission.
CODELISTS_BY_VERSION: dict[str, dict[str, tuple[str, str, str]]] = {
    "1.0": _CODELISTS_1_0,
    "1.1": {
        **_CODELISTS_1_0,
        "party-post": ("党内职务", "Party post", "支部工作条例(试行) (2018)"),
        "applicant-stage": ("发展阶段", "Admission stage", "发展党员工作细则 (2014)"),
    },
}

#: The codelists of the latest version.
CODELISTS = CODELISTS_BY_VERSION[LATEST]


def codelist_csv(name: str, version: str = LATEST) -> str:
    """The published CSV text of the codelist ``name`` of ``version``."""
    folder = resources.files(__package__).joinpath(FOLDERS[version], "codelists")
    return folder.joinpath(f"{name}.csv").read_text("utf-8")


@cache
def codelist(name: str, version: str = LATEST) -> Codelist:
    """Load the codelist ``name`` of ``version`` from its CSV file (cached)."""
    title_zh, title_en, source = CODELISTS_BY_VERSION[version][name]
    text = codelist_csv(name, version)
    rows = csv.DictReader(text.splitlines())
    codes = tuple(
        Code(r["code"], r["title_zh"], r["title_en"], r["description"], r["deprecated"])
        for r in rows
    )
    return Codelist(name, title_zh, title_en, source, codes)
