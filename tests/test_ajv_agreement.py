"""A second, independent engine (ajv, from npm) agrees with ours on the published schemas.

The corpus is every JSON document under ``spec/examples/`` plus generated cases: valid synthetic
records of every type, and systematic mutations derived from the schemas themselves (every
property removed, set to every JSON type, to null, to every code and to bad codes, to good and
bad pattern, format, length and range values; unknown fields; nested attendance faults), each
also embedded in a package so the package's relative ``$ref`` s are exercised. The whole corpus
goes to ``tests/ajv/validate.mjs`` in one subprocess call; for every case both engines must give
the same verdict and report errors at the same set of JSON Pointers.

Our engine here is the schema part of ``tongxin validate``: :func:`record_errors` per record and
:func:`header_errors` for a package's top-level fields, pointers moved under ``/members/3``.

Every version of the standard has its own corpus (case names start with the version) checked
against that version's folder of schema files; the examples under ``spec/examples/`` go to the
version they declare.
"""

from __future__ import annotations

import copy
import io
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from tongxin.schemas._codelists import FOLDERS
from tongxin.schemas._conformance import valid_package_11
from tongxin.schemas._schemacheck import (
    COLLECTIONS_BY_VERSION,
    header_errors,
    load_schema,
    record_errors,
)
from tongxin.schemas._synthetic import SyntheticHub, write_package

ROOT = Path(__file__).resolve().parent.parent
AJV_DIR = ROOT / "tests" / "ajv"
SCHEMA_DIRS = {version: ROOT / "schemas" / folder for version, folder in FOLDERS.items()}
VERSIONS = tuple(FOLDERS)
EXAMPLES = ROOT / "spec" / "examples"
PACKAGE = "package.schema.json"

Json = Any
Verdict = tuple[bool, frozenset[str]]

# The two engines agree on every case, paths included. ajv-formats' "date-time" alone would
# accept a space separator and "+0800" (RFC 3339 forbids both): the published schemas pair
# each date-time format with a pattern, and the DATE_TIME_LENIENT cases keep that fixed.


@dataclass(frozen=True, slots=True)
class Case:
    """One instance to validate against one published schema file."""

    name: str
    schema: str
    instance: Json
    collection: str | None = None  # None: a package
    version: str = "1.1"


# ---------------------------------------------------------------------------------------------
# Sample values. Pattern samples are chosen per field; a new pattern field without samples
# fails ``test_corpus_covers_the_schemas``.

_ID_GOOD = ["cd-wuhou:m00000001", "abc:X", "a1-:a.b_c-d", "a" * 32 + ":x", "abc:" + "x" * 64]
_ID_BAD = [
    "",
    "cd:x",
    "Cd-wuhou:x",
    "-cd-wuhou:x",
    "cd-wuhou:",
    "cd-wuhou:.x",
    "cd-wuhou:x y",
    "cd-wuhou:m1\n",
    "cd-wuhou:m１",
    "cd-wuhou::x",
    "a" * 33 + ":x",
    "abc:" + "x" * 65,
    "a" * 32 + ":" + "x" * 64,  # matches the pattern but exceeds maxLength 96
]
PATTERN_SAMPLES: dict[str, tuple[list[str], list[str]]] = {
    "id": (_ID_GOOD, _ID_BAD),
    "citizenId": (
        ["51010719900307123X", "51010719900307123x", "510107199003071234"],
        [
            "5101071990030712",
            "51010719900307123",
            "5101071990030712345",
            "51010719900307123Y",
            "５10107199003071234",
            " 510107199003071234",
            "510107199003071234\n",
        ],
    ),
    "creditCode": (
        ["91510107MA61234567", "12100000400000624D"],
        [
            "91510107ma61234567",
            "91510107MA6123456I",
            "91510107MA6123456",
            "91510107MA612345678",
            "9151O107MA61234567",
            "91510107MA6123456Z",
        ],
    ),
    "phone": (
        ["13800138000", "19912345678", "028-85551234", "02885551234", "0755-1234567"],
        [
            "12800138000",
            "1380013800",
            "138001380001",
            "+8613800138000",
            "028 85551234",
            "028-855512345",
            "１3800138000",
            "",
        ],
    ),
    "divisionCode": (["510107", "110000"], ["51010", "5101070", "51010a", "５10107"]),
    "period": (
        ["2025-12", "2025-01", "0001-09"],
        ["2025-13", "2025-00", "2025-1", "202512", "2025-12-01", "25-12", "2025/12"],
    ),
    "amount": (
        ["0.00", "12.50", "9999999999.99"],
        [
            "12.5",
            "12",
            "012.50",
            "-1.00",
            "1,000.00",
            "12.505",
            "１2.50",
            "12.50 ",
            "99999999999.99",
            ".50",
        ],
    ),
}
_PATTERN_FIELD = {"base": "amount", "duesPaidUntil": "period"}

DATE_GOOD = ["2024-02-29", "2000-02-29", "1999-12-31", "2025-01-01"]
DATE_BAD = [
    "2023-02-30",
    "2023-02-29",
    "1900-02-29",
    "2023-04-31",
    "2023-13-01",
    "2023-00-10",
    "2023-01-00",
    "2023-1-01",
    "20230101",
    "2023-01-01T00:00:00+08:00",
    "2023/01/01",
    "2023-01-0１",
    " 2023-01-01",
    "",
]
DATE_TIME_GOOD = [
    "2025-12-10T14:30:00+08:00",
    "2025-12-10T06:30:00Z",
    "2025-12-10t06:30:00z",
    "2025-12-10T14:30:00.123+08:00",
    "2025-12-10T14:30:00-05:30",
    "2024-02-29T00:00:00+08:00",
    "2016-12-31T23:59:60Z",
]
DATE_TIME_BAD = [
    "2025-12-10T14:30:00",
    "2025-12-10T14:30:00.5",
    "2025-12-10",
    "2025-02-29T14:30:00+08:00",
    "2025-12-10T24:00:00+08:00",
    "2025-12-10T14:60:00+08:00",
    "2025-12-10T14:30+08:00",
    "2025-12-10T14:30:00+24:00",
    "2025-12-10T14:30:00,5+08:00",
    "2025-12-10T23:59:60+08:00",
    "2025-12-10T14:30:00 +08:00",
    "2023-02-30T10:00:00+08:00",
    "",
]
DATE_TIME_LENIENT = [
    "2025-12-10 14:30:00+08:00",
    "2025-12-10T14:30:00+0800",
    "2025-12-10T14:30:00+08",
]

#: One value of every JSON type, set in turn on every property.
EVERY_TYPE: list[tuple[str, Json]] = [
    ("string", "x"),
    ("integer", 7),
    ("number", 1.5),
    ("boolean", True),
    ("array", []),
    ("object", {}),
    ("null", None),
]
_ASTRAL = "\U00020000"  # one code point, two UTF-16 units: lengths count code points


# ---------------------------------------------------------------------------------------------
# Valid records


def _synthetic() -> dict[str, list[dict[str, Any]]]:
    buffer = io.BytesIO()
    write_package(buffer, SyntheticHub(hub_id="cd-wuhou", members=6, per_branch=3))
    package: dict[str, Any] = orjson.loads(buffer.getvalue())
    return {c: package[c] for c in COLLECTIONS_BY_VERSION["1.0"]}


def _transfer() -> dict[str, Any]:
    return {
        "id": "cd-wuhou:t00000001",
        "version": 2,
        "updatedAt": "2025-12-01T09:00:00+08:00",
        "memberId": "cd-wuhou:m00000001",
        "fromOrganisationId": "cd-wuhou:o00000001",
        "toOrganisationId": "cd-jinjiang:o00000042",
        "reason": "work-unit-change",
        "duesPaidUntil": "2025-11",
        "issuedDate": "2025-12-01",
        "validDays": 90,
        "state": "issued",
        "letterNumber": "川组转〔2025〕001号",
    }


#: Valid values for optional properties the synthetic records leave out.
_OPTIONAL: dict[str, dict[str, Json]] = {
    "organisations": {"creditCode": "91510107MA61234567", "hostUnit": "示范县人民政府"},
    "members": {"nativePlace": "四川成都", "lostContactSince": "2024-05-01", "lostContact": False},
    "activities": {"recorder": "组织委员", "decisions": "通过发展对象名单"},
    "duesPayments": {},
    "transfers": {},
    "applicants": {"phone": "13800138000"},
}
_LEADERS = [
    {"memberId": "cd-wuhou:m00000001", "name": "王伟", "post": "secretary", "since": "2024-03-01"},
    {"name": "李娜", "post": "deputy-secretary", "since": "2021-03-01", "until": "2024-03-01"},
]
#: What 1.1 adds to the full records of 1.0 types.
_OPTIONAL_11: dict[str, dict[str, Json]] = {"organisations": {"leaders": _LEADERS}}


@cache
def valid_records(version: str) -> dict[str, list[dict[str, Any]]]:
    """Synthetic records of every type of ``version``; the last of each sets every property."""
    records = _synthetic()
    records["transfers"] = [_transfer()]
    if version != "1.0":
        records["applicants"] = copy.deepcopy(valid_package_11()["applicants"])
    for collection in records:
        extra = _OPTIONAL[collection] | (
            _OPTIONAL_11.get(collection, {}) if version != "1.0" else {}
        )
        base: dict[str, Any] = copy.deepcopy(max(records[collection], key=len))
        full = {**base, **extra}
        if collection == "activities":
            full["attendance"][0] = {**full["attendance"][0], "status": "excused", "reason": "出差"}
        records[collection].append(full)
    return records


# ---------------------------------------------------------------------------------------------
# Mutations


def _schema(collection: str | None, version: str) -> dict[str, Any]:
    name = COLLECTIONS_BY_VERSION[version][collection] if collection else "package"
    schema: dict[str, Any] = load_schema(name, version)
    return schema


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return _resolve(root, target)
    return node


def _types(prop: dict[str, Any]) -> list[str]:
    kind = prop.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _property_values(name: str, prop: dict[str, Any]) -> Iterator[tuple[str, Json]]:
    """(label, value) for one property, from its schema."""
    for kind, value in EVERY_TYPE:
        yield f"type-{kind}", value
    codes = [c for c in prop.get("enum", []) if c is not None]
    for code in codes:
        yield f"code-{code}", code
    if codes:
        first = str(codes[0])
        for bad in ["not-a-code", first.upper() + "X", f" {first}", f"{first} ", ""]:
            yield f"bad-code-{bad!r}", bad
    if "pattern" in prop and prop.get("format") != "date-time":  # date-time: cases below
        samples = PATTERN_SAMPLES.get(_pattern_field(name))
        if samples is None:
            raise KeyError(f"{name} has a pattern: add its samples to PATTERN_SAMPLES")
        good, bad_values = samples
        for i, value in enumerate(good):
            yield f"pattern-good-{i}", value
        for i, value in enumerate(bad_values):
            yield f"pattern-bad-{i}", value
    fmt = prop.get("format")
    if fmt == "date":
        for value in DATE_GOOD + DATE_BAD:
            yield f"date-{value!r}", value
    elif fmt == "date-time":
        for value in DATE_TIME_GOOD + DATE_TIME_BAD:
            yield f"date-time-{value!r}", value
        for value in DATE_TIME_LENIENT:
            yield f"date-time-{value!r}", value
    if "minLength" in prop or "maxLength" in prop:
        low, high = prop.get("minLength", 0), prop.get("maxLength")
        if low:
            yield "length-min-1", "a" * (low - 1)
        if high is not None and "pattern" not in prop:
            for n in (high, high + 1):
                yield f"length-{n}", "a" * n
                yield f"length-{n}-astral", _ASTRAL * n
    if "minimum" in prop or "maximum" in prop:
        for bound in ("minimum", "maximum"):
            if bound in prop:
                edge = prop[bound]
                for value in (edge - 1, edge, edge + 1, float(edge), edge + 0.5):
                    yield f"{bound}-{value!r}", value
        yield "large", 10**12


def _pattern_field(name: str) -> str:
    if name in PATTERN_SAMPLES:
        return name
    if name in _PATTERN_FIELD:
        return _PATTERN_FIELD[name]
    return "id" if name.endswith("Id") else name


def _object_mutations(
    root: dict[str, Any], node: dict[str, Any], base: dict[str, Any]
) -> Iterator[tuple[str, Json]]:
    """(label, mutated object) for one object schema and a full valid object."""
    schema = _resolve(root, node)
    props: dict[str, Any] = schema["properties"]
    required: list[str] = schema.get("required", [])
    for name in props:
        if name in base:
            yield f"{name}/removed", {k: v for k, v in base.items() if k != name}
        for label, value in _property_values(name, _resolve(root, props[name])):
            yield f"{name}/{label}", {**base, name: value}
    yield "all-required-removed", {k: v for k, v in base.items() if k not in required}
    yield "empty", {}
    yield "unknown-field", {**base, "unknownField": "x"}
    yield "unknown-field-escaped", {**base, "a/b~c": 1}
    yield "unknown-field-empty-name", {**base, "": 1}
    yield "unknown-fields-two", {**base, "unknownField": "x", "otherField": 1}
    for kind, value in EVERY_TYPE:
        if kind != "object":
            yield f"root-{kind}", value


def _leaders_cases(organisation: dict[str, Any]) -> Iterator[tuple[str, Json]]:
    root = _schema("organisations", "1.1")
    item_schema = root["properties"]["leaders"]["items"]
    good = {"memberId": "cd-wuhou:m00000002", "name": "张敏", "post": "organisation-member",
            "since": "2024-03-01", "until": "2027-03-01"}  # fmt: skip
    other = _LEADERS[0]

    def with_items(items: list[Json]) -> dict[str, Any]:
        return {**organisation, "leaders": items}

    for label, item in _object_mutations(root, item_schema, good):
        yield f"leaders/item/{label}", with_items([other, item, other])
    yield "leaders/empty", with_items([])
    yield "leaders/null", with_items(None)  # type: ignore[arg-type]


def _attendance_cases(activity: dict[str, Any]) -> Iterator[tuple[str, Json]]:
    root = _schema("activities", "1.0")
    item_schema = root["properties"]["attendance"]["items"]
    good = {"memberId": "cd-wuhou:m00000002", "status": "absent", "reason": "病假"}
    other = {"memberId": "cd-wuhou:m00000003", "status": "present"}

    def with_items(items: list[Json]) -> dict[str, Any]:
        return {**activity, "attendance": items}

    for label, item in _object_mutations(root, item_schema, good):
        yield f"attendance/item/{label}", with_items([other, item, other])
    yield "attendance/empty", with_items([])
    yield "attendance/duplicates", with_items([other, other])
    yield (
        "attendance/several-faults",
        with_items(
            [
                {"memberId": "bad id", "status": "late"},
                other,
                {"status": "present", "reason": ""},
                {"memberId": "cd-wuhou:m00000004", "status": None, "note": "x"},
                "present",
            ]
        ),
    )


def _record_cases(version: str) -> Iterator[Case]:
    for collection, records in valid_records(version).items():
        schema = f"{COLLECTIONS_BY_VERSION[version][collection]}.schema.json"
        at = f"{version}/{collection}"
        for i, record in enumerate(records):
            yield Case(f"{at}/valid-{i}", schema, record, collection, version)
        full = records[-1]
        root = _schema(collection, version)
        mutations = list(_object_mutations(root, root, full))
        if collection == "activities":
            mutations += _attendance_cases(full)
        if collection == "organisations" and version != "1.0":
            mutations += _leaders_cases(full)
        several = {**full, "id": "X", "version": 0, "updatedAt": "2025-12-10T14:30:00"}
        del several[root["required"][-1]]
        mutations.append(("several-faults", several))
        for label, instance in mutations:
            yield Case(f"{at}/{label}", schema, instance, collection, version)


def _header(version: str) -> dict[str, Any]:
    return {
        "schemaVersion": version,
        "publisher": "cd-wuhou",
        "publishedAt": "2026-01-01T08:00:00+08:00",
    }


def _package_cases(record_cases: list[Case], version: str) -> Iterator[Case]:
    records = valid_records(version)
    head, at = _header(version), f"{version}/package"
    full = {**head, **{c: list(r) for c, r in records.items()}}
    yield Case(f"{at}/valid-full", PACKAGE, full, None, version)
    yield Case(f"{at}/valid-header-only", PACKAGE, head, None, version)
    empty = {**head, **{c: [] for c in COLLECTIONS_BY_VERSION[version]}}
    yield Case(f"{at}/valid-empty-collections", PACKAGE, empty, None, version)
    root = _schema(None, version)
    for label, instance in _object_mutations(root, root, full):
        # A document that is not an object is refused by the package reader
        # (PackageReadError) before any schema check, so it has no schema verdict of ours.
        if isinstance(instance, dict):
            yield Case(f"{at}/{label}", PACKAGE, instance, None, version)
    # Every record case inside a package, after one valid record of its type.
    for case in record_cases:
        assert case.collection is not None
        first = records[case.collection][0]
        instance = {**head, case.collection: [first, case.instance]}
        yield Case(f"{at}/{case.name}", PACKAGE, instance, None, version)
    many = copy.deepcopy(full)
    many["publishedAt"] = "2026-01-01"
    many["members"][1]["citizenId"] = "123"
    many["members"][2]["extra"] = 1
    many["activities"][0]["attendance"][1]["status"] = "late"
    many["duesPayments"][3]["amount"] = "3"
    del many["transfers"][0]["state"]
    yield Case(f"{at}/faults-everywhere", PACKAGE, many, None, version)


def _example_cases() -> Iterator[Case]:
    if not EXAMPLES.is_dir():
        return
    for path in sorted(EXAMPLES.rglob("*.json")):
        document = orjson.loads(path.read_bytes())
        declared = document.get("schemaVersion") if isinstance(document, dict) else None
        version = declared if declared in COLLECTIONS_BY_VERSION else "1.0"
        collections = COLLECTIONS_BY_VERSION[version]
        names = {f"{name}.schema.json": c for c, name in collections.items()}
        name = f"example/{path.relative_to(EXAMPLES).as_posix()}"
        is_package = isinstance(document, dict) and (
            "schemaVersion" in document or any(c in document for c in collections)
        )
        if is_package:
            yield Case(name, PACKAGE, document, None, version)
            continue
        # A single record: its type is the longest schema name the file name starts with.
        matches = [s for s in names if path.stem.startswith(s.removesuffix(".schema.json"))]
        assert matches, f"{path}: neither a package nor named after a record type"
        schema = max(matches, key=len)
        yield Case(name, schema, document, names[schema], version)


@cache
def corpus() -> tuple[Case, ...]:
    cases: list[Case] = list(_example_cases())
    for version in VERSIONS:
        records = list(_record_cases(version))
        cases += [*records, *_package_cases(records, version)]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return tuple(cases)


# ---------------------------------------------------------------------------------------------
# The two engines


def ours(case: Case) -> Verdict:
    """Verdict and error pointers of our engine, as ``tongxin validate`` computes them."""
    version = case.version
    if case.collection is not None:
        paths = [i.path for i in record_errors(case.collection, case.instance, version)]
        return not paths, frozenset(paths)
    if not isinstance(case.instance, dict):
        raise TypeError(f"{case.name}: a package must be an object")
    header: dict[str, Any] = {}
    paths = []
    for key, value in case.instance.items():
        if key in COLLECTIONS_BY_VERSION[version] and isinstance(value, list):
            for i, record in enumerate(value):
                found = record_errors(key, record, version)
                paths += [f"/{key}/{i}{issue.path}" for issue in found]
        else:
            header[key] = value
    paths += [i.path for i in header_errors(header, version)]
    return not paths, frozenset(paths)


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} not found: the ajv agreement test needs Node.js 18+ and npm on PATH")
    return found


def _install(npm: str) -> None:
    if all(
        (AJV_DIR / "node_modules" / p / "package.json").is_file() for p in ("ajv", "ajv-formats")
    ):
        return
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=AJV_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci in {AJV_DIR} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def ajv_results() -> dict[str, dict[str, Any]]:
    """ajv's verdict for every corpus case, from one ``node validate.mjs`` run."""
    node, npm = _require("node"), _require("npm")
    _install(npm)
    out: dict[str, dict[str, Any]] = {}
    for version, folder in SCHEMA_DIRS.items():
        cases = [
            {"name": c.name, "schema": c.schema, "instance": c.instance}
            for c in corpus()
            if c.version == version
        ]
        done = subprocess.run(
            [node, str(AJV_DIR / "validate.mjs"), str(folder)],
            input=orjson.dumps(cases),
            capture_output=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"validate.mjs failed:\n{done.stderr.decode()}")
        results: list[dict[str, Any]] = orjson.loads(done.stdout)
        out |= {r["name"]: r for r in results}
    return out


def _disagreements(cases: list[Case], ajv: dict[str, dict[str, Any]], *, paths: bool) -> list[str]:
    found = []
    for case in cases:
        result = ajv[case.name]
        valid, pointers = ours(case)
        theirs = frozenset(result["paths"])
        if valid != result["valid"] or (paths and pointers != theirs):
            found.append(
                f"{case.name}: ours valid={valid} {sorted(pointers)}, "
                f"ajv valid={result['valid']} {sorted(theirs)} {result['errors']}"
            )
    return found


def _report(found: list[str]) -> str:
    return f"{len(found)} disagreement(s):\n" + "\n".join(found[:40])


# ---------------------------------------------------------------------------------------------
# Tests


def test_engines_read_the_same_schemas() -> None:
    for version, folder in SCHEMA_DIRS.items():
        for path in sorted(folder.glob("*.schema.json")):
            name = path.name.removesuffix(".schema.json")
            assert orjson.loads(path.read_bytes()) == load_schema(name, version)


def test_corpus_covers_the_schemas(ajv_results: dict[str, dict[str, Any]]) -> None:
    cases = corpus()
    for version in VERSIONS:
        for collection in COLLECTIONS_BY_VERSION[version]:
            props = _schema(collection, version)["properties"]
            full = valid_records(version)[collection][-1]
            assert set(full) == set(props), f"the full {collection} record must set every property"
            for name, prop in props.items():
                if "pattern" in prop and prop.get("format") != "date-time":
                    assert _pattern_field(name) in PATTERN_SAMPLES, f"add samples for {name}"
    assert {c.version for c in cases} == set(VERSIONS)
    verdicts = [ajv_results[c.name]["valid"] for c in cases]
    assert verdicts.count(True) > 300
    assert verdicts.count(False) > 2000
    assert set(ajv_results) == {c.name for c in cases}


def test_ajv_agrees_with_our_engine(ajv_results: dict[str, dict[str, Any]]) -> None:
    """Same verdict and same error pointers on every case."""
    found = _disagreements(list(corpus()), ajv_results, paths=True)
    assert not found, _report(found)
