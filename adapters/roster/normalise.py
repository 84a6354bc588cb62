"""The value normalisers of the roster import, public so that every adapter reads a legacy
value the same way (the legacy database agent uses them column by column), and the one table
of code synonyms (:data:`SYNONYMS`)."""

from __future__ import annotations

from ._normalise import (
    CODED,
    SYNONYMS,
    Finding,
    citizen_id_value,
    clean_text,
    code_value,
    date_value,
    phone_value,
    upgrade_15,
)

__all__ = [
    "CODED",
    "SYNONYMS",
    "Finding",
    "citizen_id_value",
    "clean_text",
    "code_value",
    "date_value",
    "key",
    "phone_value",
    "upgrade_15",
]


def key(text: str) -> str:
    """The form codes, titles and synonyms are compared in: cleaned, no spaces, lower case."""
    return clean_text(text).replace(" ", "").lower()
