"""The published JSON Schema files: dialect, version-true ids, references and codelists."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tongxin.schemas import SCHEMA_BASE, SCHEMA_VERSION, SCHEMA_VERSIONS, all_schemas, codelist
from tongxin.schemas._generate import schema_base

SCHEMAS = all_schemas()
#: every published file of every version, by (version, file name)
ALL = {(v, n): s for v in SCHEMA_VERSIONS for n, s in all_schemas(v).items()}


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(n for v in node.values() for n in _walk(v))]
    if isinstance(node, list):
        return [n for v in node for n in _walk(v)]
    return []


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = SCHEMAS[name]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_id_is_version_true(name: str) -> None:
    assert SCHEMAS[name]["$id"] == f"{SCHEMA_BASE}{name}"
    assert f"/{SCHEMA_VERSION}/" in SCHEMAS[name]["$id"]
    assert SCHEMAS[name]["x-schemaVersion"] == SCHEMA_VERSION


@pytest.mark.parametrize(("version", "name"), sorted(ALL))
def test_every_version_has_its_own_ids(version: str, name: str) -> None:
    assert ALL[version, name]["$id"] == f"{schema_base(version)}{name}"
    assert ALL[version, name]["x-schemaVersion"] == version
    jsonschema.Draft202012Validator.check_schema(ALL[version, name])


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_ref_resolves_inside_the_same_version(name: str) -> None:
    for node in _walk(SCHEMAS[name]):
        ref = node.get("$ref")
        if ref is None:
            continue
        if ref.startswith("#/$defs/"):
            assert ref.removeprefix("#/$defs/") in SCHEMAS[name]["$defs"]
        else:
            assert ref in SCHEMAS, f"{name}: {ref} is not a published file of this version"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_titles_are_bilingual(name: str) -> None:
    for node in _walk(SCHEMAS[name]):
        if "title" in node and isinstance(node["title"], str):
            zh, sep, en = node["title"].partition(" / ")
            assert all((sep, zh, en)), f"{name}: title {node['title']!r} is not 'zh / en'"


@pytest.mark.parametrize(("version", "name"), sorted(ALL))
def test_enums_come_from_the_codelists(version: str, name: str) -> None:
    for node in _walk(ALL[version, name]):
        if "codelist" in node:
            codes = list(codelist(node["codelist"].removesuffix(".csv"), version).values)
            assert [c for c in node["enum"] if c is not None] == codes
            assert node["openCodelist"] is False


def test_deprecated_field_is_marked() -> None:
    prop = SCHEMAS["member.schema.json"]["properties"]["lostContact"]
    assert prop["deprecated"] is True
    assert prop["x-deprecatedVersion"] == "1.0"
