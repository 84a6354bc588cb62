"""Validator throughput against the raw engines, in one run on one generated package.

    python benchmarks/bench_validate.py [--members 200000] [--memory-members 1000000]

Prints records/s of: raw ``jsonschema-rs`` on the published member schema alone (the file
loaded whole with orjson, then every member checked), the pure-Python ``jsonschema`` package on
the same schema, and ``tongxin validate`` with every rule on (streamed); then the ratios. With
``--memory-members`` it also validates a package of that many members in a fresh process and
prints the peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import jsonschema_rs
import orjson
from tongxin.schemas import iter_issues
from tongxin.schemas._schemacheck import load_schema
from tongxin.schemas._synthetic import SyntheticHub, write_package

WORK = Path(__file__).parent / "_work"


def package(members: int) -> Path:
    """A members-only package of ``members`` members (cached in benchmarks/_work)."""
    WORK.mkdir(exist_ok=True)
    path = WORK / f"members-{members}.json"
    if not path.exists():
        hub = SyntheticHub(members=members)
        write_package(path, hub, collections=("organisations", "members"))
    return path


def raw_engine(path: Path) -> tuple[float, float]:
    """(records/s including the orjson load, records/s of the engine alone)."""
    validator = jsonschema_rs.Draft202012Validator(load_schema("member"), validate_formats=True)
    start = time.perf_counter()
    members = orjson.loads(path.read_bytes())["members"]
    loaded = time.perf_counter()
    bad = sum(1 for m in members if not validator.is_valid(m))
    end = time.perf_counter()
    assert bad == 0, f"{bad} generated members fail the schema"
    return len(members) / (end - start), len(members) / (end - loaded)


def pure_python(path: Path, sample: int) -> float:
    """records/s of the ``jsonschema`` package (format checks on) over the first ``sample``."""
    members = orjson.loads(path.read_bytes())["members"][:sample]
    validator = jsonschema.Draft202012Validator(
        load_schema("member"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    start = time.perf_counter()
    for m in members:
        validator.validate(m)
    return len(members) / (time.perf_counter() - start)


def tongxin_full(path: Path, members: int) -> tuple[float, int]:
    """(records/s of ``iter_issues`` with every rule on, number of issues)."""
    start = time.perf_counter()
    found = sum(1 for _ in iter_issues(path))
    return members / (time.perf_counter() - start), found


def peak_memory(members: int) -> float:
    """Peak RSS in MB of a fresh process validating a package of ``members`` members."""
    path = package(members)
    code = (
        "import resource, sys; from tongxin.schemas import iter_issues;"
        f"n = sum(1 for _ in iter_issues({str(path)!r}));"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--python-sample", type=int, default=20_000)
    parser.add_argument("--memory-members", type=int, default=0)
    args = parser.parse_args()
    path = package(args.members)
    size = path.stat().st_size / 1e6
    print(f"package: {args.members:,} members, {size:,.0f} MB")
    raw_total, raw_engine_only = raw_engine(path)
    python_rate = pure_python(path, args.python_sample)
    ours, found = tongxin_full(path, args.members)
    print(f"raw jsonschema-rs, orjson load + member schema : {raw_total:>10,.0f} records/s")
    print(f"raw jsonschema-rs, engine alone (pre-parsed)   : {raw_engine_only:>10,.0f} records/s")
    print(f"pure-Python jsonschema, member schema          : {python_rate:>10,.0f} records/s")
    print(f"tongxin validate, streamed, every rule         : {ours:>10,.0f} records/s")
    print(f"  (issues found in the generated package: {found})")
    print(f"ratio tongxin / raw jsonschema-rs (with load)  : {ours / raw_total:>10.1%}")
    print(f"ratio tongxin / raw engine alone               : {ours / raw_engine_only:>10.1%}")
    print(f"ratio tongxin / pure-Python jsonschema         : {ours / python_rate:>10.1f}x")
    if args.memory_members:
        mb = peak_memory(args.memory_members)
        print(f"peak memory, {args.memory_members:,} members            : {mb:>10,.0f} MB")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process peaked at {own:,.0f} MB, holding the whole package for the raw run)")


if __name__ == "__main__":
    main()
