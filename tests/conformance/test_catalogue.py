"""The checks are declared once: stable, unique ids per level; sections of spec/ that exist;
``spec/conformance.md`` generated from them (a stale file fails here)."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from tongxin.adapters.conformance import CHECKS, LEVELS, by_id, checks_for
from tongxin.adapters.conformance._docs import document

PREFIX = {"read": "READ", "write": "WRITE", "federation": "FED"}


def test_spec_conformance_is_generated_from_the_checks() -> None:
    text = (ROOT / "spec" / "conformance.md").read_text("utf-8")
    assert text == document(), (
        "spec/conformance.md is stale; run: "
        "python -m tongxin.adapters.conformance._docs spec/conformance.md"
    )


def test_every_check_has_an_identity() -> None:
    ids = [c.id for c in CHECKS]
    assert len(set(ids)) == len(ids)
    for check in CHECKS:
        assert re.fullmatch(rf"TXC-{PREFIX[check.level]}-\d{{3}}", check.id)
        document_name = check.spec.split(" ")[0]
        assert (ROOT / "spec" / document_name).exists(), check.spec
        assert check.title_zh
        # Chinese titles name headers and formats as the problem catalogue does ("If-Match 无效")
        # but carry no other English word.
        zh = re.sub(r"ETag|If-Match|OpenAPI", "", check.title_zh)
        assert not re.search(r"[A-Za-z]{3,}", zh), check.title_zh
        assert check.requires.endswith(".")
        assert by_id(check.id) is check


def test_levels_include_the_ones_before() -> None:
    read, write, federation = (checks_for(level) for level in LEVELS)
    assert set(read) < set(write) < set(federation)
    assert all(c.level == "read" for c in read)
