"""Shared parts of the hub benchmarks: a fresh database, a live ``tongxin serve``, NDJSON of
synthetic members. Not a benchmark itself."""

from __future__ import annotations

import argparse
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import psycopg

from tongxin.schemas._synthetic import SyntheticHub, member, organisations
from tongxin.server import Settings, create_token, open_hub

WORK = Path(__file__).parent / "_work"
PG = "postgresql://postgres@127.0.0.1:5432/test"
HUB = SyntheticHub(hub_id="bench-hub", members=200_000, per_branch=50)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh, empty database URL of ``kind`` (sqlite or postgresql), removed afterwards."""
    WORK.mkdir(exist_ok=True)
    if kind == "sqlite":
        path = WORK / f"hub-{secrets.token_hex(4)}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"txbench_{secrets.token_hex(4)}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def settings(url: str) -> Settings:
    return Settings(database_url=url, key_file=WORK / "bench.key", hub_id=HUB.hub_id)


@contextmanager
def server(url: str, workers: int = 1) -> Iterator[tuple[str, str]]:
    """(base URL, admin token) of a live hub on ``url``."""
    port = free_port()
    env = {
        **os.environ,
        "TONGXIN_KEY_FILE": str(WORK / "bench.key"),
        "TONGXIN_HUB_ID": HUB.hub_id,
        "TONGXIN_RATE_LIMIT_PER_SECOND": "0",
    }
    exe = Path(sys.executable).parent / "tongxin"
    log = (WORK / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(
        [
            str(exe),
            "serve",
            "--database",
            url,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/.well-known/tongxin", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        hub = open_hub(settings(url))
        token = create_token(hub.db, ["admin"], rate_limit=0)
        hub.close()
        yield base, token
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def lines(n: int, per_branch: int = HUB.per_branch) -> Iterator[bytes]:
    """Bulk lines: the organisations for ``n`` members, then the members."""
    hub = SyntheticHub(hub_id=HUB.hub_id, members=n, per_branch=per_branch)
    for org in organisations(hub):
        yield orjson.dumps({"op": "upsert", "type": "organisations", "record": org}) + b"\n"
    rng = random.Random(hub.seed)
    for i in range(n):
        yield (
            orjson.dumps({"op": "upsert", "type": "members", "record": member(hub, i, rng)}) + b"\n"
        )


def ndjson_file(n: int, per_branch: int = HUB.per_branch) -> Path:
    """The bulk body for ``n`` members, ``per_branch`` to a branch, cached in benchmarks/_work."""
    WORK.mkdir(exist_ok=True)
    shape = "" if per_branch == HUB.per_branch else f"-per{per_branch}"
    path = WORK / f"bulk-{n}{shape}.ndjson"
    if not path.exists():
        with path.open("wb") as out:
            for line in lines(n, per_branch):
                out.write(line)
    return path


def post_bulk(base: str, token: str, path: Path) -> tuple[float, dict[str, int]]:
    """Seconds to send ``path`` to /v1/bulk and read every result; counts by outcome."""
    counts: dict[str, int] = {}

    def body() -> Iterator[bytes]:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk

    start = time.perf_counter()
    with (
        httpx.Client(timeout=3600) as client,
        client.stream(
            "POST",
            base + "/v1/bulk",
            content=body(),
            headers={"Authorization": f"Bearer {token}", "content-type": "application/x-ndjson"},
        ) as response,
    ):
        response.raise_for_status()
        for line in response.iter_lines():
            outcome = orjson.loads(line)["outcome"]
            counts[outcome] = counts.get(outcome, 0) + 1
    return time.perf_counter() - start, counts


def main_over_backends(run: Callable[[str, int], None], doc: str) -> None:
    """The command line shared by the hub benchmarks: ``--members N --backends a,b``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    for kind in args.backends.split(","):
        run(kind, args.members)
