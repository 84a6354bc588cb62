"""Legacy rows to standard records: each column alias is a field of the standard, and each
value is normalised exactly as the roster import does (codes given by title or synonym, the
date forms, 15-digit citizen IDs, full-width characters, phone numbers); ids and references get
the ``hub-id:`` prefix unless they already carry one."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from tongxin.adapters.roster import normalise as cell
from tongxin.schemas import RECORD_TYPES, Record, all_schemas, codelist

__all__ = ["FieldKinds", "field_kinds", "row_hash", "to_record", "with_prefix"]

_MODELS: dict[str, type[Record]] = {m.collection: m for m in RECORD_TYPES}
_SERVER = frozenset({"version", "updatedAt"})
_LIST = re.compile(r"[、,，;；\s]+")


@dataclass(frozen=True, slots=True)
class FieldKinds:
    """The wire fields of one record type, by how their values are normalised."""

    fields: frozenset[str]
    codes: Mapping[str, str]  # field -> codelist
    dates: frozenset[str]
    times: frozenset[str]
    refs: frozenset[str]
    #: lists of references (an applicant's ``sponsors`` and ``introducers``): one column of
    #: keys separated by commas, 、 or spaces
    ref_lists: frozenset[str]
    amounts: frozenset[str]
    months: frozenset[str]
    integers: frozenset[str]
    booleans: frozenset[str]


def _types(prop: Mapping[str, Any]) -> set[str]:
    kind = prop.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


@cache
def field_kinds(collection: str) -> FieldKinds:
    """How each field of ``collection`` is read from a legacy column, from the published JSON
    Schema (the standard's single source)."""
    model = _MODELS[collection]
    props: Mapping[str, Mapping[str, Any]] = all_schemas()[f"{model.schema_name}.schema.json"][
        "properties"
    ]
    codes: dict[str, str] = {}
    dates, times, refs, amounts, ints, bools, months = (set() for _ in range(7))
    ref_lists: set[str] = set()
    for name, prop in props.items():
        pattern = str(prop.get("pattern", ""))
        items = prop.get("items")
        item_pattern = str(items.get("pattern", "")) if isinstance(items, Mapping) else ""
        if "array" in _types(prop) and ":" in item_pattern:
            ref_lists.add(name)
            continue
        if "codelist" in prop:
            codes[name] = str(prop["codelist"]).removesuffix(".csv")
        elif prop.get("format") == "date-time":
            times.add(name)
        elif prop.get("format") == "date":
            dates.add(name)
        elif ":" in pattern and pattern.startswith("^[a-z0-9]"):
            refs.add(name)
        elif pattern == r"^[0-9]{4}-(0[1-9]|1[0-2])$":
            months.add(name)
        elif pattern.endswith(r"\.[0-9]{2}$"):
            amounts.add(name)
        elif "boolean" in _types(prop):
            bools.add(name)
        elif "integer" in _types(prop):
            ints.add(name)
    return FieldKinds(
        frozenset(props) - _SERVER,
        codes,
        frozenset(dates),
        frozenset(times),
        frozenset(refs),
        frozenset(ref_lists),
        frozenset(amounts),
        frozenset(months),
        frozenset(ints),
        frozenset(bools),
    )


@cache
def _code_index(name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in codelist(name).codes:
        for key in (c.code, c.title_zh, c.title_en):
            out[cell.key(key)] = c.code
    out.update(cell.SYNONYMS.get(name, {}))  # the roster import's table: one for both
    return out


def _code(field: str, codelist_name: str, value: Any) -> str:
    if field in cell.CODED:
        found = cell.code_value(field, value)
        if isinstance(found, str):
            return found
    return _code_index(codelist_name).get(cell.key(cell.clean_text(value)), cell.clean_text(value))


def _date(value: Any) -> str:
    found = cell.date_value(value)
    return found[0] if isinstance(found, tuple) else cell.clean_text(value)


def _time(value: Any) -> str:
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
        return stamp.isoformat()
    text = cell.clean_text(value)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return text
    return _time(parsed)


def with_prefix(hub_id: str, value: Any) -> str:
    """A legacy key as a record id: ``hub-id:`` before it unless it carries a prefix."""
    text = cell.clean_text(value)
    return text if ":" in text else f"{hub_id}:{text}"


def _amount(value: Any) -> str:
    try:
        return f"{decimal.Decimal(cell.clean_text(value)).quantize(decimal.Decimal('0.01'))}"
    except decimal.InvalidOperation:
        return cell.clean_text(value)


def to_record(collection: str, hub_id: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The standard record of one legacy row (values the standard would refuse are passed on
    as they are, so the hub's validation names them)."""
    kinds = field_kinds(collection)
    out: dict[str, Any] = {}
    for field, value in row.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if field in kinds.codes:
            out[field] = _code(field, kinds.codes[field], value)
        elif field in kinds.dates:
            out[field] = _date(value)
        elif field in kinds.times:
            out[field] = _time(value)
        elif field in kinds.refs:
            out[field] = with_prefix(hub_id, value)
        elif field in kinds.ref_lists:
            keys = value if isinstance(value, list | tuple) else _LIST.split(cell.clean_text(value))
            out[field] = [with_prefix(hub_id, k) for k in keys if str(k).strip()]
        elif field in kinds.months:
            out[field] = _date(value)[:7]
        elif field in kinds.amounts:
            out[field] = _amount(value)
        elif field in kinds.booleans:
            out[field] = bool(value) if not isinstance(value, str) else value.strip() in {"1", "是"}
        elif field in kinds.integers:
            out[field] = int(value) if not isinstance(value, str) else int(cell.clean_text(value))
        elif field == "citizenId":
            out[field] = cell.citizen_id_value(value)[0]
        elif field == "phone":
            out[field] = cell.phone_value(value)
        else:
            out[field] = cell.clean_text(value) if isinstance(value, str) else value
    return out


def row_hash(record: Mapping[str, Any]) -> str:
    """A digest of a record's content, to tell a changed row from an unchanged one."""
    return hashlib.blake2b(
        orjson.dumps(record, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).hexdigest()
