"""Roster import against the raw read, in one run on one generated messy roster.

    python benchmarks/bench_roster.py [--rows 100000] [--rounds 2]

Writes a messy XLSX roster of ``--rows`` rows (title row, synonyms, repeated headers, dates typed
every way, full-width digits, 15-digit IDs, one bad row in ten; cached in benchmarks/_work),
then times, interleaved, best of ``--rounds``: python-calamine merely reading every cell of
the file, and ``tongxin roster import … --out`` with every rule of the standard on (in a fresh
process, so start-up counts too). Prints rows/s of both, the ratio, and the import's peak
memory (resident set of the process, sampled every 20 ms from /proc).
"""

from __future__ import annotations

import argparse
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


def raw_read(path: Path) -> tuple[float, int]:
    """(seconds, cells) for python-calamine to open the file and read every cell."""
    start = time.perf_counter()
    book = CalamineWorkbook.from_path(str(path))
    cells = 0
    for name in book.sheet_names:
        for row in book.get_sheet_by_name(name).iter_rows():
            cells += len(row)
    return time.perf_counter() - start, cells


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS:")), 0)


def full_import(path: Path) -> tuple[float, float, str]:
    """(seconds, peak MB, last line of output) of ``tongxin roster import --out``."""
    out = WORK / "roster-package.json"
    out.unlink(missing_ok=True)
    command = [
        *(sys.executable, "-m", "tongxin.cli", "roster", "import", str(path)),
        *("--organisation", "cd-wuhou:o00000000", "--out", str(out), "--format", "json"),
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _rss_kb(process.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    assert process.stdout is not None
    text = process.stdout.read().decode()
    assert process.returncode == 1, "the roster has planted bad rows"
    return seconds, peak / 1024, text[:200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    path = roster(args.rows)
    print(f"roster: {args.rows:,} rows, {path.stat().st_size / 1e6:,.1f} MB")
    raw, full, peak = float("inf"), float("inf"), 0.0
    for _ in range(args.rounds):
        seconds, cells = raw_read(path)
        raw = min(raw, seconds)
        seconds, mb, head = full_import(path)
        full, peak = min(full, seconds), max(peak, mb)
    print(f"calamine read:   {raw:7.2f} s  {args.rows / raw:10,.0f} rows/s ({cells:,} cells)")
    print(f"roster import:   {full:7.2f} s  {args.rows / full:10,.0f} rows/s (every rule, --out)")
    print(f"ratio:           {raw / full:7.1%} of the raw read's speed (goal ≥ 50 %)")
    print(f"peak memory:     {peak:7.0f} MB (goal < 500 MB)")
    print(f"report head:     {head}")


if __name__ == "__main__":
    main()
