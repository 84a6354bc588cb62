"""Shared parts of the federation benchmark: a hub as a directory, a database and a live
``tongxin serve`` process, driven through the ``tongxin`` command line exactly as an
administrator would; counting what a hub holds; the bulk body of a synthetic county.
Not a benchmark itself."""

from __future__ import annotations

import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import psycopg
from _hubbench import WORK, free_port

from tongxin.schemas._synthetic import SyntheticHub, member, organisations

TONGXIN = str(Path(sys.executable).parent / "tongxin")
#: Members per branch in the synthetic counties (as in the hub benchmarks).
PER_BRANCH = 50


@dataclass
class Node:
    """One hub: its folder (the working directory of every command), database URL, port and
    server process. The keys and the encryption key live in the folder."""

    hub_id: str
    name: str
    workdir: Path
    db: str = ""
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    token: str = ""
    fingerprint: str = ""
    #: ``TONGXIN_HINT_INTERVAL_SECONDS`` of the server (None: the hub's default; 0: no hints)
    hint_interval: float | None = None

    def __post_init__(self) -> None:
        if not self.db:
            self.db = f"sqlite:///{self.workdir / 'hub.db'}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_sqlite(self) -> bool:
        return self.db.startswith("sqlite")

    @property
    def keys_file(self) -> Path:
        return self.workdir / ("hub.keys.json" if self.is_sqlite else "tongxin.keys.json")

    @property
    def key_file(self) -> Path:
        return self.workdir / ("hub.key" if self.is_sqlite else "tongxin.key")

    def env(self, sync_interval: float = 0) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN_")}
        env.update(
            TONGXIN_RATE_LIMIT_PER_SECOND="0",
            TONGXIN_SYNC_INTERVAL_SECONDS=str(sync_interval),
        )
        if self.hint_interval is not None:
            env["TONGXIN_HINT_INTERVAL_SECONDS"] = str(self.hint_interval)
        return env

    @property
    def db_args(self) -> list[str]:
        return ["--database", self.db]

    def command(self, *args: str) -> list[str]:
        return [TONGXIN, *args, *self.db_args]

    def cli(self, *args: str, timeout: float = 300) -> str:
        """Run ``tongxin ARGS --database DB`` in the hub's folder; its stdout. Fails loudly."""
        done = subprocess.run(
            self.command(*args),
            env=self.env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{self.hub_id}: tongxin {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout}{done.stderr}"
            )
        return done.stdout

    def init(self) -> None:
        """``tongxin init``, an admin token and the signing key's fingerprint."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cli("init", "--hub-id", self.hub_id, "--name", self.name)
        self.token = self.cli("token", "create", "--scope", "admin").strip()
        self.fingerprint = self.cli("keys", "show").splitlines()[0].strip()

    def start(self, sync_interval: float = 0) -> None:
        with (self.workdir / "serve.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [TONGXIN, "serve", "--port", str(self.port), "--no-access-log", *self.db_args],
                env=self.env(sync_interval),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                log = (self.workdir / "serve.log").read_text(errors="replace")
                raise RuntimeError(f"{self.hub_id}: the server exited:\n{log[-3000:]}")
            try:
                if httpx.get(self.url + "/.well-known/tongxin/keys", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.hub_id}: the server did not start in {seconds:.0f} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def serve_log_errors(self) -> list[str]:
        """Lines of the server log that report an error, a traceback or a refused change."""
        path = self.workdir / "serve.log"
        if not path.exists():
            return []
        marks = ("Traceback", "ERROR", "refused", "failed")
        return [
            line
            for line in path.read_text(errors="replace").splitlines()
            if any(m in line for m in marks)
        ]


# -- databases ---------------------------------------------------------------------------------
def query(db: str, sql: str) -> list[tuple[object, ...]]:
    """Rows of ``sql`` read straight from a hub's database (SQLite read-only, or PostgreSQL)."""
    if db.startswith("sqlite"):
        path = db.removeprefix("sqlite:///")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
        finally:
            conn.close()
    url = db.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as pg:
        return [tuple(r) for r in pg.execute(sql).fetchall()]


def holdings(db: str) -> dict[tuple[str, str], tuple[int, int, int]]:
    """``(owner, collection)`` → (rows, distinct ids, tombstones) held by a hub."""
    rows = query(
        db,
        "SELECT owner, collection, COUNT(*), COUNT(DISTINCT id),"
        " SUM(CASE WHEN deleted THEN 1 ELSE 0 END) FROM records GROUP BY owner, collection",
    )
    return {
        (str(o), str(c)): (int(str(n)), int(str(d)), int(str(t or 0))) for o, c, n, d, t in rows
    }


def member_count(db: str) -> int:
    rows = query(db, "SELECT COUNT(*) FROM records WHERE collection = 'members' AND NOT deleted")
    return int(str(rows[0][0]))


def record_bytes(db: str) -> dict[str, float]:
    """Bytes on disk of the ``records`` table with its indexes, of the audit log, and of the
    whole database, per record row (and the mean stored JSON and sealed sizes)."""
    rows = int(str(query(db, "SELECT COUNT(*) FROM records")[0][0]))
    audit_rows = int(str(query(db, "SELECT COUNT(*) FROM audit")[0][0]))
    doc, sealed = query(db, "SELECT AVG(LENGTH(doc)), AVG(LENGTH(sealed)) FROM records")[0]
    if db.startswith("sqlite"):
        stat = query(db, "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        sizes = {str(n): int(str(s)) for n, s in stat}
        owners = {str(n): str(t) for n, t in query(db, "SELECT name, tbl_name FROM sqlite_master")}
        table = sum(s for n, s in sizes.items() if owners.get(n) == "records")
        audit = sum(s for n, s in sizes.items() if owners.get(n) == "audit")
        total = sum(sizes.values())
    else:
        table, audit, total = (
            int(str(v))
            for v in query(
                db,
                "SELECT pg_total_relation_size('records'), pg_total_relation_size('audit'),"
                " pg_database_size(current_database())",
            )[0]
        )
    return {
        "rows": rows,
        "records": table / rows,
        "audit": audit / audit_rows if audit_rows else 0.0,
        "database": total / rows,
        "doc": float(str(doc or 0)),
        "sealed": float(str(sealed or 0)),
    }


# -- synthetic counties ------------------------------------------------------------------------
def county_shape(hub_id: str, members: int) -> SyntheticHub:
    """The synthetic county: its hub id is its GB/T 2260 code, also the citizen IDs' division,
    so citizen IDs are unique across the province."""
    return SyntheticHub(hub_id=hub_id, members=members, per_branch=PER_BRANCH, division=hub_id)


def organisation_count(members: int) -> int:
    return 1 + -(-members // PER_BRANCH)


def write_bulk(path: Path, hub: SyntheticHub) -> None:
    """The county's ``/v1/bulk`` body: its organisations, then its members."""
    rng = random.Random(hub.seed)
    with path.open("wb") as out:
        for org in organisations(hub):
            out.write(orjson.dumps({"op": "upsert", "type": "organisations", "record": org}))
            out.write(b"\n")
        for i in range(hub.members):
            record = member(hub, i, rng)
            out.write(orjson.dumps({"op": "upsert", "type": "members", "record": record}))
            out.write(b"\n")


def workdir() -> Path:
    WORK.mkdir(exist_ok=True)
    path = WORK / f"federation-{secrets.token_hex(4)}"
    path.mkdir()
    return path
