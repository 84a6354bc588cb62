"""Generate the published JSON Schema files from the models.

The files under ``v1/`` (version 1.0) and ``v1_1/`` (1.1) are build output committed for people
who do not use Python; a test fails when they differ from a fresh generation
(``tongxin schema export schemas/v1_1``). Each version's files carry that version in their
``$id`` and refer only to files of the same version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from ._codelists import CODELISTS_BY_VERSION, LATEST, codelist_csv
from ._models import Record
from ._models11 import MODELS, NESTED, PACKAGES

__all__ = ["SCHEMA_BASE", "all_schemas", "export", "schema_base", "schema_for", "schema_id"]


def schema_base(version: str = LATEST) -> str:
    """The URL every schema file of ``version`` lives under."""
    return f"https://tongxin.org.cn/schemas/{version}/"


SCHEMA_BASE = schema_base()
DIALECT = "https://json-schema.org/draft/2020-12/schema"
DATE_TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def schema_id(name: str, version: str = LATEST) -> str:
    """The version-true ``$id`` of the schema file ``name`` (``member``) of ``version``."""
    return f"{schema_base(version)}{name}.schema.json"


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


def _finish(
    model: type[BaseModel], name: str, body: dict[str, Any], version: str
) -> dict[str, Any]:
    zh, en = _docstring_titles(model)
    titles = getattr(model, "titles", None) or (zh, en)
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": DIALECT,
        "$id": schema_id(name, version),
        "title": f"{titles[0]} / {titles[1]}",
        "description": f"{zh} / {en}",
        "x-schemaVersion": version,
        **_simplify(body),
    }


def schema_for(model: type[Record], version: str = LATEST) -> dict[str, Any]:
    """The published JSON Schema of one record type in ``version``."""
    body = model.model_json_schema(by_alias=True, mode="validation")
    for def_name, definition in body.get("$defs", {}).items():
        zh, en = _docstring_titles(NESTED[def_name])
        definition["title"] = f"{zh.rstrip('。')} / {en.rstrip('.')}"
        definition.pop("description", None)
    return _finish(model, model.schema_name, body, version)


def package_schema(version: str = LATEST) -> dict[str, Any]:
    """The published JSON Schema of the exchange package; its arrays ``$ref`` the record files."""
    package = PACKAGES[version]
    body = package.model_json_schema(by_alias=True, mode="validation")
    body.pop("$defs", None)
    for model in MODELS[version]:
        prop = body["properties"][model.collection]
        prop["items"] = {"$ref": f"{model.schema_name}.schema.json"}
        prop.pop("default", None)
    return _finish(package, "package", body, version)


def all_schemas(version: str = LATEST) -> dict[str, dict[str, Any]]:
    """Every published schema of ``version`` by file name."""
    out = {f"{m.schema_name}.schema.json": schema_for(m, version) for m in MODELS[version]}
    out["package.schema.json"] = package_schema(version)
    return out


def render(schema: dict[str, Any]) -> bytes:
    """The canonical bytes of a schema file (2-space indent, key order kept, final newline)."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2) + b"\n"


def export(directory: Path, version: str = LATEST) -> list[Path]:
    """Write every schema file of ``version``, and its codelists below ``codelists/``, into
    ``directory``; return the paths written."""
    (directory / "codelists").mkdir(parents=True, exist_ok=True)
    written = []
    for filename, schema in all_schemas(version).items():
        path = directory / filename
        path.write_bytes(render(schema))
        written.append(path)
    for name in CODELISTS_BY_VERSION[version]:
        path = directory / "codelists" / f"{name}.csv"
        path.write_text(codelist_csv(name, version), encoding="utf-8")
        written.append(path)
    return written
