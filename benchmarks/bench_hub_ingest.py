"""Bulk ingest through ``POST /v1/bulk`` against the database's own fastest load, in one run.

    python benchmarks/bench_hub_ingest.py [--members 200000] [--backends postgresql,sqlite]
    python benchmarks/bench_hub_ingest.py --shapes [--members 50000]

For each backend: a fresh database and a live ``tongxin serve``; the organisations and
``--members`` synthetic members are sent as one NDJSON bulk request with every rule on (schema,
record rules, references resolved against the database, keyed citizen-ID hash, encryption,
audit log, change sequence). Then the very rows the hub stored are loaded into an empty table
of the same definition (same columns and indexes): with ``COPY`` on PostgreSQL, with one
``executemany`` transaction on SQLite. Prints both rates and their ratio (goal ≥ 50 %).

``--shapes``: the same number of members ingested twice per backend, once in 50-member branches
and once in 12,500-member organisations (large 机关党委 with directly attached members), each into
a fresh database in the same run; prints members/s of both shapes and their ratio (goal: the same
rate whatever the organisations' sizes, ratio ≈ 1). ``--profile``: the bulk path in process, its
two stages (parse, validate, hash, encrypt; the write transaction) timed apart.
"""

from __future__ import annotations

import sqlite3
import sys
import time

import psycopg
from _hubbench import (
    HUB,
    database,
    main_over_backends,
    ndjson_file,
    post_bulk,
    server,
    settings,
)

COLUMNS = (
    "collection, id, owner, scope_org, scope_org2, version, updated_us, seq, deleted, doc,"
    " sealed, citizen_hash, digest"
)


def _pg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def copy_baseline_pg(url: str) -> tuple[float, int]:
    """Seconds to COPY the stored member rows into an empty twin of ``records``."""
    with psycopg.connect(_pg_url(url)) as conn:
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM records WHERE collection = 'members'"
        ).fetchall()
        conn.execute("CREATE TABLE records_twin (LIKE records INCLUDING ALL)")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY records_twin ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - start, len(rows)


def executemany_baseline_sqlite(url: str) -> tuple[float, int]:
    """Seconds to insert the stored member rows into an empty twin database in one transaction."""
    path = url.removeprefix("sqlite:///")
    source = sqlite3.connect(path)
    rows = source.execute(f"SELECT {COLUMNS} FROM records WHERE collection = 'members'").fetchall()
    ddl = [
        sql
        for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'records' AND sql IS NOT NULL"
        )
    ]
    source.close()
    twin = sqlite3.connect(path + ".twin", isolation_level=None)
    twin.execute("PRAGMA journal_mode=WAL")
    twin.execute("PRAGMA synchronous=FULL")
    for sql in ddl:
        twin.execute(sql)
    marks = ", ".join("?" * len(COLUMNS.split(",")))
    start = time.perf_counter()
    twin.execute("BEGIN")
    twin.executemany(f"INSERT INTO records ({COLUMNS}) VALUES ({marks})", rows)
    twin.execute("COMMIT")
    elapsed = time.perf_counter() - start
    twin.close()
    for suffix in ("", "-wal", "-shm"):
        import pathlib

        pathlib.Path(path + ".twin" + suffix).unlink(missing_ok=True)
    return elapsed, len(rows)


LARGE_ORGANISATION = 12_500


def ingest_rate(kind: str, members: int, per_branch: int) -> float:
    """Members/s of one bulk request of ``members`` members, ``per_branch`` to an organisation."""
    body = ndjson_file(members, per_branch)
    with database(kind) as url, server(url) as (base, token):
        seconds, counts = post_bulk(base, token, body)
    assert counts.get("created", 0) >= members, counts
    return members / seconds


def run_shapes(kind: str, members: int) -> None:
    small = ingest_rate(kind, members, HUB.per_branch)
    large = ingest_rate(kind, members, LARGE_ORGANISATION)
    print(
        f"{kind}: {members:,} members in {HUB.per_branch}-member branches {small:,.0f} members/s; "
        f"in {LARGE_ORGANISATION:,}-member organisations {large:,.0f} members/s; "
        f"ratio large/small {large / small:.2f} (goal ≈ 1)"
    )


def where_time_goes(kind: str, members: int) -> None:
    """The bulk path in this process, batch by batch, with its two stages timed apart: parse,
    validate, hash and encrypt (``stage``, runs ahead of the writes in the server) and the
    write transaction (``commit``). Prints µs per member of each."""
    from tongxin.server import create_token, open_hub
    from tongxin.server._bulk import _Run

    body = ndjson_file(members)
    with database(kind) as url:
        hub = open_hub(settings(url))
        try:
            principal = hub.tokens.authenticate("Bearer " + create_token(hub.db, ["admin"]))
            run = _Run(hub, principal, None)
            staged = committed = 0.0
            batch: list[tuple[int, bytes | None]] = []
            with body.open("rb") as f:
                lines = [(n, line.rstrip(b"\n")) for n, line in enumerate(f)]
            size = hub.settings.bulk_batch_lines
            for no, start in enumerate(range(0, len(lines), size)):
                batch = list(lines[start : start + size])
                t0 = time.process_time()
                ready = run.stage(no, batch)
                t1 = time.perf_counter()
                run.commit(ready)
                staged += time.process_time() - t0
                committed += time.perf_counter() - t1
        finally:
            hub.close()
    n = len(lines)
    print(
        f"{kind}: where the time goes, per line ({n:,} lines, in process): parse + validate + "
        f"hash + encrypt {staged / n * 1e6:.0f} µs of CPU; write transaction "
        f"{committed / n * 1e6:.0f} µs"
    )


def run(kind: str, members: int) -> None:
    body = ndjson_file(members)
    with database(kind) as url:
        with server(url) as (base, token):
            seconds, counts = post_bulk(base, token, body)
        assert counts.get("created", 0) >= members, counts
        if kind == "postgresql":
            raw, n = copy_baseline_pg(url)
            label = "COPY"
        else:
            raw, n = executemany_baseline_sqlite(url)
            label = "executemany, one transaction"
    hub_rate, raw_rate = members / seconds, n / raw
    print(
        f"{kind}: POST /v1/bulk {members:,} members (+{sum(counts.values()) - members:,} "
        f"organisations) in {seconds:.1f} s = {hub_rate:,.0f} members/s"
    )
    print(f"{kind}: raw {label} of the same {n:,} rows in {raw:.2f} s = {raw_rate:,.0f} rows/s")
    print(f"{kind}: ratio {hub_rate / raw_rate:.1%} of raw (goal >= 50 %)")


if __name__ == "__main__":
    if "--shapes" in sys.argv:
        sys.argv.remove("--shapes")
        main_over_backends(run_shapes, __doc__)
    elif "--profile" in sys.argv:
        sys.argv.remove("--profile")
        main_over_backends(where_time_goes, __doc__)
    else:
        main_over_backends(run, __doc__)
