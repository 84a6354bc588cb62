"""Cell values to wire values, header detection, the Chinese guidance of the roster rules and
the generated rule table."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongxin.adapters.roster import FIELDS, ROSTER_RULES, find_header
from tongxin.adapters.roster._docs import BEGIN, END, rules_table
from tongxin.adapters.roster._normalise import (
    Finding,
    citizen_id_value,
    clean_text,
    code_value,
    date_value,
    phone_value,
)
from tongxin.adapters.roster._read import decode

SPEC = Path(__file__).resolve().parents[2] / "spec" / "roster.md"


@pytest.mark.parametrize(
    "cell",
    ["1985-06-15", "1985/6/15", "1985.06.15", "19850615", "1985年6月15日", "１９８５－０６－１５",
     " 1985 年 6 月 15 日 ", date(1985, 6, 15), datetime(1985, 6, 15, 0, 0), 31213, 31213.0,
     19850615],
)  # fmt: skip
def test_ten_ways_of_typing_a_date(cell: object) -> None:
    assert date_value(cell) == ("1985-06-15", True)


@pytest.mark.parametrize("cell", ["1985.06", "1985年6月", "1985-6", "198506"])
def test_month_only(cell: str) -> None:
    assert date_value(cell) == ("1985-06", False)


@pytest.mark.parametrize("cell", ["1985-13-45", "去年", "1985-02-30", "", 0])
def test_not_a_date(cell: object) -> None:
    found = date_value(cell)
    assert isinstance(found, Finding)
    assert found.rule == "ROS-010"


@given(st.dates(min_value=date(1900, 3, 1), max_value=date(2099, 12, 31)), st.integers(0, 5))
def test_any_date_in_any_form(day: date, form: int) -> None:
    forms = [day.isoformat(), f"{day.year}/{day.month}/{day.day}", f"{day:%Y.%m.%d}",
             f"{day:%Y%m%d}", f"{day.year}年{day.month}月{day.day}日",
             (day - date(1899, 12, 30)).days]  # fmt: skip
    assert date_value(forms[form]) == (day.isoformat(), True)


def test_fifteen_digit_id_upgraded() -> None:
    # DOMAIN.md (f): 44030419850615123 → check 7
    assert citizen_id_value("440304850615123") == (
        "440304198506151237",
        [Finding("ROS-013", {"value": "440304198506151237"})],
    )
    assert citizen_id_value(" 4403 0419 8506 1512 37 ")[0] == "440304198506151237"
    assert citizen_id_value("１１０１０５１９４９１２３１００２ｘ")[0] == "11010519491231002x"
    assert citizen_id_value(4.40304198506151e17)[1] == [Finding("ROS-014", {})]
    assert citizen_id_value(440304850615123.0)[0] == "440304198506151237"


@pytest.mark.parametrize(
    ("name", "cells", "code"),
    [("gender", ["男", "男性", "1", "Male", "M"], "1"), ("gender", ["女", "女性", "2"], "2"),
     ("ethnicity", ["汉", "汉族", "01", "1", "Han"], "01"), ("ethnicity", ["回", "回族"], "03"),
     ("education", ["研究生"], "10"), ("education", ["大学本科", "本科", "21"], "21"),
     ("education", ["大专"], "31"), ("education", ["中专"], "41"),
     ("education", ["高中"], "61"), ("education", ["初中"], "71"),
     ("category", ["正式党员", "正式", "full", "Full member"], "full"),
     ("category", ["预备党员", "预备"], "probationary"), ("status", ["正常"], "normal")],
)  # fmt: skip
def test_codes_by_code_title_or_synonym(name: str, cells: list[str], code: str) -> None:
    for cell in cells:
        assert code_value(name, cell) == code, cell


def test_unknown_code() -> None:
    found = code_value("gender", "不详")
    assert isinstance(found, Finding)
    assert found.rule == "ROS-012"


@pytest.mark.parametrize(
    ("cell", "phone"),
    [("+86 138 1234 5678", "13812345678"), ("138-1234-5678", "13812345678"),
     ("１３８１２３４５６７８", "13812345678"), (13812345678.0, "13812345678"),
     ("0086 13812345678", "13812345678"), ("(028) 8555 1234", "028-85551234"),
     ("028-85551234", "028-85551234")],
)  # fmt: skip
def test_phone_forms(cell: object, phone: str) -> None:
    assert phone_value(cell) == phone


def test_text_clean() -> None:
    assert clean_text("张 三") == "张三"
    assert clean_text("　王　伟　") == "王伟"
    assert clean_text("Li Wei") == "Li Wei"


def test_header_below_titles_with_synonyms() -> None:
    rows = [
        ["第一党支部党员花名册", "", "", ""],
        ["填报日期：2025年12月", "", "", ""],
        ["序号", "姓 名*", "身份证号（18位）", "出生年月", "入党日期"],
        [1, "张三", "440304198506151237", "1985.06", "2010-01-01"],
    ]
    header = find_header(rows)
    assert header is not None
    assert (header.first_row, header.last_row) == (2, 2)
    assert header.fields == {0: "-", 1: "name", 2: "citizenId", 3: "birthDate", 4: "joinedDate"}


def test_two_row_header_without_merges() -> None:
    rows = [
        ["姓名", "性别", "入党情况", "", "联系电话"],
        ["", "", "入党时间", "转正时间", ""],
        ["张三", "男", "2010-01-01", "2011-01-01", "13812345678"],
    ]
    header = find_header(rows)
    assert header is not None
    assert header.data_start == 2
    assert header.fields[2] == "joinedDate"
    assert header.fields[3] == "fullMembershipDate"
    assert header.texts[2] == "入党情况/入党时间"


def test_gbk_and_bom() -> None:
    text = "姓名,性别,出生日期\n张三,男,1985-06-15\n" * 20
    assert decode(text.encode("gbk")) == text
    assert decode(text.encode("gb18030")) == text
    assert decode(b"\xef\xbb\xbf" + text.encode()) == text


def test_every_field_has_a_header() -> None:
    assert all(title for title, _ in FIELDS.values())


def test_spec_rule_table_is_generated() -> None:
    text = SPEC.read_text("utf-8")
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert generated == rules_table(), "run: python -m tongxin.adapters.roster._docs spec/roster.md"


@pytest.mark.parametrize("rule_id", sorted(ROSTER_RULES))
def test_the_zh_guidance_is_chinese_only(rule_id: str) -> None:
    guidance = ROSTER_RULES[rule_id].guidance_zh
    words = [w for w in re.findall(r"[A-Za-z]{2,}", guidance) if w != "GB"]
    assert not words, f"{rule_id}: {guidance} ({words})"
    assert len(re.findall(r"[\u4e00-\u9fff]", guidance)) > len(guidance) // 3, guidance
    assert guidance.endswith("。"), guidance
