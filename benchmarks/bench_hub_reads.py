"""``GET /v1/members/{id}`` under a real HTTP load generator on loopback (PostgreSQL).

    python benchmarks/bench_hub_reads.py [--members 20000] [--workers 3] [--seconds 15]

Loads ``--members`` members through ``/v1/bulk``, then runs ``wrk`` (installed with apt-get
when missing; without it a multi-process httpx client is used) against random member ids with
a ``records:read`` token, and prints requests/s with p50 and p99 latency (goal ≥ 5,000 req/s,
p99 under 50 ms). After a warm-up run of each, the hub and the raw limit of this machine
(``_rawread.py``: the same uvicorn and workers, one psycopg ``SELECT`` a request, nothing else)
are measured in turn, ``--rounds`` times, with the ratio of each pair.

The p50 and p99 are of the answers as they happened: every request carries its sending time as
its ``X-Request-Id``, which both servers echo. ``wrk``'s own percentiles are printed beside
them but are not these: ``wrk`` corrects its histogram for coordinated omission, adding for
every answer slower than twice the mean interval of a connection a ramp of answers that a
client sending at a constant rate would have waited for (one answer of 1 s at 18,000 req/s on
64 connections adds ~280). A few stalls of the machine thus become ``wrk``'s p99. The
connections per worker (from ``ss``, two seconds into each run) show how the 64 connections
were spread over the workers.
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
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
from _hubbench import HUB, WORK, database, free_port, ndjson_file, post_bulk, server, settings
from sqlalchemy import select

from tongxin.server import create_token, open_hub

LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long sec; long nsec; } tx_clock;
int clock_gettime(int which, tx_clock *now);
]]
local clock = ffi.new("tx_clock")
local function now_us()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.sec) * 1000000 + math.floor(tonumber(clock.nsec) / 1000)
end

local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
local n = 0
-- Every request carries its sending time as its request id, which both servers echo: the
-- latency of each answer as it happened, without wrk's correction (see recorded below).
hist = {}
request = function()
  n = n + 1
  local headers = {
    ["Authorization"] = "Bearer %s",
    ["X-Request-Id"] = string.format("%%.0f", now_us()),
  }
  return wrk.format("GET", "/v1/members/" .. ids[(n %% #ids) + 1], headers)
end
response = function(status, headers, body)
  local sent = tonumber(headers["x-request-id"] or "")
  if sent then
    local bucket = math.floor((now_us() - sent) / 10)  -- 10 microseconds
    hist[bucket] = (hist[bucket] or 0) + 1
  end
end

local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
done = function(summary, latency, requests)
  local merged, total, top = {}, 0, 0
  for _, thread in ipairs(threads) do
    for bucket, count in pairs(thread:get("hist")) do
      merged[bucket] = (merged[bucket] or 0) + count
      total = total + count
      if bucket > top then top = bucket end
    end
  end
  local function at(q)
    local want, seen = math.ceil(total * q), 0
    for bucket = 0, top do
      seen = seen + (merged[bucket] or 0)
      if seen >= want then return bucket / 100 end
    end
    return top / 100
  end
  io.write(string.format("recorded: n %%d p50 %%.2fms p99 %%.2fms p99.9 %%.2fms max %%.2fms\\n",
    total, at(0.5), at(0.99), at(0.999), top / 100))
end
"""


def ensure_wrk() -> str | None:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
    return shutil.which("wrk")


class Latency(NamedTuple):
    """One measurement: requests/s and the p50/p99 of the answers as they happened (recorded),
    with ``wrk``'s own p99 beside them (corrected for coordinated omission, see ``main``)."""

    rate: float
    p50: str
    p99: str
    wrk_p99: str
    split: str = "-"


def run_wrk(wrk: str, base: str, token: str, ids: Path, seconds: int) -> Latency:
    script = WORK / "reads.lua"
    script.write_text(LUA % (ids, token))
    command = [wrk, "-t2", "-c64", f"-d{seconds}s", "--latency", "-s", str(script), base]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        time.sleep(min(2, seconds / 2))
        split = worker_split(int(base.rsplit(":", 1)[1]))
        out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"wrk failed:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    wrk_p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    recorded = re.search(r"recorded: n \d+ p50 (\S+) p99 (\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors or recorded is None:
        raise SystemExit(f"{errors.group(1) if errors else 'unrecorded'} failed requests:\n{out}")
    return Latency(rate, recorded.group(1), recorded.group(2), wrk_p99, split)


def worker_split(port: int) -> str:
    """How the open connections to ``port`` are spread over the worker processes, most first
    (``ss``; the workers share one listening socket, and whichever wakes first accepts)."""
    if shutil.which("ss") is None:
        return "-"
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    counts = Counter(re.findall(r"pid=(\d+)", out))
    return "/".join(str(n) for n in sorted(counts.values(), reverse=True)) or "-"


def _client(args: tuple[str, str, list[str], float]) -> list[float]:
    base, token, ids, until = args
    latencies = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        while time.perf_counter() < until:
            start = time.perf_counter()
            client.get(f"/v1/members/{random.choice(ids)}").raise_for_status()
            latencies.append(time.perf_counter() - start)
    return latencies


def run_httpx(base: str, token: str, ids: list[str], seconds: int) -> Latency:
    until = time.perf_counter() + seconds
    with multiprocessing.Pool(8) as pool:
        parts = pool.map(_client, [(base, token, ids, until)] * 8)
    latencies = sorted(x for part in parts for x in part)
    pick = lambda q: f"{latencies[int(q * (len(latencies) - 1))] * 1000:.2f}ms"  # noqa: E731
    return Latency(len(latencies) / seconds, pick(0.5), pick(0.99), "-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
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

        def measure(target: str) -> Latency:
            if wrk:
                return run_wrk(wrk, target, token, id_file, args.seconds)
            return run_httpx(target, token, ids, args.seconds)

        # Warm-up (a cold start's first requests load the token, the connections, the caches),
        # then the hub and the raw limit in turn, so a slow moment of the machine hits both.
        measure(base)
        rounds: list[tuple[Latency, Latency]] = []
        with raw_server(url, args.workers) as raw_base:
            measure(raw_base)
            for _ in range(args.rounds):
                rounds.append((measure(base), measure(raw_base)))
        # Printed before the database is dropped: a DROP DATABASE can wait on other work.
        print(
            f"postgresql: GET /v1/members/{{id}} with {tool}, {args.workers} uvicorn workers, "
            f"{len(ids):,} members ({HUB.hub_id}), goal >= 5,000 req/s and p99 < 50 ms; raw limit: "
            f"uvicorn + one psycopg SELECT per request, no token, no policy"
        )
        for number, (hub_run, raw_run) in enumerate(rounds, 1):
            for name, run in (("hub", hub_run), ("raw limit", raw_run)):
                print(
                    f"postgresql: round {number} {name}: {run.rate:,.0f} req/s, p50 {run.p50}, "
                    f"p99 {run.p99} (wrk's corrected p99 {run.wrk_p99}), connections per "
                    f"worker {run.split}"
                )
            ratio = hub_run.rate / raw_run.rate
            print(f"postgresql: round {number} ratio hub / raw limit {ratio:.1%}")
        sys.stdout.flush()


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
