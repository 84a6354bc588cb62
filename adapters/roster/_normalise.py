"""Cell values to wire values: full-width forms, the ten ways of typing a date, 15-digit
citizen IDs, phone numbers, and codes given by code, title or synonym."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from tongxin.schemas import citizen_id_check, codelist

__all__ = [
    "CODED",
    "SYNONYMS",
    "Finding",
    "citizen_id_value",
    "clean_text",
    "code_value",
    "date_value",
    "phone_value",
    "upgrade_15",
]

#: field -> codelist name
CODED = {
    "gender": "gender",
    "ethnicity": "ethnicity",
    "education": "education",
    "category": "member-category",
    "status": "member-status",
    "stage": "applicant-stage",
}

#: The one table of code synonyms every adapter reads (the roster import, the legacy agent):
#: codelist name -> normalised name -> code, beyond the codelists' own codes and titles.
SYNONYMS: dict[str, dict[str, str]] = {
    "gender": {"男": "1", "女": "2", "m": "1", "f": "2", "男士": "1", "女士": "2"},
    "education": {
        "研究生": "10", "博士": "11", "博士研究生": "11", "硕士": "14", "硕士研究生": "14",
        "大学本科": "21", "本科": "21", "大学": "21", "大专": "31", "大学专科": "31",
        "专科": "31", "中专": "41", "中等专科": "41", "职高": "44", "技校": "47", "高中": "61",
        "初中": "71", "小学": "81",
    },
    "member-category": {"正式": "full", "预备": "probationary", "中共党员": "full", "党员": "full"},
    "member-status": {"正常": "normal"},
    "organisation-type": {
        "党委": "primary-committee", "基层党委": "primary-committee",
        "总支": "general-branch", "党总支部": "general-branch", "支部": "branch",
        "联合支部": "joint-branch", "临时支部": "temporary-branch", "小组": "party-group",
    },
    # the stage codes platforms use (-1 未通过, 0 申请, 2 积极分子, 3 发展对象, 4 列入发展计划,
    # 5 领取志愿书, 6 预备党员, 7 正式党员) and the words rosters write
    "applicant-stage": {
        "0": "applicant", "申请": "applicant", "申请人": "applicant", "已申请": "applicant",
        "递交申请": "applicant", "2": "activist", "积极分子": "activist",
        "3": "candidate", "4": "candidate", "5": "candidate", "列入发展计划": "candidate",
        "领取志愿书": "candidate", "预备党员": "admitted", "6": "admitted", "7": "admitted",
        "正式党员": "admitted", "已接收": "admitted", "接收为预备党员": "admitted",
        "已发展": "admitted", "-1": "withdrawn", "\u22121": "withdrawn", "未通过": "withdrawn",
        "终止": "withdrawn", "退出": "withdrawn", "撤回": "withdrawn", "取消": "withdrawn",
    },
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem met while reading one cell: a roster rule ID and its message parameters."""

    rule: str
    params: dict[str, Any]


def clean_text(value: Any) -> str:
    """NFKC (full-width digits, letters and spaces become ASCII), trimmed; spaces between two
    Chinese characters removed (names aligned with spaces: 张 三)."""
    if not isinstance(value, str):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        value = str(value)
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    text = text.strip()
    if " " in text or "\t" in text or "\n" in text:
        text = " ".join(text.split())
        if not text.isascii():
            text = _CJK_SPACE.sub("", text)
    return text


_CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])")


def _key(text: str) -> str:
    return clean_text(text).replace(" ", "").lower()


@cache
def _code_index(name: str) -> dict[str, str]:
    """Normalised code, title (zh, zh without 族/性, en) and synonym -> code."""
    out: dict[str, str] = {}
    for c in codelist(CODED[name]).codes:
        for key in (c.code, c.title_zh, c.title_en):
            out[_key(key)] = c.code
        if name == "ethnicity":
            out[c.title_zh.removesuffix("族")] = c.code
            out[str(int(c.code))] = c.code
        if name == "gender":
            out[c.title_zh.removesuffix("性")] = c.code
    out.update(SYNONYMS.get(CODED[name], {}))
    return out


def code_value(name: str, value: Any) -> str | Finding:
    """The code for a cell of the coded field ``name``."""
    if isinstance(value, str):
        return _code_text(name, value)
    return _code_text(name, clean_text(value))


@lru_cache(maxsize=8192)
def _code_text(name: str, value: str) -> str | Finding:
    """Cached: a roster repeats 男, 汉族 and 本科 on every row."""
    text = clean_text(value)
    found = _code_index(name).get(text.replace(" ", "").lower())
    if found is not None:
        return found
    cl = codelist(CODED[name])
    examples = "、".join(c.title_zh for c in cl.codes if not c.deprecated)
    if len(cl.codes) > 8:  # 56 ethnicities: the first few, and where the rest are
        examples = "、".join(c.title_zh for c in cl.codes[:5]) + " 等（完整列表见代码表）"
    params = {"value": text, "title": cl.title_zh, "codelist": cl.name, "examples": examples}
    return Finding("ROS-012", params)


_FULL = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
_COMPACT_MONTH = re.compile(r"^(\d{4})(\d{2})$")
_EPOCH = date(1899, 12, 30)


def _serial(number: float) -> date | None:
    if 1 <= number < 2958466:
        return _EPOCH + timedelta(days=int(number))
    return None


def date_value(value: Any) -> tuple[str, bool] | Finding:
    """The ISO date of a cell and whether it had a day, or a ROS-010 finding. A month-only
    date comes back as ``YYYY-MM`` with ``False``."""
    if isinstance(value, datetime):
        return value.date().isoformat(), True
    if isinstance(value, date):
        return value.isoformat(), True
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 19000101 <= value <= 21001231 and float(value).is_integer():
            value = str(int(value))
        else:
            day = _serial(float(value))
            if day is not None and day.year >= 1900:
                return day.isoformat(), True
            return Finding("ROS-010", {"value": clean_text(value)})
    text = clean_text(value)
    for pattern in (_FULL, _COMPACT):
        m = pattern.match(text)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3])).isoformat(), True
            except ValueError:
                break
    else:
        for pattern in (_MONTH, _COMPACT_MONTH):
            m = pattern.match(text)
            if m and 1 <= int(m[2]) <= 12:
                return f"{int(m[1]):04d}-{int(m[2]):02d}", False
        if re.fullmatch(r"\d{5}(\.\d+)?", text):
            day = _serial(float(text))
            if day is not None:
                return day.isoformat(), True
    return Finding("ROS-010", {"value": text})


def upgrade_15(old: str) -> str:
    """A GB 11643-1989 15-digit number as 18 digits: 19 before the year, check appended."""
    first17 = old[:6] + "19" + old[6:]
    return first17 + citizen_id_check(first17)


def citizen_id_value(value: Any) -> tuple[str, list[Finding]]:
    """The citizen ID of a cell: spaces removed, 15 digits upgraded (ROS-013), ``x`` kept for
    the standard's own MBR-009; a number that lost digits is ROS-014."""
    findings: list[Finding] = []
    if isinstance(value, float) and not value.is_integer():
        return clean_text(value), [Finding("ROS-014", {})]
    if isinstance(value, float) and abs(value) >= 1e15:
        return str(int(value)), [Finding("ROS-014", {})]
    text = re.sub(r"[\s\-]", "", clean_text(value))
    if re.fullmatch(r"\d{15}", text):
        text = upgrade_15(text)
        findings.append(Finding("ROS-013", {"value": text}))
    return text, findings


def phone_value(value: Any) -> str:
    """A phone number without +86, spaces, dashes or brackets (a landline keeps its area-code
    dash)."""
    text = clean_text(value)
    digits = re.sub(r"[\s()（）\-]", "", text)
    digits = re.sub(r"^(\+86|0086)", "", digits)
    if re.fullmatch(r"861[3-9]\d{9}", digits):
        digits = digits[2:]
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return digits
    text = text.replace("（", "(").replace("）", ")")
    m = re.fullmatch(r"\(?(0\d{2,3})\)?[\s\-]*([\d\s\-]{7,12})", text)
    if m and 7 <= len(number := re.sub(r"\D", "", m[2])) <= 8:
        return f"{m[1]}-{number}"
    return digits
