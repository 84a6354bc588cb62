"""Roster import against the raw read, in one run on one generated messy roster.

    python benchmarks/bench_roster.py [--rows 100000] [--rounds 2]

Writes a messy XLSX roster of ``--rows`` rows (title row, synonyms, repeated headers, dates typed
every way, full-width digits, 15-digit IDs, one bad row in ten; cached in benchmarks/_work),
then times, interleaved, best of ``--rounds``: python-calamine merely reading every cell of
the file, and ``tongxin roster import … --out`` with every rule of the standard on (in a fresh
process, so start-up counts too). Prints wall and CPU seconds of both (on a shared machine the
CPU time is the fair comparison), the ratios, and the import's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from python_calamine import CalamineWorkbook

from tongxin.adapters.roster._messy import messy_roster, write_xlsx

WORK = Path(__file__).parent / "_work"


def roster(rows: int) -> Path:
    """The messy roster of ``rows`` rows (cached)."""
    WORK.mkdir(exist_ok=True)
    path = WORK / f"roster-{rows}.xlsx"
    if not path.exists():
        write_xlsx(messy_roster(rows), path, page=1000)
    return path


def raw_read(path: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, cells) for python-calamine to open the file and read every
    cell into Python values."""
    start, cpu = time.perf_counter(), time.process_time()
    book = CalamineWorkbook.from_path(str(path))
    cells = 0
    for name in book.sheet_names:
        for row in book.get_sheet_by_name(name).iter_rows():
            cells += len(row)
    return time.perf_counter() - start, time.process_time() - cpu, cells


def full_import(path: Path) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak MB, head of the JSON report) of ``tongxin roster
    import --out`` in a fresh process (CPU time and peak resident memory from wait4)."""
    out = WORK / "roster-package.json"
    out.unlink(missing_ok=True)
    command = [
        *(sys.executable, "-m", "tongxin.cli", "roster", "import", str(path)),
        *("--organisation", "cd-wuhou:o00000000", "--out", str(out), "--format", "json"),
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert process.stdout is not None
    text = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    assert process.returncode == 1, "the roster has planted bad rows"
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text[:160]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    path = roster(args.rows)
    print(f"roster: {args.rows:,} rows, {path.stat().st_size / 1e6:,.1f} MB")
    inf = float("inf")
    raw, raw_cpu, full, full_cpu, peak = inf, inf, inf, inf, 0.0
    for _ in range(args.rounds):
        seconds, cpu, cells = raw_read(path)
        raw, raw_cpu = min(raw, seconds), min(raw_cpu, cpu)
        seconds, cpu, mb, head = full_import(path)
        full, full_cpu, peak = min(full, seconds), min(full_cpu, cpu), max(peak, mb)
    n = args.rows
    print(f"calamine read:  {raw:7.2f} s wall {raw_cpu:7.2f} s CPU"
          f"  {n / raw_cpu:9,.0f} rows/CPU-s  ({cells:,} cells)")  # fmt: skip
    print(f"roster import:  {full:7.2f} s wall {full_cpu:7.2f} s CPU"
          f"  {n / full_cpu:9,.0f} rows/CPU-s  (every rule, --out, start-up included)")  # fmt: skip
    print(f"ratio (CPU):    {raw_cpu / full_cpu:7.1%} of the raw read's speed (goal ≥ 50 %)")
    print(f"ratio (wall):   {raw / full:7.1%}")
    print(f"peak memory:    {peak:7.0f} MB resident (goal < 500 MB)")
    print(f"report head:    {head}")


if __name__ == "__main__":
    main()
