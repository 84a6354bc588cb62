"""``GET /v1/members/{id}`` under a real HTTP load generator on loopback (PostgreSQL).

    python benchmarks/bench_hub_reads.py [--members 20000] [--workers 3] [--seconds 15]

Loads ``--members`` members through ``/v1/bulk``, then runs ``wrk`` (installed with apt-get
when missing; without it a multi-process httpx client is used) against random member ids with
a ``records:read`` token, and prints requests/s with p50 and p99 latency (goal ≥ 5,000 req/s,
p99 under 50 ms). After a warm-up run, the hub and the raw limit of this machine (``_rawread.py``:
the same uvicorn and workers, one psycopg ``SELECT`` a request, nothing else) are measured in
turn, and the ratio of the two is printed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from _hubbench import HUB, WORK, database, free_port, ndjson_file, post_bulk, server, settings
from sqlalchemy import select

from tongxin.server import create_token, open_hub

LUA = """
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
local n = 0
request = function()
  n = n + 1
  local headers = {["Authorization"] = "Bearer %s"}
  return wrk.format("GET", "/v1/members/" .. ids[(n %% #ids) + 1], headers)
end
"""


def ensure_wrk() -> str | None:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
    return shutil.which("wrk")


def run_wrk(wrk: str, base: str, token: str, ids: Path, seconds: int) -> tuple[float, str, str]:
    script = WORK / "reads.lua"
    script.write_text(LUA % (ids, token))
    out = subprocess.run(
        [wrk, "-t2", "-c64", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} failed requests:\n{out}")
    return rate, p50, p99


def _client(args: tuple[str, str, list[str], float]) -> list[float]:
    base, token, ids, until = args
    latencies = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        while time.perf_counter() < until:
            start = time.perf_counter()
            client.get(f"/v1/members/{random.choice(ids)}").raise_for_status()
            latencies.append(time.perf_counter() - start)
    return latencies


def run_httpx(base: str, token: str, ids: list[str], seconds: int) -> tuple[float, str, str]:
    until = time.perf_counter() + seconds
    with multiprocessing.Pool(8) as pool:
        parts = pool.map(_client, [(base, token, ids, until)] * 8)
    latencies = sorted(x for part in parts for x in part)
    pick = lambda q: f"{latencies[int(q * (len(latencies) - 1))] * 1000:.2f}ms"  # noqa: E731
    return len(latencies) / seconds, pick(0.5), pick(0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    with database("postgresql") as url, server(url, workers=args.workers) as (base, admin):
        post_bulk(base, admin, ndjson_file(args.members))
        hub = open_hub(settings(url))
        token = create_token(hub.db, ["records:read"], rate_limit=0)
        from tongxin.server._tables import records

        with hub.db.read() as conn:
            ids = list(
                conn.execute(
                    select(records.c.id).where(records.c.collection == "members")
                ).scalars()
            )
        hub.close()
        random.Random(1).shuffle(ids)
        id_file = WORK / "read-ids.txt"
        id_file.write_text("\n".join(ids) + "\n")
        assert (
            httpx.get(
                f"{base}/v1/members/{ids[0]}", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 200
        )
        wrk = ensure_wrk()
        tool = "wrk -t2 -c64" if wrk else "httpx, 8 processes"

        def measure(target: str) -> tuple[float, str, str]:
            if wrk:
                return run_wrk(wrk, target, token, id_file, args.seconds)
            return run_httpx(target, token, ids, args.seconds)

        # Warm-up (a cold start's first requests load the token, the connections, the caches),
        # then the hub and the raw limit in turn, so a slow moment of the machine hits both.
        measure(base)
        with raw_server(url, args.workers) as raw_base:
            measure(raw_base)
            rate, p50, p99 = measure(base)
            raw_rate, raw_p50, raw_p99 = measure(raw_base)
    print(
        f"postgresql: GET /v1/members/{{id}} with {tool}, {args.workers} uvicorn workers, "
        f"{len(ids):,} members ({HUB.hub_id}): {rate:,.0f} req/s, p50 {p50}, p99 {p99} "
        f"(goal >= 5,000 req/s, p99 < 50 ms)"
    )
    print(
        f"postgresql: raw limit (uvicorn + one psycopg SELECT per request, no token, no "
        f"policy): {raw_rate:,.0f} req/s, p50 {raw_p50}, p99 {raw_p99}"
    )
    print(f"postgresql: ratio hub / raw limit {rate / raw_rate:.1%}")


@contextmanager
def raw_server(url: str, workers: int) -> Iterator[str]:
    """Base URL of ``_rawread.app`` under uvicorn with ``workers`` workers on ``url``."""
    port = free_port()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "_rawread:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-worker-healthcheck",  # as tongxin serve: no restarts of slow starters
            "60",
        ],
        cwd=Path(__file__).parent,
        env={**os.environ, "TONGXIN_RAW_DSN": dsn},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(base + "/v1/members/none", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
