"""Every zh-CN message is Chinese only: no English word or internal code leaks in (a field name,
a code such as ``salaried``, an engine's English text), and each says how to fix the value. The
zh-CN guidance of every rule is Chinese only too.

Data the user wrote may appear (the faulty value itself, an unknown field's name, record ids),
as may national-standard names (GB) and single letters (the check character X, the T of a
date-time). Everything else Latin is a leak.
"""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tongxin.schemas import RULES, Issue, validate
from tongxin.schemas._conformance import valid_package, valid_package_11

ROOT = Path(__file__).resolve().parent.parent.parent
LATIN = re.compile(r"[A-Za-z]{2,}")
ALLOWED = {"GB"}
ID = re.compile(r"[a-z0-9][a-z0-9-]{2,31}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
HAN = re.compile(r"[\u4e00-\u9fff]")
#: The end of every zh message says what to do: one of these words.
FIX_WORDS = ("请", "应", "须", "改", "已按")


def _leaks(text: str) -> list[str]:
    return [w for w in LATIN.findall(text) if w not in ALLOWED]


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_the_zh_template_has_no_latin_word(rule_id: str) -> None:
    template = RULES[rule_id].message_zh
    fixed = "".join(part for part, *_ in string.Formatter().parse(template))
    assert not _leaks(fixed), f"{rule_id}: {template}"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_the_zh_guidance_is_chinese_only(rule_id: str) -> None:
    guidance = RULES[rule_id].guidance_zh
    assert not _leaks(guidance), f"{rule_id}: {guidance}"
    assert len(HAN.findall(guidance)) > len(guidance) // 2, f"{rule_id}: {guidance}"
    assert guidance.endswith("。"), f"{rule_id}: a guidance is whole sentences: {guidance}"


@pytest.mark.parametrize("rule_id", sorted(r for r in RULES if r != "SCH-001"))
def test_the_zh_template_tells_how_to_fix(rule_id: str) -> None:
    template = RULES[rule_id].message_zh
    assert "：" in template or "。" in template, template
    tail = template.rsplit("：", 1)[-1]
    if not tail.startswith("{"):  # else the filled-in part says it: checked on the examples
        assert any(w in tail for w in FIX_WORDS), template


def _at(document: Any, pointer: str) -> Any:
    node = document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            return None
    return node


def _stripped(document: Any, issue: Issue) -> str:
    """The zh message without the data the user wrote."""
    text = issue.message_zh
    value = _at(document, issue.path)
    for shown in (value, orjson.dumps(value).decode() if value is not None else None):
        if isinstance(shown, str) and shown:
            text = text.replace(shown, " ")
    leaf = issue.path.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    if text.startswith("不允许的字段"):  # an unknown field's name, as the user wrote it
        text = text.replace(leaf, " ")
    return ID.sub(" ", text)


def _schema_faults() -> Iterator[tuple[str, dict[str, Any]]]:
    """Packages with one schema fault each in the first record of every type: every field
    removed, of the wrong type, an odd string and an unknown field."""
    for base in (valid_package(), valid_package_11()):
        for collection, records in base.items():
            if not isinstance(records, list) or not records:
                continue
            for name in records[0]:
                for label, value in (("removed", None), ("number", 12345), ("text", "zz-9"),
                                     ("object", {"a": 1}), ("empty", "")):  # fmt: skip
                    pkg = copy.deepcopy(base)
                    if value is None:
                        del pkg[collection][0][name]
                    else:
                        pkg[collection][0][name] = value
                    yield f"{base['schemaVersion']}/{collection}/{name}/{label}", pkg
            pkg = copy.deepcopy(base)
            pkg[collection][0]["misspeltField"] = 1
            yield f"{base['schemaVersion']}/{collection}/unknown", pkg
        yield f"{base['schemaVersion']}/header", {**base, "schemaVersion": "9.9", "extra": 1}


def _documents() -> Iterator[tuple[str, Any]]:
    for path in sorted((ROOT / "spec/examples").rglob("*.json")):
        yield str(path.relative_to(ROOT)), orjson.loads(path.read_bytes())
    yield from _schema_faults()


DOCUMENTS = dict(_documents())


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_zh_message_is_chinese_only(name: str) -> None:
    document = DOCUMENTS[name]
    for issue in validate(document).issues:
        leaks = _leaks(_stripped(document, issue))
        assert not leaks, f"{issue.rule} at {issue.path}: {issue.message_zh} ({leaks})"
        tail = issue.message_zh.split("：", 1)[-1]
        assert any(w in tail for w in FIX_WORDS), f"{issue.rule}: {issue.message_zh}"


def test_the_corpus_reaches_the_schema_messages() -> None:
    seen = {i.message_zh.split("：")[0][:6] for d in DOCUMENTS.values() for i in validate(d).issues}
    assert len(seen) > 40
