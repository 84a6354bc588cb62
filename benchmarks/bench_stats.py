"""``GET /v1/stats`` at a parent hub against the raw SQL that produces the same numbers, side by
side in one run; and the console's list pages at p95.

    python benchmarks/bench_stats.py [--members 480000] [--children 4] [--repeat 5]
                                     [--keep-database NAME] [--no-lists | --lists-only]

``--keep-database NAME`` keeps the loaded PostgreSQL database ``NAME`` after the run and, when
it already holds the records of a run with the same ``--members`` and ``--children``, reuses it
instead of loading again (loading 480,000 members takes minutes). The hub migrates it to the
current schema at start, so a kept database also tries a new migration on a large table. Drop
it with ``DROP DATABASE NAME``. ``--no-lists`` measures the statistics only, ``--lists-only``
the console's lists only.

A fresh PostgreSQL database and a live ``tongxin serve``. The organisations (one primary
committee, a branch per 50 members, committee terms) go through ``POST /v1/bulk``; then the
members, as replicas of ``--children`` child hubs (a parent hub's holding), three months of dues
(80 % of the members each month), the required meetings of a quarter for every branch and
transfers (1 % of the members, half accepted) are generated in Python and loaded with ``COPY``
straight into ``records`` (public JSON only: the statistics read no sensitive field), with
their ``record_facts`` rows (as the record store computes them) by a second ``COPY``, then
``ANALYZE``.

Measured, each ``--repeat`` times after one warm-up, medians printed:

- ``GET /v1/stats`` over HTTP with an unrestricted token (goals: under 1 s, within 3× the raw
  SQL);
- the raw SQL: the very statements :func:`compute_stats` sends (captured once, in process, from
  SQLAlchemy's cursor events) replayed with psycopg on one connection, rows fetched — the
  database's own time for the same numbers, without HTTP, SQLAlchemy or Python assembly;
- the console's member list (``GET /console/members``: first page and its total), the
  organisation tree with member counts (``GET /console/orgs``), the console search by name
  (``POST /console/members``) and ``GET /v1/members?count=true`` with a subtree: p50 and p95
  over 40 requests each (goal p95 < 200 ms).

Loading 480,000 members takes minutes. ``--keep-database NAME`` loads into the PostgreSQL
database ``NAME`` (created when missing) and keeps it; a later run with the same name finds the
members there, loads nothing and measures the same rows again (the hub migrates it to the
current schema on start). ``--lists-only`` skips ``GET /v1/stats`` and measures the console's
lists only.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from _hubbench import HUB, PG, WORK, database, post_bulk, server, settings
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tongxin.schemas._synthetic import SyntheticHub, member, organisations
from tongxin.server import open_hub
from tongxin.server._accounts import create_user
from tongxin.server._security import Principal
from tongxin.server._stats import StatsQuery, compute_stats
from tongxin.server._store import facts_of
from tongxin.server._tables import record_facts

COLUMNS = (
    "collection, id, owner, scope_org, scope_org2, version, updated_us, seq, deleted, doc,"
    " sealed, citizen_hash, digest, orphan"
)
TODAY = date.today()
MONTHS = [(TODAY.replace(day=1) - timedelta(days=31 * k)).strftime("%Y-%m") for k in (3, 2, 1)]
REQUIRED = (("committee-meeting", 3), ("group-meeting", 3), ("general-meeting", 1),
            ("party-lecture", 1))  # fmt: skip


def log(message: str) -> None:
    print(message, flush=True)


def _pg(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def load_organisations(base: str, token: str, shape: SyntheticHub) -> int:
    path = WORK / f"stats-orgs-{shape.members}.ndjson"
    with path.open("wb") as out:
        for n, org in enumerate(organisations(shape)):
            org = {k: v for k, v in org.items() if k not in ("version", "updatedAt")}
            if n % 7 == 0 and n:  # some terms end soon or have ended
                org["electedDate"] = (TODAY - timedelta(days=3 * 365 - 30 * (n % 5))).isoformat()
            line = {"op": "upsert", "type": "organisations", "record": org}
            out.write(orjson.dumps(line) + b"\n")
    _, counts = post_bulk(base, token, path)
    path.unlink()
    assert counts.get("created", 0) > 0, counts
    return int(counts["created"])


def _rows(shape: SyntheticHub, children: int, first_seq: int) -> Iterator[tuple[Any, ...]]:
    """Rows of ``records`` for the members, dues, meetings and transfers (replicas)."""
    rng = random.Random(shape.seed)
    now_us = int(time.time() * 1_000_000)
    seq = first_seq
    branches = -(-shape.members // shape.per_branch)

    def row(collection: str, rid: str, owner: str, org: str, doc: dict[str, Any],
            org2: str | None = None, updated_us: int = now_us) -> tuple[Any, ...]:  # fmt: skip
        nonlocal seq
        seq += 1
        body = orjson.dumps(doc).decode()
        return (collection, rid, owner, org, org2, 1, updated_us, seq, False, body, None, None,
                "x" * 64, 0)  # fmt: skip

    for n in range(shape.members):
        owner = f"bench-c{n % children + 1}"
        record = member(shape, n, rng)
        for key in ("citizenId", "phone", "version", "updatedAt"):
            record.pop(key, None)
        if n % 11 == 0:
            record["education"] = "31"
        if n % 13 == 0:
            record["ethnicity"] = "03"
        record["id"] = f"{owner}:m{n:08d}"
        yield row("members", record["id"], owner, record["organisationId"], record)
        for k, month in enumerate(MONTHS):
            if (n + k) % 5 == 0:
                continue  # 80 % pay each month
            dues = {"id": f"{owner}:d{n:08d}{k}", "memberId": record["id"], "period": month,
                    "memberClass": "salaried", "base": "3000.00", "amount": "15.00",
                    "paidDate": f"{month}-20"}  # fmt: skip
            yield row("duesPayments", dues["id"], owner, record["organisationId"], dues)
        if n % 100 == 0:
            source = record["organisationId"]
            target = shape.rid("o", (n // shape.per_branch + 7) % branches + 1)
            issued = TODAY - timedelta(days=5 + n % 60)
            accepted = n % 200 == 0
            transfer = {"id": f"{owner}:t{n:08d}", "memberId": record["id"],
                        "fromOrganisationId": source, "toOrganisationId": target,
                        "reason": "residence-change", "issuedDate": issued.isoformat(),
                        "validDays": 90, "state": "accepted" if accepted else "issued"}  # fmt: skip
            decided = datetime.combine(issued + timedelta(days=3 + n % 20), datetime.min.time())
            stamp = int(decided.replace(tzinfo=UTC).timestamp() * 1_000_000)
            yield row("transfers", transfer["id"], owner, source, transfer, target, stamp)
    for b in range(1, branches + 1):
        org = shape.rid("o", b)
        owner = f"bench-c{b % children + 1}"
        for kind, times in REQUIRED:
            for k in range(times if b % 4 else times - 1):  # a quarter of branches fall short
                day = f"{MONTHS[k % 3]}-1{k}"
                meeting = {"id": f"{owner}:a{b:07d}{kind[:2]}{k}", "organisationId": org,
                           "type": kind, "startTime": f"{day}T14:30:00+08:00",
                           "endTime": f"{day}T16:30:00+08:00", "topic": "学习讨论",
                           "attendance": []}  # fmt: skip
                yield row("activities", meeting["id"], owner, org, meeting)


def load_records(url: str, shape: SyntheticHub, children: int) -> tuple[int, float]:
    """COPY the generated rows; the rows and seconds."""
    start = time.perf_counter()
    n = 0
    with psycopg.connect(_pg(url)) as conn:
        last = conn.execute("SELECT last_seq FROM hub_state").fetchone()
        assert last is not None
        seq = int(last[0])
        names = [c.strip() for c in COLUMNS.split(",")]
        facts = [c.name for c in record_facts.columns]
        with conn.cursor() as cur, cur.copy(f"COPY records ({COLUMNS}) FROM STDIN") as copy:
            for values in _rows(shape, children, seq):
                copy.write_row(values)
                n += 1
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY record_facts ({', '.join(facts)}) FROM STDIN") as copy,
        ):
            for values in _rows(shape, children, seq):
                row = facts_of(dict(zip(names, values, strict=True)))
                assert row is not None
                copy.write_row([row[c] for c in facts])
        conn.execute("UPDATE hub_state SET last_seq = %s", (seq + n,))
        conn.commit()
        conn.autocommit = True
        # As autovacuum soon would after so many inserts: statistics, and the visibility map
        # that lets counts read an index alone.
        conn.execute("VACUUM (ANALYZE)")
    return n, time.perf_counter() - start


def captured_statements(url: str) -> list[tuple[str, Any]]:
    """The SQL statements (and parameters) :func:`compute_stats` sends for an unrestricted
    caller, captured from SQLAlchemy's cursor events: its queries and settings (``SET LOCAL``,
    which the replay's one transaction keeps)."""
    seen: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool):  # type: ignore[no-untyped-def]
        seen.append((statement, params))

    hub = open_hub(settings(url))
    event.listen(Engine, "before_cursor_execute", listen)
    try:
        compute_stats(hub, Principal("bench", frozenset({"admin"})), StatsQuery())
    finally:
        event.remove(Engine, "before_cursor_execute", listen)
        hub.close()
    return [(s, p) for s, p in seen if s.lstrip().upper().startswith(("SELECT", "SET"))]


def run(conn: psycopg.Connection[Any], sql: str, params: Any) -> None:
    """One statement, its rows fetched (a setting has none)."""
    cursor = conn.execute(sql, params)
    if cursor.description is not None:
        cursor.fetchall()


def raw_seconds(url: str, statements: list[tuple[str, Any]]) -> float:
    with psycopg.connect(_pg(url)) as conn:
        start = time.perf_counter()
        for sql, params in statements:
            run(conn, sql, params)
        return time.perf_counter() - start


def slowest(url: str, statements: list[tuple[str, Any]], n: int = 5) -> list[tuple[float, str]]:
    """The ``n`` statements that took longest (one replay)."""
    timed = []
    with psycopg.connect(_pg(url)) as conn:
        for sql, params in statements:
            start = time.perf_counter()
            run(conn, sql, params)
            timed.append((time.perf_counter() - start, sql))
    return sorted(timed, reverse=True)[:n]


def api_seconds(base: str, token: str) -> float:
    with httpx.Client(timeout=600) as client:
        start = time.perf_counter()
        response = client.get(base + "/v1/stats", headers={"Authorization": f"Bearer {token}"})
        elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed


def console_client(base: str, url: str, root: str) -> httpx.Client:
    username = f"bench{int(time.time())}"
    hub = open_hub(settings(url))
    try:
        password = create_user(hub.db, username, root, "viewer")
    finally:
        hub.close()
    client = httpx.Client(base_url=base, timeout=120, follow_redirects=True)
    form = client.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    first = client.post(
        "/console/login",
        data={"csrf": csrf.group(1), "username": username, "password": password},
    )
    csrf = re.search(r'name="csrf" value="([^"]+)"', first.text)
    assert csrf
    client.post(
        "/console/password",
        data={"csrf": csrf.group(1), "old": password, "new": "bench password 123"},
    )
    return client


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def list_pages(base: str, url: str, token: str, root: str, n: int = 40) -> list[str]:
    out = []
    client = console_client(base, url, root)
    page = client.get("/console/members")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    api = httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"})
    cases = {
        "console GET /console/members (page 1 + total)": lambda: client.get("/console/members"),
        "console GET /console/orgs (tree with member counts)": lambda: client.get("/console/orgs"),
        "console POST /console/members name=王 (page 1 + total)": lambda: client.post(
            "/console/members", data={"csrf": csrf.group(1), "name": "王"}
        ),
        "GET /v1/members?count=true&organisationId=root&subtree=true": lambda: api.get(
            "/v1/members",
            params={"count": "true", "organisationId": root, "subtree": "true", "limit": 20},
        ),
    }
    for label, call in cases.items():
        assert call().status_code == 200
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            response = call()
            samples.append(time.perf_counter() - start)
            assert response.status_code == 200
        p50, p95 = percentiles(samples)
        out.append(f"  {label}: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (goal < 200 ms)")
    client.close()
    api.close()
    return out


@contextmanager
def kept_database(name: str) -> Iterator[str]:
    """The PostgreSQL database ``name``, created if missing and never dropped."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"--keep-database: {name!r} is not a plain lower-case name")
    WORK.mkdir(exist_ok=True)
    with psycopg.connect(PG, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(f"CREATE DATABASE {name}")
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def loaded(url: str, members: int, children: int) -> bool:
    """Whether the database at ``url`` already holds this run's records."""
    with psycopg.connect(_pg(url)) as conn:
        exists = conn.execute("SELECT to_regclass('record_facts')").fetchone()
        if exists is None or exists[0] is None:
            return False
        row = conn.execute(
            "SELECT count(*), count(DISTINCT owner) FROM records WHERE collection = 'members'"
        ).fetchone()
    return row is not None and (int(row[0]), int(row[1])) == (members, children)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=480_000)
    parser.add_argument("--children", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-lists", action="store_true", help="skip the console lists")
    parser.add_argument("--lists-only", action="store_true", help="only the console's lists")
    parser.add_argument("--keep-database", metavar="NAME", help="keep (and reuse) this database")
    args = parser.parse_args()
    shape = SyntheticHub(hub_id=HUB.hub_id, members=args.members, per_branch=50)
    kept = args.keep_database
    with kept_database(kept) if kept else database("postgresql") as url:
        reuse = bool(kept) and loaded(url, args.members, args.children)
        with server(url) as (base, token):
            if reuse:
                log(f"reusing the records loaded in {kept}")
            else:
                load(base, token, url, shape, args.children)
            if not args.lists_only:
                measure(base, token, url, args.repeat)
            if not args.no_lists:
                for line in list_pages(base, url, token, shape.rid("o", 0)):
                    log(line)


def load(base: str, token: str, url: str, shape: SyntheticHub, children: int) -> None:
    t0 = time.perf_counter()
    orgs = load_organisations(base, token, shape)
    log(f"{orgs:,} organisations through POST /v1/bulk in {time.perf_counter() - t0:.1f} s")
    rows, seconds = load_records(url, shape, children)
    log(f"{rows:,} rows ({shape.members:,} members as replicas of {children} children, "
        f"dues, meetings, transfers) by COPY in {seconds:.1f} s")  # fmt: skip


def measure(base: str, token: str, url: str, repeat: int) -> None:
    statements = captured_statements(url)
    api_seconds(base, token)
    raw_seconds(url, statements)
    api, raw = [], []
    for _ in range(repeat):  # side by side, alternating
        api.append(api_seconds(base, token))
        raw.append(raw_seconds(url, statements))
    a, r = statistics.median(api), statistics.median(raw)
    log(f"GET /v1/stats: median {a * 1000:.0f} ms over {repeat} (goal < 1000 ms)")
    log(f"raw SQL, the same {len(statements)} statements by psycopg: median {r * 1000:.0f} ms")
    log(f"ratio API / raw SQL: {a / r:.2f}x (goal <= 3x)")
    for seconds, sql in slowest(url, statements):
        log(f"  {seconds * 1000:7.0f} ms  {' '.join(sql.split())[:150]}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
