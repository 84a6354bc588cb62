"""The legacy agent against the hub's own bulk ingest, side by side in one run (MariaDB source,
PostgreSQL hub): the initial sync of N legacy member rows as a share of the rate at which the
hub ingests the same records sent as one NDJSON stream (goal ≥ 80 %: the agent is never the
bottleneck), then a run with 1 % of the rows changed as a share of the initial run's time
(goal < 10 %).

    python benchmarks/bench_legacy.py [--members 200000] [--backend postgresql]
"""

from __future__ import annotations

import argparse
import random
import secrets
import tempfile
import time
from pathlib import Path

import orjson
import pymysql
from _hubbench import HUB, WORK, database, post_bulk, server

from tongxin.adapters.legacy import HubSink, load_mapping, run_sync, to_record
from tongxin.client import Client
from tongxin.schemas._synthetic import SyntheticHub, member

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
BRANCHES = 50


def legacy_database(n: int) -> str:
    name = f"legacy_bench_{secrets.token_hex(3)}"
    syn = SyntheticHub(hub_id=HUB.hub_id, members=n, per_branch=max(1, n // BRANCHES))
    rng = random.Random(1)
    with pymysql.connect(**MARIADB, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE {name} DEFAULT CHARSET utf8mb4")
        cur.execute(f"USE {name}")
        cur.execute("CREATE TABLE t_org (org_id INT PRIMARY KEY, org_name VARCHAR(100),"
                    " parent_id INT NULL, org_type VARCHAR(20))")  # fmt: skip
        cur.execute(
            "CREATE TABLE dy_jbxx (id INT PRIMARY KEY, xm VARCHAR(50), xb VARCHAR(4),"
            " csrq VARCHAR(20), sfzh VARCHAR(20), dzz_id INT, dylb VARCHAR(10),"
            " rdsj VARCHAR(20), zzsj VARCHAR(20), zt VARCHAR(10), lxdh VARCHAR(30))"
        )
        cur.execute("INSERT INTO t_org VALUES (0, '示范县委直属机关委员会', NULL, '党委')")
        cur.executemany(
            "INSERT INTO t_org VALUES (%s, %s, 0, '党支部')",
            [(b, f"第{b}党支部") for b in range(1, BRANCHES + 1)],
        )
        rows = []
        for i in range(n):
            m = member(syn, i, rng)
            rows.append((i, m["name"], "男" if m["gender"] == "1" else "女",
                         m["birthDate"].replace("-", "."), m["citizenId"], 1 + i % BRANCHES,
                         "正式党员" if m["category"] == "full" else "预备党员", m["joinedDate"],
                         m.get("fullMembershipDate"), "正常", m["phone"]))  # fmt: skip
            if len(rows) == 5000:
                cur.executemany("INSERT INTO dy_jbxx VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                                rows)  # fmt: skip
                rows = []
        if rows:
            cur.executemany("INSERT INTO dy_jbxx VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", rows)
    return name


def mapping_file(name: str, folder: Path) -> Path:
    path = folder / "bench.toml"
    path.write_text(
        f'hub-id = "{HUB.hub_id}"\n[source]\nurl = "mysql+pymysql://root@127.0.0.1:3306/{name}"\n'
        "[organisations]\nquery = \"SELECT CONCAT('org', org_id) AS id, org_name AS name,"
        " CONCAT('org', parent_id) AS parentId, org_type AS type FROM t_org\"\n"
        '[members]\nquery = "SELECT id, xm AS name, xb AS gender, csrq AS birthDate,'
        " sfzh AS citizenId, CONCAT('org', dzz_id) AS organisationId, dylb AS category,"
        " rdsj AS joinedDate, zzsj AS fullMembershipDate, zt AS status, lxdh AS phone"
        ' FROM dy_jbxx"\n',
        encoding="utf-8",
    )
    return path


def ndjson_of(name: str, path: Path) -> Path:
    """The same records the agent sends, as one bulk body (what the hub ingests natively)."""
    out = WORK / f"legacy-{name}.ndjson"
    mapping = load_mapping(path)
    import sqlalchemy as sa

    engine = sa.create_engine(mapping.source_url)
    with engine.connect() as conn, out.open("wb") as f:
        for section in mapping.sections:
            for row in conn.execute(sa.text(section.query)).mappings():
                record = to_record(section.collection, HUB.hub_id, dict(row))
                line = {"op": "upsert", "type": section.collection, "record": record}
                f.write(orjson.dumps(line) + b"\n")
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--backend", default="postgresql")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    name = legacy_database(args.members)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = mapping_file(name, Path(tmp))
            body = ndjson_of(name, path)
            with database(args.backend) as url, server(url) as (base, token):
                native, counts = post_bulk(base, token, body)
            with (
                database(args.backend) as url,
                server(url) as (base, token),
                Client(base, token=token) as client,
            ):
                start = time.perf_counter()
                first = run_sync(load_mapping(path), HubSink(client), batch=5000)
                initial = time.perf_counter() - start
                changed = max(1, args.members // 100)
                with pymysql.connect(**MARIADB, database=name, autocommit=True) as conn:
                    conn.cursor().execute(
                        "UPDATE dy_jbxx SET lxdh = '13900000000' WHERE id < %s", (changed,)
                    )
                start = time.perf_counter()
                later = run_sync(load_mapping(path), HubSink(client), batch=5000)
                delta = time.perf_counter() - start
    finally:
        with pymysql.connect(**MARIADB, autocommit=True) as conn:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
    n = sum(counts.values())
    print(f"hub bulk ingest (native NDJSON) {n / native:9.0f} records/s")
    print(f"legacy sync, initial            {first.created / initial:9.0f} records/s"
          f"  = {native / initial:.0%} of native (goal ≥ 80 %)")  # fmt: skip
    print(f"legacy sync, 1 % changed        {delta:9.2f} s ({later.updated} updated)"
          f"  = {delta / initial:.1%} of the initial run (goal < 10 %)")  # fmt: skip


if __name__ == "__main__":
    main()
