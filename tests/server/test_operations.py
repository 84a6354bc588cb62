"""Operations: backup and restore drills, health and readiness, metrics, migrations, and logs
free of personal data (``docs/operations.md``). Real databases and real ``tongxin serve``
processes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from sqlalchemy import create_engine, text

from tests import _logcheck
from tongxin.server import create_token, open_hub
from tongxin.server._db import migrate

from .conftest import (
    HUB_ID,
    PG_ADMIN,
    Backend,
    Server,
    free_port,
    make_backend,
    numbered_person,
    organisation,
    person,
    start_server,
)
from .test_records import assert_problem

PASSPHRASE = "drill-passphrase-2026"
TONGXIN = str(Path(sys.executable).parent / "tongxin")
#: Everything personal or secret the tests of this module sent; the last test greps the logs.
SECRETS: set[str] = set()
LOG_DIRS: list[Path] = []


def cli(
    backend: Backend, *args: str, passphrase: str | None = PASSPHRASE, database: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``tongxin`` in the backend's directory (where a SQLite hub and its keys live)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN_")}
    env["TONGXIN_HUB_ID"] = HUB_ID
    if passphrase is not None:
        env["TONGXIN_BACKUP_PASSPHRASE"] = passphrase
    extra = ["--database", backend.url] if database and backend.name == "postgresql" else []
    done = subprocess.run(
        [TONGXIN, *args, *extra],
        cwd=backend.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    _logcheck.keep(f"operations-{args[0]}", done.stderr)
    return done


@contextmanager
def fresh_backend(name: str, workdir: Path) -> Iterator[Backend]:
    made = make_backend(name, workdir)
    try:
        yield next(made)
    finally:
        made.close()


def start(backend: Backend, **env: str) -> Server:
    srv = start_server(backend, extra_env=env)
    LOG_DIRS.append(backend.workdir)
    SECRETS.update(srv.tokens.values())
    return srv


def remember(record: dict[str, Any]) -> dict[str, Any]:
    for field in ("citizenId", "phone"):
        if record.get(field):
            SECRETS.add(str(record[field]))
    return record


def pages(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        next_url = body["next"]
    return items


def count_members(backend: Backend) -> int:
    engine = create_engine(backend.url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM records WHERE collection = 'members'")
                ).scalar_one()
            )
    finally:
        engine.dispose()


def epoch(backend: Backend) -> str:
    hub = open_hub(backend.settings())
    try:
        return hub.identity.epoch
    finally:
        hub.close()


def destroy(backend: Backend) -> None:
    """Lose the hub: its database (an empty one takes its place) and its key files."""
    if backend.name == "sqlite":
        for name in ("tongxin.db", "tongxin.db-wal", "tongxin.db-shm"):
            (backend.workdir / name).unlink(missing_ok=True)
    else:
        db = backend.url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {db} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {db}")
    for name in ("tongxin.key", "tongxin.keys.json"):
        (backend.workdir / name).unlink()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the restore drill -----------------------------------------------------------------------

BATCH = 50
BULK = 1500


def test_restore_drill_under_bulk_load(backend: Backend, tmp_path: Path) -> None:
    """Back up a live hub while a bulk load runs, lose it, restore: every record and every
    sensitive field is back, the old tokens work, the audit log is intact, the epoch is new."""
    with fresh_backend(backend.name, tmp_path / "drill") as drill:
        assert cli(drill, "init", "--hub-id", HUB_ID).returncode == 0
        keystore = (drill.workdir / "tongxin.keys.json").read_bytes()
        srv = start(
            drill,
            TONGXIN_BULK_BATCH_LINES=str(BATCH),
            TONGXIN_LOG_FORMAT="json",
        )
        srv.args.append("--access-log")  # every request in the logs the last test greps
        srv.stop()
        srv.start()
        try:
            with srv.client() as api:
                root = organisation()
                assert api.post("/v1/organisations", json=root).status_code == 201
                early = [remember(person(root["id"])) for _ in range(5)]
                for record in early:
                    assert api.post("/v1/members", json=record).status_code == 201
                load = [remember(numbered_person(root["id"], 7000 + n)) for n in range(BULK)]
                body = b"".join(
                    orjson.dumps({"op": "upsert", "type": "members", "record": r}) + b"\n"
                    for r in load
                )
                outcome: dict[str, Any] = {}

                def run_bulk() -> None:
                    with srv.client() as writer:
                        outcome["response"] = writer.post(
                            "/v1/bulk",
                            content=body,
                            headers={"content-type": "application/x-ndjson"},
                        )

                loader = threading.Thread(target=run_bulk)
                loader.start()
                while count_members(drill) <= len(early) and loader.is_alive():
                    pass  # polling: the first batch has committed
                seen = count_members(drill)
                made = cli(drill, "backup", "--out", "hub.txbk")
                loader.join()
                assert made.returncode == 0, made.stderr
                assert outcome["response"].status_code == 200
                backup_file = drill.workdir / "hub.txbk"
                assert mode(backup_file) == 0o600
                checked = cli(drill, "backup", "--verify", "hub.txbk", database=False)
                assert checked.returncode == 0, checked.stderr
                match = re.search(r"backup ([0-9a-f]{32}) of hub", checked.stdout)
                assert match is not None
                backup_id = match.group(1)
                audit_before = pages(api, "/v1/audit?limit=1000")
                old_admin = srv.tokens["admin"]
            epoch_before = epoch(drill)
        finally:
            srv.stop()

        destroy(drill)
        refused = cli(drill, "restore", "hub.txbk", passphrase="not-the-passphrase")
        assert refused.returncode == 1
        assert not (drill.workdir / "tongxin.key").exists()
        restored = cli(drill, "restore", "hub.txbk")
        assert restored.returncode == 0, restored.stderr
        for name in ("tongxin.key", "tongxin.keys.json"):
            assert mode(drill.workdir / name) == 0o600
        assert (drill.workdir / "tongxin.keys.json").read_bytes() == keystore
        if drill.name == "sqlite":
            assert mode(drill.workdir / "tongxin.db") == 0o600
        assert epoch(drill) != epoch_before

        again = start(drill)
        try:
            with again.client(old_admin) as api:
                members = pages(api, "/v1/members?include=sensitive&limit=1000")
                by_id = {r["id"]: r for r in [*early, *load]}
                # A consistent snapshot: whole bulk transactions, at least what was committed
                # when the backup started.
                bulk_rows = len(members) - len(early)
                assert bulk_rows % BATCH == 0
                assert len(members) >= seen
                assert {r["id"] for r in early} <= {m["id"] for m in members}
                for member in members:
                    original = by_id[member["id"]]
                    assert member["citizenId"] == original["citizenId"]
                    assert member.get("phone") == original.get("phone")
                one = api.get(f"/v1/members/{members[-1]['id']}")
                assert one.json()["citizenId"] == by_id[members[-1]["id"]]["citizenId"]
                assert api.get(f"/v1/organisations/{root['id']}").status_code == 200
                # Refusals that name a citizen ID (logged requests, greped by the last test).
                twin = {**early[0], "id": person(root["id"])["id"]}
                assert_problem(api.post("/v1/members", json=twin), 409, "duplicate-citizen-id")
                broken = remember(person(root["id"], citizenId="51010719600101123X"))
                assert api.post("/v1/members", json=broken).status_code == 422
                audit_after = pages(api, "/v1/audit?limit=1000")
        finally:
            again.stop()
        # The audit log as it was at the backup, then the restore.
        *kept, last = audit_after
        assert kept == audit_before[: len(kept)]
        assert (last["action"], last["type"], last["id"]) == ("restore", "hub", backup_id)
        backup_entries = [a for a in audit_before if a["action"] == "backup"]
        assert [(a["type"], a["id"]) for a in backup_entries] == [("hub", backup_id)]
        assert audit_before.index(backup_entries[0]) >= len(kept)


def test_wrong_passphrase_tampering_and_live_targets_are_refused(
    backend: Backend, tmp_path: Path
) -> None:
    with fresh_backend(backend.name, tmp_path / "refusals") as hub_db:
        assert cli(hub_db, "init", "--hub-id", HUB_ID).returncode == 0
        short = cli(hub_db, "backup", "--out", "x.txbk", passphrase="short")
        assert short.returncode == 1
        assert "至少" in short.stderr
        assert "at least" in short.stderr
        assert cli(hub_db, "backup", "--out", "hub.txbk").returncode == 0
        path = hub_db.workdir / "hub.txbk"
        good = path.read_bytes()

        wrong = cli(hub_db, "backup", "--verify", "hub.txbk", passphrase="wrong-passphrase-1")
        assert wrong.returncode == 1
        assert "口令错误" in wrong.stderr
        assert "wrong passphrase" in wrong.stderr

        for damaged in (
            good[: len(good) // 2] + bytes([good[len(good) // 2] ^ 1]) + good[len(good) // 2 + 1 :],
            good[:-10],
            good + b"extra",
        ):
            path.write_bytes(damaged)
            result = cli(hub_db, "backup", "--verify", "hub.txbk")
            assert result.returncode == 1, damaged[-20:]
            assert "已损坏" in result.stderr
            assert "damaged" in result.stderr
            restore = cli(hub_db, "restore", "hub.txbk", "--force")
            assert restore.returncode == 1
        path.write_bytes(good)

        live = cli(hub_db, "restore", "hub.txbk")
        assert live.returncode == 1
        assert "不为空" in live.stderr
        assert "not empty" in live.stderr
        epoch_before = epoch(hub_db)
        forced = cli(hub_db, "restore", "hub.txbk", "--force")
        assert forced.returncode == 0, forced.stderr
        assert epoch(hub_db) != epoch_before


# -- health and readiness ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ops_server(backend: Backend) -> Iterator[Server]:
    srv = start(backend)
    try:
        yield srv
    finally:
        srv.stop()


def ready(srv: Server) -> httpx.Response:
    return httpx.get(srv.url + "/readyz", timeout=30)


def test_healthz_and_readyz_answer_without_a_token(ops_server: Server) -> None:
    health = httpx.get(ops_server.url + "/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready(ops_server).status_code, ready(ops_server).json()) == (200, {"status": "ok"})


def test_readyz_names_pending_migrations_and_unreadable_keys(
    ops_server: Server, backend: Backend
) -> None:
    engine = create_engine(backend.url)
    try:
        with engine.begin() as conn:
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            conn.execute(text("UPDATE alembic_version SET version_num = '0006'"))
        problem = assert_problem(ready(ops_server), 503, "not-ready")
        assert problem["reason"] == "migrations-not-current"
        assert "tongxin migrate" in problem["detailZh"]
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        assert ready(ops_server).status_code == 200
    finally:
        engine.dispose()
    key = backend.workdir / "tongxin.key"
    key.chmod(0o644)
    try:
        problem = assert_problem(ready(ops_server), 503, "not-ready")
        assert problem["reason"] == "keys-unreadable"
    finally:
        key.chmod(0o600)
    assert ready(ops_server).status_code == 200


def test_readyz_is_503_while_postgresql_refuses_the_database_and_200_after(
    ops_server: Server, backend: Backend
) -> None:
    if backend.name != "postgresql":
        pytest.skip("the SQLite file is opened in the server process; nothing to take away")
    db = backend.url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {db} ALLOW_CONNECTIONS false")
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (db,),
            )
            problem = assert_problem(ready(ops_server), 503, "not-ready")
            assert problem["reason"] == "database-unreachable"
            assert ready(ops_server).status_code == 503
        finally:
            admin.execute(f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")
    for _ in range(20):  # the pool may hand out a connection that died meanwhile once
        if ready(ops_server).status_code == 200:
            break
    assert ready(ops_server).status_code == 200


# -- metrics -----------------------------------------------------------------------------------


def sample(body: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text ``body`` (0 when absent)."""
    for line in body.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        head, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if head.split("{")[0] == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


def test_metrics_need_an_admin_token(ops_server: Server) -> None:
    assert_problem(httpx.get(ops_server.url + "/metrics"), 401, "unauthorized")
    with ops_server.client("reader") as reader:
        assert_problem(reader.get("/metrics"), 403, "scope-missing")
    with ops_server.client() as admin:
        response = admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


def test_metrics_move_with_requests_bulk_lines_refusals_and_peers(
    ops_server: Server, backend: Backend
) -> None:
    with ops_server.client() as admin:
        before = admin.get("/metrics").text
        for _ in range(3):
            assert httpx.get(ops_server.url + "/healthz").status_code == 200
        root = organisation()
        assert admin.post("/v1/organisations", json=root).status_code == 201
        good = [remember(person(root["id"])) for _ in range(2)]
        lines = [{"op": "upsert", "type": "members", "record": r} for r in good]
        lines.append({"op": "upsert", "type": "members", "record": {**good[0], "gender": "7"}})
        body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
        bulk = admin.post(
            "/v1/bulk", content=body, headers={"content-type": "application/x-ndjson"}
        )
        assert bulk.status_code == 200
        assert admin.get(f"/v1/members/{good[0]['id']}").status_code == 200
        hub = open_hub(backend.settings())
        try:
            slow = create_token(hub.db, ["records:read"], rate_limit=0.1)
            with hub.db.write() as conn:
                conn.execute(
                    text(
                        "INSERT INTO peers (hub_id, url, relation, pins, key_set, policy, "
                        "last_success_at, last_error, failures, applied, created_at) VALUES "
                        "('cd-child', 'http://127.0.0.1:9', 'child', '[]', '{}', '{}', :at, "
                        "'connection refused', 2, 0, :at)"
                    ),
                    {"at": datetime.now(UTC) - timedelta(hours=1)},
                )
        finally:
            hub.close()
        SECRETS.add(slow)
        with ops_server.client(slow) as limited:
            statuses = [
                limited.get(f"/v1/organisations/{root['id']}").status_code for _ in range(5)
            ]
        refused = statuses.count(429)
        assert refused >= 1
        after = admin.get("/metrics").text

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    healthz = {"route": "/healthz", "method": "GET", "status": "200"}
    assert delta("tongxin_http_requests_total", **healthz) == 3
    assert delta("tongxin_http_request_duration_seconds_count", route="/healthz") == 3
    assert delta("tongxin_bulk_lines_total", outcome="created") == 2
    assert delta("tongxin_bulk_lines_total", outcome="error") == 1
    assert delta("tongxin_rate_limited_requests_total") == refused
    assert delta("tongxin_http_requests_total", route="/v1/{collection}/{id}", status="200") >= 1
    assert sample(after, "tongxin_peer_replication_lag_seconds", peer="cd-child") >= 3600
    assert sample(after, "tongxin_peer_last_error", peer="cd-child") == 1
    assert sample(after, "tongxin_peer_consecutive_failures", peer="cd-child") == 2
    assert "tongxin_outbox_depth 0.0" in after
    # Route templates only: no record id, citizen ID or phone in any label.
    assert good[0]["id"] not in after
    assert all(r["citizenId"] not in after for r in good)
    engine = create_engine(backend.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM peers WHERE hub_id = 'cd-child'"))
    finally:
        engine.dispose()


def test_public_metrics_add_up_every_worker(backend: Backend, tmp_path: Path) -> None:
    with fresh_backend(backend.name, tmp_path / "workers") as db:
        srv = start(db, TONGXIN_METRICS_PUBLIC="true", TONGXIN_WORKERS="2")
        try:
            for _ in range(20):
                with httpx.Client() as fresh:  # a new connection each: both workers answer
                    assert fresh.get(srv.url + "/healthz").status_code == 200
            scraped = httpx.get(srv.url + "/metrics")
        finally:
            srv.stop()
    assert scraped.status_code == 200
    labels = {"route": "/healthz", "status": "200"}
    assert sample(scraped.text, "tongxin_http_requests_total", **labels) == 20


# -- upgrades ----------------------------------------------------------------------------------


def test_migrate_dry_run_then_migrate_and_newer_database_refused(
    backend: Backend, tmp_path: Path
) -> None:
    with fresh_backend(backend.name, tmp_path / "upgrade") as db:
        engine = create_engine(db.url)
        try:
            migrate(engine, "0006")
            dry = cli(db, "migrate", "--dry-run")
            assert dry.returncode == 0, dry.stderr
            versions = Path(__file__).parents[2] / "reference_server" / "migrations" / "versions"
            head = max(p.name[:4] for p in versions.glob("0*.py"))
            assert f"0006 -> {head}" in dry.stdout
            assert re.search(r"^0010\t\S", dry.stdout, re.MULTILINE)
            assert re.search(rf"^{head}\t\S", dry.stdout, re.MULTILINE)
            with engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
                    "0006"
                )
            done = cli(db, "migrate")
            assert done.returncode == 0, done.stderr
            assert "0 pending" in cli(db, "migrate", "--dry-run").stdout
            with engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
                conn.execute(text("UPDATE schema_software SET version = '9.9.9'"))
        finally:
            engine.dispose()
        served = cli(db, "serve", "--port", str(free_port()))
        assert served.returncode == 1
        assert "9.9.9" in served.stderr
        assert "0099" in served.stderr
        assert "拒绝启动" in served.stderr
        assert cli(db, "migrate").returncode == 1


# -- logs --------------------------------------------------------------------------------------


def test_request_ids_in_json_logs(backend: Backend, tmp_path: Path) -> None:
    with fresh_backend(backend.name, tmp_path / "logs") as db:
        srv = start(db, TONGXIN_LOG_FORMAT="json")
        srv.args.append("--access-log")
        srv.stop()
        srv.start()
        try:
            answered = httpx.get(srv.url + "/healthz", headers={"X-Request-Id": "drill-42"})
            made = httpx.get(srv.url + "/healthz")
        finally:
            srv.stop()
        assert answered.headers["x-request-id"] == "drill-42"
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
        assert srv.log is not None
        entries = [
            orjson.loads(line) for line in srv.log.read_text().splitlines() if line.startswith("{")
        ]
        ids = {e.get("requestId") for e in entries}
        assert {"drill-42", made.headers["x-request-id"]} <= ids


def test_no_citizen_id_phone_or_token_in_any_log(backend: Backend) -> None:
    """Runs last: the server logs of every test above (bulk, reads, errors, backups)."""
    logs = [p for d in LOG_DIRS for p in d.glob("serve-*.log")]
    assert logs
    assert len(SECRETS) > 100
    # Whole tokens only: a random hex request id may contain a run of digits.
    pattern = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|1[3-9]\d{9})(?![0-9A-Za-z])")
    for log in logs:
        content = log.read_text(errors="replace")
        leaked = [s for s in SECRETS if s in content]
        assert not leaked, f"{log}: {leaked[:3]}"
        assert not pattern.search(content), f"{log}: {pattern.search(content)}"
