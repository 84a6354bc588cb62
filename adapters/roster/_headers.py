"""Where the header is and what each column means: synonyms, title rows, two-row headers,
merged cells, and the mapping file (TOML) that a person can edit and pass back."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "APPLICANT_FIELDS",
    "APPLICANT_ONLY",
    "FIELDS",
    "IGNORE",
    "MEMBER_ONLY",
    "SHEET_STAGES",
    "Header",
    "MappingError",
    "find_header",
    "load_mapping",
    "mapping_toml",
    "normalise_header",
    "sheet_kind",
]

#: The ignored pseudo-field: a column known to carry nothing to import (序号).
IGNORE = "-"

#: field -> (standard roster header, synonyms). ``organisation`` is the branch's name, ``id``
#: the record id written by ``tongxin roster export``.
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("姓名", ("党员姓名", "名字", "name")),
    "gender": ("性别", ("gender", "sex")),
    "ethnicity": ("民族", ("ethnicity", "nation")),
    "birthDate": ("出生日期", ("出生年月", "出生年月日", "出生时间", "生日", "birthdate")),
    "citizenId": (
        "公民身份号码",
        ("身份证号", "身份证号码", "身份证", "身份号码", "证件号码", "citizenid", "idnumber"),
    ),
    "education": ("学历", ("文化程度", "最高学历", "全日制学历", "education")),
    "nativePlace": ("籍贯", ("nativeplace",)),
    "organisation": (
        "所在党支部",
        ("所在党组织", "所属党支部", "所属支部", "所在支部", "党支部", "支部", "organisation"),
    ),
    "category": ("党员类别", ("人员类别", "党员身份", "category")),
    "joinedDate": ("入党日期", ("入党时间", "入党年月", "joineddate", "joined")),
    "fullMembershipDate": (
        "转正日期",
        ("转正时间", "转正年月", "fullmembershipdate", "fullmembership"),
    ),
    "status": ("党籍状态", ("status",)),
    "lostContactSince": ("失联日期", ("失去联系日期", "失联时间", "lostcontactsince")),
    "phone": ("联系电话", ("手机号码", "手机号", "手机", "电话", "联系方式", "phone", "mobile")),
    "workUnit": ("工作单位", ("工作单位及职务", "单位", "工作单位及职务职称", "workunit")),
    "id": ("记录标识", ("标识", "id")),
    # -- the path into the Party (入党申请人、入党积极分子、发展对象): the applicants sheet
    "stage": ("发展阶段", ("当前阶段", "所处阶段", "培养阶段", "发展状态", "stage")),
    "applicationDate": (
        "申请入党日期",
        (
            "入党申请日期",
            "申请日期",
            "申请入党时间",
            "递交入党申请书日期",
            "递交申请书日期",
            "递交入党申请书时间",
            "递交申请书时间",
            "申请时间",
            "applicationdate",
        ),
    ),
    "talkDate": ("谈话日期", ("谈话时间", "入党谈话日期", "谈话人谈话日期", "talkdate")),
    "activistDate": (
        "确定为入党积极分子日期",
        (
            "确定为积极分子日期",
            "确定积极分子日期",
            "确定为积极分子时间",
            "确定为入党积极分子时间",
            "积极分子日期",
            "列为入党积极分子日期",
            "activistdate",
        ),
    ),
    "candidateDate": (
        "确定为发展对象日期",
        (
            "确定为发展对象时间",
            "确定发展对象日期",
            "列为发展对象日期",
            "发展对象日期",
            "candidatedate",
        ),
    ),
    "trainingHours": ("集中培训学时", ("培训学时", "集中培训时长", "学时", "traininghours")),
    "sponsors": ("培养联系人", ("培养人", "联系人", "sponsors")),
    "introducers": ("入党介绍人", ("介绍人", "introducers")),
    "branchVoteDate": (
        "支部大会讨论日期",
        (
            "支部大会讨论时间",
            "支部大会通过日期",
            "支部大会日期",
            "接收为预备党员日期",
            "branchvotedate",
        ),
    ),
    "approvalDate": (
        "上级党委审批日期",
        ("上级党委审批时间", "党委审批日期", "审批日期", "审批时间", "approvaldate"),
    ),
    "memberId": ("党员记录标识", ("党员标识", "memberid")),
    IGNORE: ("序号", ("编号", "行号", "原行号", "问题说明", "no", "#")),
}

#: The fields of an applicants sheet (入党申请人、积极分子、发展对象); a sheet naming more of the
#: applicant-only ones than of the member-only ones is read as applicants.
APPLICANT_FIELDS = (
    "name", "gender", "birthDate", "citizenId", "phone", "organisation", "stage",
    "applicationDate", "talkDate", "activistDate", "candidateDate", "trainingHours", "sponsors",
    "introducers", "branchVoteDate", "approvalDate", "memberId", "id",
)  # fmt: skip
APPLICANT_ONLY = frozenset(APPLICANT_FIELDS[6:-1])
MEMBER_ONLY = frozenset(("joinedDate", "fullMembershipDate", "status", "lostContactSince"))

#: The stage an applicants sheet's name implies when it has no stage column.
SHEET_STAGES = (("发展对象", "candidate"), ("积极分子", "activist"), ("申请", "applicant"))

_INDEX: dict[str, str] = {}
for _field, (_title, _synonyms) in FIELDS.items():
    for _name in (_title, *_synonyms):
        _INDEX[_name] = _field

_NOISE = re.compile(r"[\s*＊:：_\-./、]+|[（(][^）)]*[）)]")


def normalise_header(text: Any) -> str:
    """The comparable form of a header cell: NFKC, no spaces, marks or bracketed notes."""
    value = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return _NOISE.sub("", value)


def match(text: Any) -> str | None:
    """The field a header text names, or None."""
    key = normalise_header(text)
    return _INDEX.get(key) if key else None


@dataclass(slots=True)
class Header:
    """The header of one sheet: its rows (0-based), the text and field of each column."""

    first_row: int
    last_row: int
    texts: dict[int, str] = field(default_factory=dict)
    fields: dict[int, str | None] = field(default_factory=dict)
    #: rows above the header (title rows), to recognise them when a printed page repeats them
    titles: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def data_start(self) -> int:
        return self.last_row + 1


def _score(row: Sequence[Any]) -> int:
    return len({f for f in (match(c) for c in row if c != "") if f and f != IGNORE})


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def find_header(rows: Sequence[Sequence[Any]], *, scan: int = 30) -> Header | None:
    """Find the header in the first ``scan`` rows: the row naming most known fields (at least
    three), joined with the row below or above when that one names fields the first does not
    (two-row headers, merged group cells)."""
    scores = [_score(r) for r in rows[:scan]]
    if not scores or max(scores) < 3:
        return None
    best = scores.index(max(scores))
    first = last = best
    for other in (best + 1, best - 1):
        if 0 <= other < len(scores) and scores[other] and _adds(rows[best], rows[other]):
            first, last = min(best, other), max(best, other)
            break
    header = Header(first, last)
    width = max(len(rows[r]) for r in range(first, last + 1))
    for col in range(width):
        cells = [_text(rows[r][col]) for r in range(first, last + 1) if col < len(rows[r])]
        cells = [c for c in cells if c]
        if not cells:
            continue
        found = next((f for f in (match(c) for c in reversed(cells)) if f), None)
        if found is None and len(cells) > 1:
            found = match("".join(cells))
        header.texts[col] = cells[-1] if len(set(cells)) == 1 else "/".join(dict.fromkeys(cells))
        header.fields[col] = found
    header.titles = [tuple(_text(c) for c in rows[r] if c != "") for r in range(first)]
    return header


def _adds(main: Sequence[Any], other: Sequence[Any]) -> bool:
    have = {match(c) for c in main if c != ""}
    return any((f := match(c)) and f != IGNORE and f not in have for c in other if c != "")


def sheet_kind(sheet: str, header: Header) -> str:
    """``applicants`` when the header names more applicant-only fields (申请入党日期, 发展阶段,
    入党介绍人 …) than member-only ones (入党日期, 转正日期 …), or the sheet is named after a
    stage (入党申请人, 积极分子, 发展对象) and names no member-only field; else ``members``."""
    named = set(header.fields.values())
    ours, theirs = len(named & APPLICANT_ONLY), len(named & MEMBER_ONLY)
    if ours > theirs or (not theirs and any(w in sheet for w, _ in SHEET_STAGES)):
        return "applicants"
    return "members"


class MappingError(Exception):
    """A mapping file that cannot be read or names an unknown field."""


def mapping_toml(sheets: list[tuple[str, str, Header]]) -> str:
    """The detected mapping of each (file, sheet) as TOML, to edit and pass to --mapping."""
    lines = [
        '# tongxin roster mapping: column header = field ("-" ignores the column).',
        '# 列标题 = 字段；"-" 表示忽略该列。Fields / 字段: '
        + ", ".join(f for f in FIELDS if f != IGNORE),
        "",
    ]
    for file, sheet, header in sheets:
        applicants = sheet_kind(sheet, header) == "applicants"
        kind = "入党申请人 / applicants" if applicants else "党员 / members"
        lines.append(
            f"# {file} · {sheet}: header rows {header.first_row + 1}–{header.last_row + 1}, {kind}"
        )
        lines.append(f"[{_quote(sheet)}]")
        stage = "stage" in header.fields.values()
        for col, text in header.texts.items():
            found = header.fields.get(col)
            if applicants and found == "category" and not stage:  # read as the stage
                lines.append(f'{_quote(text)} = "category"   # 即发展阶段 / read as the stage')
                continue
            if found is None:
                lines.append(f'# {_quote(text)} = "?"   # unrecognised / 未识别')
            else:
                lines.append(f'{_quote(text)} = "{found}"')
        lines.append("")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_mapping(path: Path) -> dict[str, str]:
    """Header text → field from a mapping file; the sections (sheets) are merged, and a
    top-level key applies to every sheet."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"{path}: {exc}") from None
    out: dict[str, str] = {}
    for key, value in data.items():
        pairs = value.items() if isinstance(value, dict) else [(key, value)]
        for header, target in pairs:
            if not isinstance(target, str) or target not in FIELDS:
                raise MappingError(f"{path}: {header!r} = {target!r} is not a field")
            out[normalise_header(header)] = target
    return out


def apply_mapping(header: Header, mapping: dict[str, str]) -> None:
    """Override the detected fields with a mapping file's choices."""
    for col, text in header.texts.items():
        for part in (text, *text.split("/")):
            chosen = mapping.get(normalise_header(part))
            if chosen is not None:
                header.fields[col] = chosen
                break
