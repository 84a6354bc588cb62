"""Generate the published JSON Schema files from the models.

The files under ``v1/`` are build output committed for people who do not use Python; a test
fails when they differ from a fresh generation (``tongxin schema export schemas/v1``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from ._codelists import CODELISTS, codelist_csv
from ._models import RECORD_TYPES, SCHEMA_VERSION, Attendance, Package, Record

__all__ = ["SCHEMA_BASE", "all_schemas", "export", "schema_for", "schema_id"]

SCHEMA_BASE = f"https://tongxin.org.cn/schemas/{SCHEMA_VERSION}/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
DATE_TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
NESTED_MODELS: dict[str, type[BaseModel]] = {"Attendance": Attendance}


def schema_id(name: str) -> str:
    """The version-true ``$id`` of the schema file ``name`` (``member``)."""
    return f"{SCHEMA_BASE}{name}.schema.json"


def _docstring_titles(model: type[BaseModel]) -> tuple[str, str]:
    lines = [ln.strip() for ln in (model.__doc__ or "").strip().splitlines() if ln.strip()]
    return lines[0], " ".join(lines[1:])


def _simplify(node: Any) -> Any:
    """Tidy pydantic's output: ``anyOf [X, null]`` becomes X with a nullable ``type``, and
    ``default: null`` is dropped, so that both engines give one plain message per fault."""
    if isinstance(node, list):
        return [_simplify(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _simplify(v) for k, v in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (inner,) = [o for o in options if o != {"type": "null"}]
        if "type" in inner and "$ref" not in inner:
            del node["anyOf"]
            merged = {**inner, **node}
            merged["type"] = [inner["type"], "null"]
            if "enum" in merged:
                merged["enum"] = [*merged["enum"], None]
            node = merged
    if node.get("default", 0) is None:
        del node["default"]
    if node.get("format") == "date-time":
        # RFC 3339 exactly ("T" and a "+HH:MM" offset): some engines' date-time formats also
        # take a space or "+0800"; the pattern makes every engine agree.
        node["pattern"] = DATE_TIME_PATTERN
    return node


def _finish(model: type[BaseModel], name: str, body: dict[str, Any]) -> dict[str, Any]:
    zh, en = _docstring_titles(model)
    titles = getattr(model, "titles", None) or (zh, en)
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": DIALECT,
        "$id": schema_id(name),
        "title": f"{titles[0]} / {titles[1]}",
        "description": f"{zh} / {en}",
        "x-schemaVersion": SCHEMA_VERSION,
        **_simplify(body),
    }


def schema_for(model: type[Record]) -> dict[str, Any]:
    """The published JSON Schema of one record type."""
    body = model.model_json_schema(by_alias=True, mode="validation")
    for def_name, definition in body.get("$defs", {}).items():
        zh, en = _docstring_titles(NESTED_MODELS[def_name])
        definition["title"] = f"{zh.rstrip('。')} / {en.rstrip('.')}"
        definition.pop("description", None)
    return _finish(model, model.schema_name, body)


def package_schema() -> dict[str, Any]:
    """The published JSON Schema of the exchange package; its arrays ``$ref`` the record files."""
    body = Package.model_json_schema(by_alias=True, mode="validation")
    body.pop("$defs", None)
    for model in RECORD_TYPES:
        prop = body["properties"][model.collection]
        prop["items"] = {"$ref": f"{model.schema_name}.schema.json"}
        prop.pop("default", None)
    return _finish(Package, "package", body)


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every published schema by file name."""
    out = {f"{m.schema_name}.schema.json": schema_for(m) for m in RECORD_TYPES}
    out["package.schema.json"] = package_schema()
    return out


def render(schema: dict[str, Any]) -> bytes:
    """The canonical bytes of a schema file (2-space indent, key order kept, final newline)."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2) + b"\n"


def export(directory: Path) -> list[Path]:
    """Write every schema file, and the codelists below ``codelists/``, into ``directory``;
    return the paths written."""
    (directory / "codelists").mkdir(parents=True, exist_ok=True)
    written = []
    for filename, schema in all_schemas().items():
        path = directory / filename
        path.write_bytes(render(schema))
        written.append(path)
    for name in CODELISTS:
        path = directory / "codelists" / f"{name}.csv"
        path.write_text(codelist_csv(name), encoding="utf-8")
        written.append(path)
    return written
