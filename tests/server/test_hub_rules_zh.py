"""The hub's own rules speak Chinese as the standard's do: a zh-CN message has no English word
or internal code (a field name, a state code, an engine's English text) and says how to fix; the
zh-CN guidance is Chinese only."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from tongxin.server._hubrule_docs import render
from tongxin.server._hubrules import HUB_RULES

LATIN = re.compile(r"[A-Za-z]{2,}")
HAN = re.compile(r"[\u4e00-\u9fff]")
#: placeholders filled with what the caller sent or ids (data, not words)
DATA = {"target", "other", "id", "parent", "owner", "prefix", "hub", "name", "issued", "today"}
FIX_WORDS = ("请", "应", "须", "改")


@pytest.mark.parametrize("rule_id", sorted(HUB_RULES))
def test_zh_message_is_chinese_and_says_how_to_fix(rule_id: str) -> None:
    template = HUB_RULES[rule_id].message_zh
    parts = list(string.Formatter().parse(template))
    fixed = "".join(text for text, *_ in parts)
    assert not LATIN.findall(fixed.replace("/docs", "")), template
    for _, name, *_ in parts:
        assert (
            name is None
            or name in DATA
            or name.endswith("_zh")
            or name
            in {
                "count",
                "version",
                "days",
                "label",
            }
        ), f"{rule_id}: {{{name}}} would put an English word into the Chinese text"
    assert any(word in template.rsplit("：", 1)[-1] for word in FIX_WORDS), template


@pytest.mark.parametrize("rule_id", sorted(HUB_RULES))
def test_zh_guidance_is_chinese_only(rule_id: str) -> None:
    guidance = HUB_RULES[rule_id].guidance_zh
    assert not LATIN.findall(guidance), f"{rule_id}: {guidance}"
    assert len(HAN.findall(guidance)) > len(guidance) // 2, f"{rule_id}: {guidance}"
    assert guidance.endswith("。"), guidance


def test_the_hub_rules_table_in_the_api_spec_is_generated() -> None:
    path = Path(__file__).resolve().parents[2] / "spec" / "api.md"
    text = path.read_text("utf-8")
    assert render(text) == text, (
        "spec/api.md is stale; run: python -m tongxin.server._hubrule_docs spec/api.md"
    )
