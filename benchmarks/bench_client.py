"""What ``tongxin.client`` costs over raw httpx: ``members.get`` in a loop against one live hub
(SQLite), side by side in one run, printed as a ratio (goal: the SDK adds < 10 %).

    python benchmarks/bench_client.py [--members 2000] [--rounds 3]

Both loops use one keep-alive connection and read the same ids in the same order; the raw loop
parses the JSON (orjson) as any caller must, the SDK loop returns the standard's ``Member``
models. Rounds alternate so that drift on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import time

import httpx
import orjson
from _hubbench import database, ndjson_file, post_bulk, server

from tongxin.client import Client


def raw_loop(base: str, token: str, ids: list[str]) -> float:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        start = time.perf_counter()
        for member_id in ids:
            response = http.get(f"/v1/members/{member_id}")
            response.raise_for_status()
            orjson.loads(response.content)
        return time.perf_counter() - start


def sdk_loop(base: str, token: str, ids: list[str]) -> float:
    with Client(base, token=token) as hub:
        start = time.perf_counter()
        for member_id in ids:
            hub.members.get(member_id)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with database("sqlite") as url, server(url) as (base, token):
        path = ndjson_file(args.members)
        post_bulk(base, token, path)
        ids = [
            orjson.loads(line)["record"]["id"]
            for line in path.read_bytes().splitlines()
            if b'"type":"members"' in line
        ]
        raw = sdk = 0.0
        for _ in range(args.rounds):
            raw += raw_loop(base, token, ids)
            sdk += sdk_loop(base, token, ids)
    n = len(ids) * args.rounds
    print(f"raw httpx      {n / raw:8.0f} gets/s")
    print(f"tongxin.client {n / sdk:8.0f} gets/s")
    print(f"SDK overhead   {sdk / raw - 1:+.1%} (goal < +10 %)")


if __name__ == "__main__":
    main()
