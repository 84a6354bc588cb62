"""The three speed goals in one run: validation, bulk ingest and reads, each printed as a ratio to
the physical limit measured beside it, with the profile that explains the remaining time.

    python benchmarks/bench_all.py [--members 50000] [--backends postgresql,sqlite]

Runs, one after another on this machine: ``bench_validate.py --profile`` (``tongxin validate``
against raw jsonschema-rs and pure-Python jsonschema), ``bench_hub_ingest.py`` (``POST /v1/bulk``
against COPY / one executemany), ``bench_hub_ingest.py --shapes`` (50-member branches beside
12,500-member organisations), ``bench_hub_ingest.py --profile`` (the two stages of the bulk path
timed apart) and ``bench_hub_reads.py`` (``GET /v1/members/{id}`` against a bare uvicorn +
psycopg server); every line is echoed, and the ratios are repeated at the end.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--read-seconds", type=int, default=15)
    args = parser.parse_args()
    n, backends = str(args.members), args.backends
    steps = [
        ["bench_validate.py", "--members", n, "--rounds", "2", "--profile"],
        ["bench_hub_ingest.py", "--members", n, "--backends", backends],
        ["bench_hub_ingest.py", "--shapes", "--members", n, "--backends", backends],
        ["bench_hub_ingest.py", "--profile", "--members", str(min(args.members, 20_000))],
        ["bench_hub_reads.py", "--members", "20000", "--seconds", str(args.read_seconds)],
    ]
    ratios: list[str] = []
    for step in steps:
        print(f"$ python benchmarks/{' '.join(step)}", flush=True)
        out = subprocess.run(
            [sys.executable, str(HERE / step[0]), *step[1:]],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        print(out, end="", flush=True)
        ratios += [line for line in out.splitlines() if "ratio" in line]
    print("summary:")
    for line in ratios:
        print(f"  {line.strip()}")


if __name__ == "__main__":
    main()
