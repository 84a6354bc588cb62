"""Schema validation with the compiled ``jsonschema-rs`` engine over the published files,
turning each engine error into a bilingual :class:`Issue` at its JSON Pointer."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
import orjson

from ._codelists import codelist
from ._generate import DATE_TIME_PATTERN
from ._issues import Issue, escape_pointer
from ._models import RECORD_TYPES
from ._rules import RULES

__all__ = ["COLLECTIONS", "deprecations", "header_errors", "load_schema", "record_errors"]

COLLECTIONS: dict[str, str] = {m.collection: m.schema_name for m in RECORD_TYPES}

#: Schema errors on these fields are reported under the domain rule rather than SCH-001.
_FIELD_RULES = {"citizenId": "MBR-001", "creditCode": "ORG-001"}
_TYPE_ZH = {
    "string": "字符串",
    "integer": "整数",
    "number": "数字",
    "object": "对象",
    "array": "数组",
    "boolean": "布尔值",
    "null": "空值",
}
_FORMAT_ZH = {"date": "日期 (YYYY-MM-DD)", "date-time": "带时区的日期时间 (RFC 3339)"}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The published schema ``name`` (``member``) as shipped in ``v1/``."""
    data = resources.files(__package__).joinpath("v1", f"{name}.schema.json").read_bytes()
    schema: dict[str, Any] = orjson.loads(data)
    return schema


@cache
def _validator(name: str) -> Any:
    return jsonschema_rs.Draft202012Validator(load_schema(name), validate_formats=True)


@cache
def _header_validator() -> Any:
    schema = dict(load_schema("package"))
    props = dict(schema["properties"])
    for collection in COLLECTIONS:
        props[collection] = {"type": "array"}
    schema["properties"] = props
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def _pointer(parts: list[str | int]) -> str:
    return "".join("/" + escape_pointer(p) for p in parts)


def _describe(error: Any) -> Iterator[tuple[str, str, str]]:
    """(pointer, zh, en) for one engine error; an unknown-fields error gives one per field."""
    kind = error.kind
    name = type(kind).__name__
    where = _pointer(list(error.instance_path))
    if name == "Required":
        yield (
            f"{where}/{escape_pointer(kind.property)}",
            f"缺少必填字段 {kind.property}",
            f"required field {kind.property} is missing",
        )
    elif name == "AdditionalProperties":
        for field in kind.unexpected:
            yield (
                f"{where}/{escape_pointer(field)}",
                f"不允许的字段 {field}",
                f"unknown field {field}",
            )
    elif name == "Type":
        types = [str(t) for t in kind.types]
        zh = " / ".join(_TYPE_ZH.get(t, t) for t in types)
        yield where, f"类型应为{zh}", f"must be of type {' / '.join(types)}"
    elif name == "Enum":
        value = orjson.dumps(error.instance).decode()
        yield where, f"{value} 不是允许的代码", f"{value} is not an allowed code"
    elif name == "Format":
        fmt = kind.format
        yield where, f"不是有效的{_FORMAT_ZH.get(fmt, fmt)}", f"is not a valid {fmt}"
    elif name == "Pattern" and kind.pattern == DATE_TIME_PATTERN:
        yield where, f"不是有效的{_FORMAT_ZH['date-time']}", "is not a valid date-time"
    elif name == "Pattern":
        value = orjson.dumps(error.instance).decode()
        yield where, f"{value} 格式不正确", f"{value} does not match the pattern {kind.pattern}"
    else:
        yield where, f"不符合数据标准：{error.message}", error.message


def _to_issues(errors: Iterator[Any]) -> Iterator[Issue]:
    for error in errors:
        leaf = error.instance_path[-1] if error.instance_path else None
        rule_id = _FIELD_RULES.get(leaf, "SCH-001") if isinstance(leaf, str) else "SCH-001"
        for where, zh, en in _describe(error):
            if rule_id == "SCH-001":
                yield RULES["SCH-001"].issue(where, detail_zh=zh, detail_en=en)
            else:
                yield RULES[rule_id].issue(
                    where, value=error.instance, why_zh="格式不正确", why_en="wrong format"
                )


def record_errors(collection: str, record: Any) -> list[Issue]:
    """Schema issues of one record (pointers relative to the record)."""
    validator = _validator(COLLECTIONS[collection])
    if validator.is_valid(record):
        return []
    return _first_per_path(_to_issues(validator.iter_errors(record)))


def header_errors(header: dict[str, Any]) -> list[Issue]:
    """Schema issues of a package's top-level fields (record arrays are checked per record)."""
    return _first_per_path(_to_issues(_header_validator().iter_errors(header)))


def _first_per_path(issues: Iterator[Issue]) -> list[Issue]:
    """One finding per pointer (say, a date-time failing both its format and its pattern)."""
    seen: set[str] = set()
    out = []
    for issue in issues:
        if issue.pointer not in seen:
            seen.add(issue.pointer)
            out.append(issue)
    return out


@cache
def deprecations(
    collection: str,
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, dict[str, str]], ...]]:
    """((field, version) of deprecated fields, (field, {code: version}) of deprecated codes)
    of one record type, read from the published schema and its codelists."""
    props = load_schema(COLLECTIONS[collection])["properties"]
    fields = tuple(
        (k, str(v.get("x-deprecatedVersion", ""))) for k, v in props.items() if v.get("deprecated")
    )
    coded = []
    for name, prop in props.items():
        if "codelist" in prop:
            codes = codelist(prop["codelist"].removesuffix(".csv")).codes
            retired = {c.code: c.deprecated for c in codes if c.deprecated}
            if retired:
                coded.append((name, retired))
    return fields, tuple(coded)
