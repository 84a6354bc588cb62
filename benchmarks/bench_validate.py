"""Validator throughput against the raw engines, in one run on one generated package.

    python benchmarks/bench_validate.py [--members 200000] [--memory-members 1000000]

Prints records/s of: raw ``jsonschema-rs`` on the published member schema alone (the file
loaded whole with orjson, then every member checked), the pure-Python ``jsonschema`` package on
the same schema, and ``tongxin validate`` with every rule on (streamed), on a 1.0 package and on
the same members in a 1.1 package (branches with leaders, one admitted applicant per branch,
the 1.1 rules on); then the ratios. With
``--memory-members`` it also validates a package of that many members in a fresh process and
prints the peak resident memory; with ``--profile`` the CPU time of each stage per member, and
per round the CPU time per member of the calling process and of the workers (with the load).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import jsonschema
import jsonschema_rs
import orjson

from tongxin.schemas import iter_issues
from tongxin.schemas._checks import PackageState, RecordContext, check_record, digest
from tongxin.schemas._schemacheck import load_schema, record_errors
from tongxin.schemas._stream import RecordItem, iter_package
from tongxin.schemas._synthetic import ALL_11, SyntheticHub, write_package

WORK = Path(__file__).parent / "_work"


def package(members: int, version: str = "1.0") -> Path:
    """A package of ``members`` members (cached in benchmarks/_work): organisations and members
    in 1.0; in 1.1 also the branches' leaders and the applicants."""
    WORK.mkdir(exist_ok=True)
    path = WORK / f"members-{members}{'' if version == '1.0' else '-' + version}.json"
    if not path.exists():
        hub = SyntheticHub(members=members)
        collections = ("organisations", "members")
        if version != "1.0":
            collections = tuple(c for c in ALL_11 if c in (*collections, "applicants"))
        write_package(path, hub, collections=collections, version=version)
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


#: CPU seconds of the calling process and of its worker processes in the last tongxin_full
SPLIT: dict[int, tuple[float, float]] = {}


def tongxin_full(path: Path, members: int, jobs: int) -> tuple[float, int]:
    """(records/s of ``iter_issues`` with every rule on, number of issues); the CPU time of
    the calling process and of the workers goes to ``SPLIT[jobs]``."""
    cpu, children = time.process_time(), _children_cpu()
    start = time.perf_counter()
    found = sum(1 for _ in iter_issues(path, jobs=jobs))
    elapsed = time.perf_counter() - start
    SPLIT[jobs] = (time.process_time() - cpu, _children_cpu() - children)
    return members / elapsed, found


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (the pool's workers, once joined)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def where_time_goes(path: Path, sample: int) -> list[tuple[str, float]]:
    """µs of CPU per member of each stage of ``tongxin validate`` (one process), best of 3 over
    the first ``sample`` members: the profile behind the ratios."""
    items = iter_package(path.open("rb"), frozenset({"organisations", "members"}))
    members = [i for i in items if isinstance(i, RecordItem) and i.collection == "members"]
    members = members[:sample]
    records = [m.value for m in members]
    raws = [m.raw for m in members]
    ctx = RecordContext(date(2026, 1, 1))

    def state() -> None:
        s = PackageState()
        for i, r in enumerate(records):
            s.add_digest("members", i, digest("members", r))

    stages: list[tuple[str, Callable[[], object]]] = [
        ("read: cut records out of the stream + decode", lambda: sum(1 for _ in _stream(path))),
        ("decode again in a worker (orjson)", lambda: [orjson.loads(r) for r in raws]),
        ("schema (jsonschema-rs)", lambda: [record_errors("members", r) for r in records]),
        (
            "record rules of the standard",
            lambda: [check_record("members", r, "", ctx) for r in records],
        ),
        ("cross-record bookkeeping (digest + state)", state),
    ]
    out = []
    for label, run in stages:
        best = min(_cpu(run) for _ in range(3))
        per = len(records) if "stream" not in label else _count(path)
        out.append((label, best / per * 1e6))
    return out


def _stream(path: Path) -> Iterator[object]:
    with path.open("rb") as f:
        yield from iter_package(f, frozenset({"organisations", "members"}))


def _count(path: Path) -> int:
    return sum(1 for _ in _stream(path))


def _cpu(run: Callable[[], object]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def _tree_pss_kb(pid: int) -> int:
    """Proportional set size of a process and all its descendants, in KiB: pages shared by
    the forked workers count once in all, not once per process."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/smaps_rollup").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pss = [int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("Pss:")]
        total += sum(pss)  # a zombie has no Pss line
        stack += [int(c) for c in children]
    return total


def peak_memory(members: int) -> tuple[float, float]:
    """(peak MB of all processes of ``tongxin validate`` together, seconds) on a package of
    ``members`` members, sampled every 20 ms from /proc."""
    path = package(members)
    start = time.perf_counter()
    command = [sys.executable, "-m", "tongxin.cli", "validate", str(path)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_pss_kb(process.pid))
        time.sleep(0.02)
    assert process.returncode == 0, "the generated package should be valid"
    return peak / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--python-sample", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many, interleaved")
    parser.add_argument("--memory-members", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="print the time of each stage")
    args = parser.parse_args()
    path = package(args.members)
    path11 = package(args.members, "1.1")
    print(f"package: {args.members:,} members, {path.stat().st_size / 1e6:,.0f} MB")
    print(f"1.1 package: the same members, {path11.stat().st_size / 1e6:,.0f} MB")
    cores = os.cpu_count() or 1
    best: dict[str, float] = {}
    found = 0
    for _ in range(args.rounds):  # interleaved, so a slow moment of the machine hits all alike
        raw_total, raw_engine_only = raw_engine(path)
        rounds = {
            "raw": raw_total,
            "engine": raw_engine_only,
            "python": pure_python(path, args.python_sample),
        }
        rounds["ours"], found = tongxin_full(path, args.members, cores)
        split = SPLIT[cores]
        rounds["single"], _ = tongxin_full(path, args.members, 1)
        if args.profile:
            main, workers = (1e6 * t / args.members for t in split)
            single = 1e6 * SPLIT[1][0] / args.members
            print(
                f"  CPU µs per member: {cores} processes: calling process {main:.1f}, workers "
                f"{workers:.1f} together; 1 process {single:.1f}; load {os.getloadavg()[0]:.1f}"
            )
        rounds["ours11"], found11 = tongxin_full(path11, args.members, cores)
        rounds["single11"], _ = tongxin_full(path11, args.members, 1)
        assert found11 == 0, f"{found11} issues in the generated 1.1 package"
        best = {k: max(v, best.get(k, 0.0)) for k, v in rounds.items()}
    print(f"best of {args.rounds} rounds, records/s:")
    print(f"  raw jsonschema-rs, orjson load + member schema : {best['raw']:>10,.0f}")
    print(f"  raw jsonschema-rs, engine alone (pre-parsed)   : {best['engine']:>10,.0f}")
    print(f"  pure-Python jsonschema, member schema          : {best['python']:>10,.0f}")
    print(f"  tongxin validate, every rule, {cores} processes      : {best['ours']:>10,.0f}")
    print(f"  tongxin validate, every rule, 1 process        : {best['single']:>10,.0f}")
    print(f"  tongxin validate, 1.1 package, {cores} processes   : {best['ours11']:>10,.0f}")
    print(f"  tongxin validate, 1.1 package, 1 process       : {best['single11']:>10,.0f}")
    print(f"  (issues found in the generated package: {found})")
    print(
        f"ratio 1.1 / 1.0 package, {cores} processes          : "
        f"{best['ours11'] / best['ours']:>10.1%}"
    )
    print(
        f"ratio 1.1 / 1.0 package, 1 process               : "
        f"{best['single11'] / best['single']:>10.1%}"
    )
    print(f"ratio tongxin / raw jsonschema-rs (with load)    : {best['ours'] / best['raw']:>10.1%}")
    print(
        f"ratio tongxin / raw engine alone                 : {best['ours'] / best['engine']:>10.1%}"
    )
    speedup = best["ours"] / best["python"]
    print(f"ratio tongxin / pure-Python jsonschema           : {speedup:>10.1f}x")
    if args.profile:
        print("where the time goes, µs of CPU per member (1 process, best of 3):")
        for label, micros in where_time_goes(path, args.python_sample):
            print(f"  {label:<48}: {micros:>6.1f}")
    if args.memory_members:
        mb, seconds = peak_memory(args.memory_members)
        print(
            f"tongxin validate on {args.memory_members:,} members: peak {mb:,.0f} MB "
            f"(all processes together), {seconds:,.1f} s"
        )


if __name__ == "__main__":
    main()
