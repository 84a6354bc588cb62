"""Schema validation with the compiled ``jsonschema-rs`` engine over the published files,
turning each engine error into a bilingual :class:`Issue` at its JSON Pointer."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
import orjson

from ._codelists import FOLDERS, LATEST, codelist
from ._fields import CODE_PATTERNS, ID_PATTERN
from ._generate import DATE_TIME_PATTERN
from ._issues import Issue, escape_pointer
from ._models11 import MODELS
from ._rules import RULES

__all__ = [
    "COLLECTIONS",
    "COLLECTIONS_BY_VERSION",
    "deprecations",
    "field_title",
    "header_errors",
    "load_schema",
    "package_version",
    "record_errors",
]

#: Record collections (package keys) and their schema names, by version; COLLECTIONS: latest.
COLLECTIONS_BY_VERSION: dict[str, dict[str, str]] = {
    v: {m.collection: m.schema_name for m in models} for v, models in MODELS.items()
}
COLLECTIONS: dict[str, str] = COLLECTIONS_BY_VERSION[LATEST]


def package_version(value: Any) -> str:
    """The version whose schemas check a package declaring ``schemaVersion`` = ``value``:
    that version when it is one, else 1.0 (which then reports the value)."""
    return value if isinstance(value, str) and value in COLLECTIONS_BY_VERSION else "1.0"


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
_FORMAT_ZH = {
    "date": "日期：应为“年-月-日”，如 2025-12-10",
    "date-time": "带时区的日期时间：应如 2025-12-10T14:30:00+08:00",
}
#: How to write a value of each pattern, in Chinese.
_PATTERN_ZH = {
    ID_PATTERN: "应为枢纽标识、冒号和本地标识：枢纽标识为三至三十二位小写字母、数字或连字符，"
    "本地标识为字母、数字、点、下划线或连字符",
    CODE_PATTERNS["divisionCode"]: "应为六位数字的行政区划代码",
    CODE_PATTERNS["period"]: "应为“年-月”，如 2025-12",
    CODE_PATTERNS["amount"]: "应为以元为单位、两位小数的金额，如 40.00",
    CODE_PATTERNS["phone"]: "应为十一位手机号码，或带区号的固定电话，如 028-85551234",
    CODE_PATTERNS["citizenId"]: "应为十八位：前十七位为数字，末位为数字或 X",
    CODE_PATTERNS["creditCode"]: "应为十八位数字或大写字母（不用 I、O、S、V、Z）",
}
#: Code lists short enough, and free of Latin letters, to list in a message.
_LISTED = 12


@cache
def load_schema(name: str, version: str = LATEST) -> dict[str, Any]:
    """The published schema ``name`` (``member``) of ``version`` as shipped in ``v1/``
    (1.0) or ``v1_1/`` (1.1)."""
    folder = resources.files(__package__).joinpath(FOLDERS[version])
    data = folder.joinpath(f"{name}.schema.json").read_bytes()
    schema: dict[str, Any] = orjson.loads(data)
    return schema


@cache
def _validator(name: str, version: str) -> Any:
    return jsonschema_rs.Draft202012Validator(load_schema(name, version), validate_formats=True)


@cache
def _header_validator(version: str) -> Any:
    schema = dict(load_schema("package", version))
    props = dict(schema["properties"])
    for collection in COLLECTIONS_BY_VERSION[version]:
        props[collection] = {"type": "array"}
    schema["properties"] = props
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def _pointer(parts: list[str | int]) -> str:
    return "".join("/" + escape_pointer(p) for p in parts)


#: (zh title, codelist name or "") of each field: of the record, and of its nested objects
Titles = tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]


@cache
def _titles(collection: str | None, version: str) -> Titles:
    name = COLLECTIONS_BY_VERSION[version][collection] if collection else "package"
    schema = load_schema(name, version)

    def read(props: dict[str, Any]) -> dict[str, tuple[str, str]]:
        return {
            k: (str(v.get("title", k)).partition(" / ")[0], str(v.get("codelist", "")))
            for k, v in props.items()
        }

    nested: dict[str, tuple[str, str]] = {}
    for definition in schema.get("$defs", {}).values():
        nested |= read(definition.get("properties", {}))
    return read(schema["properties"]), nested


def field_title(collection: str | None, name: str, version: str = LATEST) -> str:
    """The Chinese title of field ``name`` of ``collection`` (``citizenId``: 公民身份号码)."""
    top, nested = _titles(collection, version)
    return (top.get(name) or nested.get(name) or (name, ""))[0]


def _code_hint(codelist_file: str, version: str) -> str:
    listed = codelist(codelist_file.removesuffix(".csv"), version)
    codes = [c for c in listed.codes if not c.deprecated]
    if len(codes) <= _LISTED and not any(
        ch.isascii() and ch.isalpha() for c in codes for ch in c.code
    ):
        return "应为" + "、".join(f"{c.code}（{c.title_zh}）" for c in codes)
    return f"请改用代码表“{listed.title_zh}”中的代码"


def _describe(error: Any, titles: Titles, version: str) -> Iterator[tuple[str, str, str]]:
    """(pointer, zh, en) for one engine error; an unknown-fields error gives one per field."""
    kind = error.kind
    name = type(kind).__name__
    path = list(error.instance_path)
    where = _pointer(path)
    top, nested = titles
    leaf = path[-1] if path and isinstance(path[-1], str) else None
    fields = (
        nested if len(path) > (0 if name in ("Required", "AdditionalProperties") else 1) else top
    )
    title, coded = fields.get(leaf, ("该值", "")) if leaf else ("该值", "")
    if name == "Required":
        missing = fields.get(kind.property, (kind.property, ""))[0]
        yield (
            f"{where}/{escape_pointer(kind.property)}",
            f"缺少必填字段“{missing}”：请填写该字段",
            f"required field {kind.property} is missing",
        )
    elif name == "AdditionalProperties":
        for field in kind.unexpected:
            yield (
                f"{where}/{escape_pointer(field)}",
                f"不允许的字段 {field}：请删除该字段，或改为数据项表中的字段名",
                f"unknown field {field}",
            )
    elif name == "Type":
        types = [str(t) for t in kind.types]
        zh = "或".join(_TYPE_ZH.get(t, "其他") for t in types)
        yield where, f"“{title}”的类型应为{zh}", f"must be of type {' / '.join(types)}"
    elif name == "Enum":
        value = orjson.dumps(error.instance).decode()
        hint = _code_hint(coded, version) if coded else "请改用允许的代码"
        yield where, f"{value} 不是“{title}”的代码：{hint}", f"{value} is not an allowed code"
    elif name == "Format":
        fmt = kind.format
        zh = _FORMAT_ZH.get(fmt, "格式")
        yield where, f"“{title}”不是有效的{zh}", f"is not a valid {fmt}"
    elif name == "Pattern" and kind.pattern == DATE_TIME_PATTERN:
        yield where, f"“{title}”不是有效的{_FORMAT_ZH['date-time']}", "is not a valid date-time"
    elif name == "Pattern":
        value = orjson.dumps(error.instance).decode()
        hint = _PATTERN_ZH.get(kind.pattern, "请对照数据项表改正")
        yield (
            where,
            f"“{title}”的值 {value} 格式不正确：{hint}",
            f"{value} does not match the pattern {kind.pattern}",
        )
    else:
        yield where, f"“{title}”{_limit_zh(name, kind)}", error.message


def _limit_zh(name: str, kind: Any) -> str:
    limit = getattr(kind, "limit", None)
    return {
        "MinLength": "不能为空：请填写" if limit == 1 else f"至少应有 {limit} 个字符",
        "MaxLength": f"不能超过 {limit} 个字符：请删减",
        "Minimum": f"应不小于 {limit}",
        "Maximum": f"应不大于 {limit}",
        "MinItems": f"至少应有 {limit} 项",
        "MaxItems": f"最多 {limit} 项：请删减",
        "Constant": f"应为 {orjson.dumps(getattr(kind, 'expected_value', '')).decode()}",
    }.get(name, "不符合数据标准：请对照数据项表改正")


def _why_zh(rule_id: str, value: Any) -> str:
    if rule_id == "MBR-001":
        return _PATTERN_ZH[CODE_PATTERNS["citizenId"]]
    return _PATTERN_ZH[CODE_PATTERNS["creditCode"]]


def _to_issues(errors: Iterator[Any], titles: Titles, version: str) -> Iterator[Issue]:
    for error in errors:
        leaf = error.instance_path[-1] if error.instance_path else None
        rule_id = _FIELD_RULES.get(leaf, "SCH-001") if isinstance(leaf, str) else "SCH-001"
        for where, zh, en in _describe(error, titles, version):
            if rule_id == "SCH-001":
                yield RULES["SCH-001"].issue(where, detail_zh=zh, detail_en=en)
            else:
                yield RULES[rule_id].issue(
                    where,
                    value=error.instance,
                    why_zh=_why_zh(rule_id, error.instance),
                    why_en="wrong format",
                )


def record_errors(collection: str, record: Any, version: str = LATEST) -> list[Issue]:
    """Schema issues of one record of ``version`` (pointers relative to the record)."""
    validator = _validator(COLLECTIONS_BY_VERSION[version][collection], version)
    if validator.is_valid(record):
        return []
    titles = _titles(collection, version)
    return _first_per_path(_to_issues(validator.iter_errors(record), titles, version))


def header_errors(header: dict[str, Any], version: str | None = None) -> list[Issue]:
    """Schema issues of a package's top-level fields (record arrays are checked per record),
    against the package schema of ``version``, by default the version the header declares."""
    version = version or package_version(header.get("schemaVersion"))
    errors = _header_validator(version).iter_errors(header)
    return _first_per_path(_to_issues(errors, _titles(None, version), version))


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
    collection: str, version: str = LATEST
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, dict[str, str]], ...]]:
    """((field, version) of deprecated fields, (field, {code: version}) of deprecated codes)
    of one record type, read from the published schema of ``version`` and its codelists."""
    props = load_schema(COLLECTIONS_BY_VERSION[version][collection], version)["properties"]
    fields = tuple(
        (k, str(v.get("x-deprecatedVersion", ""))) for k, v in props.items() if v.get("deprecated")
    )
    coded = []
    for name, prop in props.items():
        if "codelist" in prop:
            codes = codelist(prop["codelist"].removesuffix(".csv"), version).codes
            retired = {c.code: c.deprecated for c in codes if c.deprecated}
            if retired:
                coded.append((name, retired))
    return fields, tuple(coded)
