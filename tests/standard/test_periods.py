"""Periods of years end on the corresponding day, or on the month's last day when the month has
no such day (Civil Code art. 202): probation, age and terms of office."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tongxin.schemas import validate_record
from tongxin.schemas._checks import plus_years
from tongxin.schemas._conformance import valid_package

DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(2090, 12, 31))


def _expected(day: date, years: int) -> date:
    year = day.year + years
    last = calendar.monthrange(year, day.month)[1]
    return date(year, day.month, min(day.day, last))


def _member(**fields: Any) -> dict[str, Any]:
    record = dict(valid_package()["members"][1])  # born 1990-03-02, full member
    return {**record, **fields}


def _rules(record: dict[str, Any]) -> set[str]:
    return {i.rule for i in validate_record("members", record)}


@given(DAYS, st.integers(0, 10))
def test_plus_years_is_the_corresponding_day_or_the_months_last(day: date, years: int) -> None:
    assert plus_years(day.isoformat(), years) == _expected(day, years).isoformat()
    assert plus_years(day.isoformat(), float(years)) == _expected(day, years).isoformat()


@given(st.dates(min_value=date(2009, 1, 1), max_value=date(2030, 12, 31)))
def test_full_membership_on_the_day_probation_ends_is_valid(joined: date) -> None:
    due = _expected(joined, 1)
    on_time = _member(joinedDate=joined.isoformat(), fullMembershipDate=due.isoformat())
    assert "MBR-005" not in _rules(on_time)
    early = {**on_time, "fullMembershipDate": (due - timedelta(days=1)).isoformat()}
    assert "MBR-005" in _rules(early)


def test_joined_on_29_february_is_full_on_28_february_of_a_common_year() -> None:
    member = _member(joinedDate="2012-02-29", fullMembershipDate="2013-02-28")
    assert "MBR-005" not in _rules(member)
    (issue,) = validate_record("members", {**member, "fullMembershipDate": "2013-02-27"})
    assert issue.rule == "MBR-005"
    assert "2013-02-28" in issue.message_en
    leap = _member(joinedDate="2015-02-28", fullMembershipDate="2016-02-28")
    assert "MBR-005" not in _rules(leap)


def test_born_on_29_february_is_eighteen_on_28_february_of_a_common_year() -> None:
    born = {"birthDate": "2000-02-29", "citizenId": "510107200002290643", "gender": "2"}
    on_birthday = _member(**born, joinedDate="2018-02-28", fullMembershipDate="2019-02-28")
    assert "MBR-004" not in _rules(on_birthday)
    early = {**on_birthday, "joinedDate": "2018-02-27"}
    assert "MBR-004" in _rules(early)


def test_a_term_elected_on_29_february_ends_on_28_february() -> None:
    org = {**valid_package()["organisations"][1], "electedDate": "2020-02-29", "termYears": 3}
    (issue,) = [i for i in validate_record("organisations", org) if i.rule == "ORG-004"]
    assert "2023-02-28" in issue.message_en
