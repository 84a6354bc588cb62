"""Check characters of the national identifier standards (GB 11643, GB 32100, GB 11714)."""

from __future__ import annotations

from datetime import date
from operator import mul

__all__ = [
    "citizen_id_birth_date",
    "citizen_id_check",
    "credit_code_check",
    "valid_citizen_id",
    "valid_credit_code",
]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ASCII_ZERO_SUM = 48 * sum(_ID_WEIGHTS)
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(_USCC_CHARS)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def citizen_id_check(first17: str) -> str:
    """The GB 11643-1999 check character (ISO 7064 MOD 11-2) of 17 digits."""
    if len(first17) == 17 and first17.isdigit() and first17.isascii():
        # The weights are 2^(18-i) mod 11 and 13 ≡ 2 (mod 11): the weighted sum is twice the
        # digits read in base 13, which int() computes in C.
        return _ID_CHECK[2 * int(first17, 13) % 11]
    total = sum(map(mul, first17.encode(), _ID_WEIGHTS)) - _ASCII_ZERO_SUM
    return _ID_CHECK[total % 11]


def valid_citizen_id(value: str) -> bool:
    """True when ``value`` is 17 digits and the right check character (``x`` taken as ``X``)."""
    return (
        len(value) == 18
        and value[:17].isdigit()
        and value[:17].isascii()
        and citizen_id_check(value[:17]) == value[17].upper()
    )


def citizen_id_birth_date(value: str) -> date | None:
    """The birth date encoded in digits 7–14, or None when it is not a real date."""
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def credit_code_check(first17: str) -> str:
    """The GB 32100-2015 check character of the first 17 characters."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def valid_credit_code(value: str) -> bool:
    """True when ``value`` is 18 characters of the GB 32100 charset with the right check
    character. (The inner GB 11714 check is not applied: self-employed units' codes skip it.)"""
    return (
        len(value) == 18
        and all(c in _USCC_VALUE for c in value)
        and credit_code_check(value[:17]) == value[17]
    )
