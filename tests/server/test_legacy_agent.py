"""``tongxin legacy``: a legacy MariaDB created by the tests (pinyin columns, Chinese strings
where codes belong, dates as varchar, 15-digit IDs) mapped with a TOML file and synced into a
live hub; later runs send exactly the inserts, updates and deletes; a refused row never stops
the others; an agent stopped between the hub's answer and its own bookkeeping resumes without
a gap or a duplicate."""

from __future__ import annotations

import random
import secrets
import sqlite3
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pymysql
import pytest
from typer.testing import CliRunner

from tongxin.adapters.legacy import (
    HubSink,
    MappingError,
    inspect_source,
    load_mapping,
    propose,
    run_sync,
)
from tongxin.cli import app
from tongxin.client import Client
from tongxin.schemas import validate
from tongxin.schemas._synthetic import SyntheticHub, member

from .conftest import HUB_ID, Backend, Server, make_backend

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
SCHEMA = """
CREATE TABLE t_org (
  org_id INT PRIMARY KEY, org_name VARCHAR(100) NOT NULL, parent_id INT NULL,
  org_type VARCHAR(20) NOT NULL, create_time DATETIME
) DEFAULT CHARSET=utf8mb4;
CREATE TABLE dy_jbxx (
  id INT PRIMARY KEY AUTO_INCREMENT, xm VARCHAR(50), xb VARCHAR(4), mz VARCHAR(20),
  csrq VARCHAR(20), sfzh VARCHAR(20), xl VARCHAR(20), dzz_id INT, dylb VARCHAR(10),
  rdsj VARCHAR(20), zzsj VARCHAR(20), zt VARCHAR(10), lxdh VARCHAR(30), gzdw VARCHAR(100),
  update_time DATETIME
) DEFAULT CHARSET=utf8mb4;
"""
GENDER = {"1": "男", "2": "女"}
EDUCATION = {"10": "研究生", "21": "大学本科", "31": "大专", "61": "高中", "71": "初中"}
CATEGORY = {"full": "正式党员", "probationary": "预备党员"}


def _legacy_date(iso: str, n: int) -> str:
    d = date.fromisoformat(iso)
    forms = [f"{d.year}年{d.month}月{d.day}日", f"{d:%Y.%m.%d}", f"{d:%Y/%-m/%-d}", f"{d:%Y%m%d}"]
    return forms[n % len(forms)]


def legacy_row(n: int, branch: int) -> dict[str, Any]:
    """Member ``n`` as a legacy platform keeps it."""
    syn = SyntheticHub(hub_id=HUB_ID, members=10_000, per_branch=50)
    m = member(syn, n, random.Random(n))
    cid = m["citizenId"]
    if n % 7 == 0:  # an old 15-digit number
        cid = cid[:6] + cid[8:17]
    return {
        "xm": m["name"],
        "xb": GENDER[m["gender"]],
        "mz": "汉族",
        "csrq": _legacy_date(m["birthDate"], n),
        "sfzh": cid,
        "xl": EDUCATION.get(m.get("education", ""), "大学本科"),
        "dzz_id": branch,
        "dylb": CATEGORY[m["category"]],
        "rdsj": _legacy_date(m["joinedDate"], n + 1),
        "zzsj": _legacy_date(m["fullMembershipDate"], n) if m.get("fullMembershipDate") else None,
        "zt": "正常",
        "lxdh": "+86 " + m["phone"][:3] + "-" + m["phone"][3:7] + "-" + m["phone"][7:],
        "gzdw": m.get("workUnit"),
    }


class Legacy:
    """A legacy MariaDB database of this test module."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.base = random.randrange(1, 90_000) * 10  # ids unique on the shared hub
        self.url = f"mysql+pymysql://root@127.0.0.1:3306/{name}"

    def org(self, n: int) -> int:
        return self.base + n

    def run(self, sql: str, *args: Any) -> None:
        with pymysql.connect(**MARIADB, database=self.name, autocommit=True) as conn:
            conn.cursor().execute(sql, args)

    def insert_member(self, row: dict[str, Any]) -> int:
        cols = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        with pymysql.connect(**MARIADB, database=self.name, autocommit=True) as conn:
            cur = conn.cursor()
            cur.execute(f"INSERT INTO dy_jbxx ({cols}, update_time) VALUES ({marks}, NOW())",
                        list(row.values()))  # fmt: skip
            return int(cur.lastrowid)


@pytest.fixture
def legacy() -> Iterator[Legacy]:
    name = f"legacy_{secrets.token_hex(4)}"
    with pymysql.connect(**MARIADB, autocommit=True) as conn:
        conn.cursor().execute(f"CREATE DATABASE {name} DEFAULT CHARSET utf8mb4")
    db = Legacy(name)
    try:
        for statement in filter(str.strip, SCHEMA.split(";")):
            db.run(statement)
        root, a, b = db.org(1), db.org(2), db.org(3)
        db.run(
            "INSERT INTO t_org VALUES (%s, '中共示范县委直属机关委员会', NULL, '党委', NOW())", root
        )
        db.run("INSERT INTO t_org VALUES (%s, '第一党支部', %s, '党支部', NOW())", a, root)
        db.run("INSERT INTO t_org VALUES (%s, '第二党支部', %s, '党支部', NOW())", b, root)
        db.run(f"ALTER TABLE dy_jbxx AUTO_INCREMENT = {db.base * 100}")
        yield db
    finally:
        with pymysql.connect(**MARIADB, autocommit=True) as conn:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")


def write_mapping(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "legacy.toml"
    path.write_text(
        f'hub-id = "{HUB_ID}"\n[source]\nurl = "{url}"\n'
        "[organisations]\n"
        "query = \"SELECT CONCAT('org', org_id) AS id, org_name AS name,"
        " CONCAT('org', parent_id) AS parentId, org_type AS type FROM t_org\"\n"
        "[members]\n"
        'query = """SELECT id, xm AS name, xb AS gender, mz AS ethnicity, csrq AS birthDate,'
        " sfzh AS citizenId, xl AS education, CONCAT('org', dzz_id) AS organisationId,"
        " dylb AS category, rdsj AS joinedDate, zzsj AS fullMembershipDate, zt AS status,"
        ' lxdh AS phone, gzdw AS workUnit FROM dy_jbxx"""\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """One hub on SQLite: the agent is under test here, not the database behind the hub."""
    yield from make_backend("sqlite", tmp_path_factory.mktemp("sqlite"))


@pytest.fixture
def hub(server: Server) -> Iterator[Client]:
    with Client(server.url, token=server.tokens["admin"]) as client:
        yield client


def _feed_since(client: Client, cursor: str | None) -> list[tuple[str, int, bool]]:
    return [(c.id, c.version, c.deleted) for c in client.changes(since=cursor, types=["members"])]


def test_inspect_proposes_a_mapping_from_pinyin_columns(legacy: Legacy) -> None:
    tables = inspect_source(legacy.url)
    assert {t.name for t in tables} == {"t_org", "dy_jbxx"}
    proposal = tomllib.loads(propose(HUB_ID, legacy.url, tables))
    members = proposal["members"]["query"]
    for fragment in ("xm AS name", "sfzh AS citizenId", "rdsj AS joinedDate", "FROM dy_jbxx"):
        assert fragment in members
    assert "org_name AS name" in proposal["organisations"]["query"]
    assert "parent_id AS parentId" in proposal["organisations"]["query"]


def test_sync_fills_the_hub_then_sends_exactly_what_changed(
    legacy: Legacy, hub: Client, tmp_path: Path
) -> None:
    ids = [legacy.insert_member(legacy_row(n, legacy.org(2 + n % 2))) for n in range(40)]
    mapping = load_mapping(write_mapping(tmp_path, legacy.url))
    first = run_sync(mapping, HubSink(hub), batch=15)
    assert first.issues[:3] == []
    assert (first.created, first.rejected) == (43, 0)
    stored = hub.members.get(f"{HUB_ID}:{ids[7]}")  # row 7 had a 15-digit ID
    assert stored.citizen_id is not None
    assert len(stored.citizen_id) == 18
    assert stored.gender in {"1", "2"}
    assert stored.organisation_id == f"{HUB_ID}:org{legacy.org(3)}"
    assert stored.phone is not None
    assert stored.phone.isdigit()

    feed = hub.changes(types=["members"])
    list(feed)
    legacy.run("UPDATE dy_jbxx SET lxdh = '13900000001' WHERE id IN (%s, %s)", ids[1], ids[2])
    legacy.run("DELETE FROM dy_jbxx WHERE id = %s", ids[3])
    new = legacy.insert_member(legacy_row(100, legacy.org(3)))

    second = run_sync(mapping, HubSink(hub), batch=15)
    assert (second.sent, second.created, second.updated, second.deleted) == (4, 1, 2, 1)
    assert second.unchanged == 43 - 3  # the rows that did not change were not sent
    changes = sorted(_feed_since(hub, feed.cursor))
    assert changes == sorted(
        [
            (f"{HUB_ID}:{ids[1]}", 2, False),
            (f"{HUB_ID}:{ids[2]}", 2, False),
            (f"{HUB_ID}:{ids[3]}", 2, True),
            (f"{HUB_ID}:{new}", 1, False),
        ]
    )
    third = run_sync(mapping, HubSink(hub), batch=15)
    assert third.sent == 0


def test_a_refused_row_is_reported_and_the_others_go_through(
    legacy: Legacy, hub: Client, server: Server, tmp_path: Path
) -> None:
    good = [legacy.insert_member(legacy_row(n, legacy.org(2))) for n in range(200, 205)]
    bad_row = legacy_row(205, legacy.org(2))
    bad_row["sfzh"] = bad_row["sfzh"][:17] + ("0" if bad_row["sfzh"][17] != "0" else "1")
    bad = legacy.insert_member(bad_row)
    result = CliRunner().invoke(
        app,
        ["legacy", "sync", "--mapping", str(write_mapping(tmp_path, legacy.url)),
         "--hub", server.url, "--token", server.tokens["admin"], "--once", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    report = orjson.loads(result.stdout)
    assert report["created"] == 3 + 5
    assert report["rejected"] == 1
    issue = report["issues"][0]
    assert issue["mapping"] == "members"
    assert issue["id"] == f"{HUB_ID}:{bad}"
    assert issue["pointer"] == "/record/citizenId"
    assert issue["rule"]
    assert issue["message"]["zh-CN"]
    assert issue["message"]["en"]
    assert all(hub.members.get(f"{HUB_ID}:{g}").version == 1 for g in good)


class _StopsAfter(HubSink):
    """Sends ``batches`` batches to the hub, then dies after the hub has written the next one
    but before the agent could record it: the worst moment for an agent to be killed."""

    def __init__(self, client: Client, batches: int) -> None:
        super().__init__(client)
        self.left = batches

    def send(self, ops: Any) -> Any:
        results = super().send(ops)
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return results


def test_an_agent_killed_mid_run_resumes_without_gap_or_duplicate(
    legacy: Legacy, hub: Client, tmp_path: Path
) -> None:
    ids = [legacy.insert_member(legacy_row(n, legacy.org(2 + n % 2))) for n in range(300, 360)]
    mapping = load_mapping(write_mapping(tmp_path, legacy.url))
    with pytest.raises(KeyboardInterrupt):
        run_sync(mapping, _StopsAfter(hub, 2), batch=10)
    acked = sqlite3.connect(mapping.state_path).execute("SELECT COUNT(*) FROM acked").fetchone()
    assert 0 < acked[0] < 63
    resumed = run_sync(mapping, HubSink(hub), batch=10)
    assert resumed.rejected == 0
    assert resumed.created + resumed.unchanged == 63
    versions = {hub.members.get(f"{HUB_ID}:{i}").version for i in ids}
    assert versions == {1}  # nothing written twice, nothing re-written
    assert run_sync(mapping, HubSink(hub), batch=10).sent == 0


def test_a_package_instead_of_a_hub(legacy: Legacy, tmp_path: Path) -> None:
    for n in range(400, 410):
        legacy.insert_member(legacy_row(n, legacy.org(3)))
    out = tmp_path / "package.json"
    result = CliRunner().invoke(
        app,
        ["legacy", "sync", "--mapping", str(write_mapping(tmp_path, legacy.url)),
         "--out", str(out), "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["created"] == 13
    assert validate(out).valid
    assert len(orjson.loads(out.read_bytes())["members"]) == 10


def test_a_sqlite_source_read_by_its_cursor_column(
    hub: Client, tmp_path: Path, server: Server
) -> None:
    source = tmp_path / "legacy.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE org (id TEXT, name TEXT, kind TEXT)")
        conn.execute("INSERT INTO org VALUES ('sq1', '第三党支部', '党支部')")
        conn.execute("CREATE TABLE people (id TEXT, xm TEXT, xb TEXT, csrq TEXT, dzz TEXT,"
                     " dylb TEXT, rdsj TEXT, zzsj TEXT, zt TEXT, changed INTEGER)")  # fmt: skip
        for n in range(5):
            conn.execute(
                "INSERT INTO people VALUES (?, ?, '女', '1990-01-0' || ?, 'sq1', '正式党员',"
                " '2015-07-01', '2016-07-01', '正常', 1)",
                (f"p{n}", f"党员{n}", n + 1),
            )
    mapping_path = tmp_path / "sqlite.toml"
    mapping_path.write_text(
        f'hub-id = "{HUB_ID}"\n[source]\nurl = "sqlite:///{source}"\n'
        '[organisations]\nquery = "SELECT id, name, kind AS type FROM org"\n'
        '[members]\ncursor = "changed"\nquery = "SELECT id, xm AS name, xb AS gender,'
        " csrq AS birthDate, dzz AS organisationId, dylb AS category, rdsj AS joinedDate,"
        ' zzsj AS fullMembershipDate, zt AS status, changed FROM people"\n',
        encoding="utf-8",
    )
    mapping = load_mapping(mapping_path)
    assert run_sync(mapping, HubSink(hub)).created == 6
    assert mapping.state_path.stat().st_mode & 0o777 == 0o600  # the agent's memory is private
    with sqlite3.connect(source) as conn:
        conn.execute("UPDATE people SET xm = '改名', changed = 2 WHERE id = 'p1'")
        conn.execute("DELETE FROM people WHERE id = 'p4'")
    again = run_sync(mapping, HubSink(hub))
    assert (again.sent, again.updated, again.deleted) == (2, 1, 1)
    assert hub.members.get(f"{HUB_ID}:p1").name == "改名"


def test_a_mapping_with_a_column_that_is_no_field_is_refused(
    legacy: Legacy, tmp_path: Path, hub: Client
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        f'hub-id = "{HUB_ID}"\n[source]\nurl = "{legacy.url}"\n'
        '[organisations]\nquery = "SELECT org_id AS id, org_name, org_type AS type FROM t_org"\n',
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as refused:
        run_sync(load_mapping(path), HubSink(hub))
    assert "org_name" in refused.value.zh


def test_applicants_sync_with_their_introducers(hub: Client, tmp_path: Path) -> None:
    """Standard 1.1's applicants are one more section of the mapping: stages as platforms
    store them (积极分子, stage code 3), introducers as one column of member keys."""
    from tongxin.schemas import citizen_id_check

    def cid(first17: str) -> str:
        return first17 + citizen_id_check(first17)

    source = tmp_path / "fazhan.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE org (id TEXT, name TEXT, kind TEXT)")
        conn.execute("INSERT INTO org VALUES ('fz1', '发展党员示范支部', '党支部')")
        conn.execute("CREATE TABLE people (id TEXT, xm TEXT, xb TEXT, csrq TEXT, dzz TEXT,"
                     " rdsj TEXT, zzsj TEXT)")  # fmt: skip
        conn.execute("INSERT INTO people VALUES ('fzm1', '介绍人一', '男', '1970-01-01', 'fz1',"
                     " '1995-07-01', '1996-07-01')")  # fmt: skip
        conn.execute("INSERT INTO people VALUES ('fzm2', '介绍人二', '女', '1972-02-02', 'fz1',"
                     " '1996-07-01', '1997-07-01')")  # fmt: skip
        conn.execute("CREATE TABLE fzdy (id TEXT, xm TEXT, xb TEXT, sfzh TEXT, dzz TEXT,"
                     " jd TEXT, sqrq TEXT, thrq TEXT, jjfzrq TEXT, fzdxrq TEXT,"
                     " jsr TEXT)")  # fmt: skip
        conn.execute(
            "INSERT INTO fzdy VALUES ('fza1', '申请人甲', '男', ?, 'fz1', '积极分子',"
            " '2025-01-05', '2025-01-20', '2025-05-01', NULL, NULL)",
            (cid("51010719980202011"),),
        )
        conn.execute(
            "INSERT INTO fzdy VALUES ('fza2', '申请人乙', '女', ?, 'fz1', '3', '2023-01-01',"
            " '2023-01-15', '2023-06-01', '2024-07-01', 'fzm1,fzm2')",
            (cid("51010719960303022"),),
        )
    mapping_path = tmp_path / "fazhan.toml"
    mapping_path.write_text(
        f'hub-id = "{HUB_ID}"\n[source]\nurl = "sqlite:///{source}"\n'
        '[organisations]\nquery = "SELECT id, name, kind AS type FROM org"\n'
        '[members]\nquery = "SELECT id, xm AS name, xb AS gender, csrq AS birthDate,'
        " dzz AS organisationId, '正式党员' AS category, rdsj AS joinedDate,"
        " zzsj AS fullMembershipDate, '正常' AS status FROM people\"\n"
        '[applicants]\nquery = "SELECT id, xm AS name, xb AS gender, sfzh AS citizenId,'
        " substr(sfzh, 7, 4) || '-' || substr(sfzh, 11, 2) || '-' || substr(sfzh, 13, 2)"
        " AS birthDate, dzz AS organisationId, jd AS stage, sqrq AS applicationDate,"
        " thrq AS talkDate, jjfzrq AS activistDate, fzdxrq AS candidateDate,"
        ' jsr AS introducers FROM fzdy"\n',
        encoding="utf-8",
    )
    result = run_sync(load_mapping(mapping_path), HubSink(hub))
    assert (result.created, result.rejected) == (5, 0), result
    first = hub.applicants.get(f"{HUB_ID}:fza1")
    assert first.stage == "activist"
    second = hub.applicants.get(f"{HUB_ID}:fza2")
    assert second.stage == "candidate"
    assert second.introducers == [f"{HUB_ID}:fzm1", f"{HUB_ID}:fzm2"]
    assert second.birth_date == date(1996, 3, 3)
    assert run_sync(load_mapping(mapping_path), HubSink(hub)).sent == 0  # nothing changed
