"""One table of code synonyms serves the roster import and the legacy agent: each reads the
names the other knows, keyed by codelist."""

from __future__ import annotations

import pytest

from tongxin.adapters.legacy import to_record
from tongxin.adapters.roster import normalise
from tongxin.schemas import codelist

HUB = "cd-wuhou"


def test_the_table_is_keyed_by_codelist_and_names_only_real_codes() -> None:
    for name, synonyms in normalise.SYNONYMS.items():
        codes = {c.code for c in codelist(name).codes}
        assert set(synonyms.values()) <= codes, name
        assert all(key == normalise.key(key) for key in synonyms), name


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [("gender", "男士", "1"), ("education", "硕士研究生", "14"), ("category", "党员", "full"),
     ("status", "正常", "normal")],
)  # fmt: skip
def test_the_roster_import_reads_member_synonyms(field: str, value: str, code: str) -> None:
    assert normalise.code_value(field, value) == code


@pytest.mark.parametrize(
    ("value", "code"),
    [("基层党委", "primary-committee"), ("党总支部", "general-branch"),
     ("联合支部", "joint-branch"), ("党支部", "branch"), ("branch", "branch")],
)  # fmt: skip
def test_the_legacy_agent_reads_organisation_types_from_the_same_table(
    value: str, code: str
) -> None:
    assert to_record("organisations", HUB, {"id": "o1", "type": value})["type"] == code


def test_the_legacy_agent_reads_member_synonyms_as_the_roster_does() -> None:
    row = {"id": "m1", "gender": "女士", "education": "大专", "category": "预备", "status": "正常"}
    record = to_record("members", HUB, row)
    assert (record["gender"], record["education"], record["category"], record["status"]) == (
        "2",
        "31",
        "probationary",
        "normal",
    )
    assert to_record("members", HUB, {"gender": "未知性别"})["gender"] == "未知性别"  # passed on
