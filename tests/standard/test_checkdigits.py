"""GB 11643 and GB 32100 check characters: the standards' worked examples and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongxin.schemas import citizen_id_check, credit_code_check, valid_citizen_id, valid_credit_code

digits17 = st.text(alphabet="0123456789", min_size=17, max_size=17)
USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@pytest.mark.parametrize(
    ("first17", "check"),
    [("44030419850615123", "7"), ("51010720000229004", "5"), ("11010519491231002", "X")],
)
def test_citizen_id_worked_examples(first17: str, check: str) -> None:
    assert citizen_id_check(first17) == check
    assert valid_citizen_id(first17 + check)


def test_lower_case_x_is_read_as_x() -> None:
    assert valid_citizen_id("11010519491231002x")


@given(digits17, st.integers(0, 16), st.integers(1, 9))
def test_citizen_id_catches_any_single_digit_error(first17: str, at: int, shift: int) -> None:
    good = first17 + citizen_id_check(first17)
    changed = str((int(good[at]) + shift) % 10)
    assert valid_citizen_id(good)
    assert not valid_citizen_id(good[:at] + changed + good[at + 1 :])


@pytest.mark.parametrize("code", ["91110108MA01ABCD5T", "52440300MA5T8K2Q6J", "91350100M000100Y43"])
def test_credit_code_worked_examples(code: str) -> None:
    assert credit_code_check(code[:17]) == code[17]
    assert valid_credit_code(code)


def test_credit_code_wrong_check_is_refused() -> None:
    assert not valid_credit_code("91350100M000100Y4Z")
    assert not valid_credit_code("91350100M000100Y4")


@given(st.text(alphabet=USCC, min_size=17, max_size=17), st.integers(0, 16), st.integers(1, 30))
def test_credit_code_catches_any_single_character_error(first17: str, at: int, shift: int) -> None:
    good = first17 + credit_code_check(first17)
    changed = USCC[(USCC.index(good[at]) + shift) % 31]
    assert not valid_credit_code(good[:at] + changed + good[at + 1 :])
