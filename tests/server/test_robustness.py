"""Failure is normal: parallel creates of one person, and a server killed mid-bulk."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import psycopg
from sqlalchemy import func, select

from tongxin.server import open_hub
from tongxin.server._tables import records

from .conftest import Backend, Server, numbered_person, organisation, person, start_server, uid
from .test_feed_and_bulk import results


def test_sixteen_parallel_creates_of_one_person_make_one_record(
    server: Server, tree: dict[str, str]
) -> None:
    base = person(tree["a"])
    copies = [{**base, "id": uid("m")} for _ in range(16)]
    barrier = threading.Barrier(16)

    def create(record: dict[str, object]) -> int:
        with server.client() as client:
            barrier.wait()
            return client.post("/v1/members", json=record).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = sorted(pool.map(create, copies))
    assert statuses == [201] + [409] * 15
    with server.client() as client:
        found = [c["id"] for c in copies if client.get(f"/v1/members/{c['id']}").status_code == 200]
    assert len(found) == 1


def _bulk_lines(branch: str, n: int, first: int = 0) -> bytes:
    return b"".join(
        orjson.dumps({"op": "upsert", "type": "members", "record": numbered_person(branch, i)})
        + b"\n"
        for i in range(first, first + n)
    )


def _count(backend: Backend) -> int:
    hub = open_hub(backend.settings())
    try:
        with hub.db.read() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(records)
                    .where(records.c.collection == "members")
                ).scalar_one()
            )
    finally:
        hub.close()


def _chunks(body: bytes, size: int = 1 << 16) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def _cut_off(srv: Server, backend: Backend, body: bytes, key: str, start: int) -> int:
    """Send the first 2,000 lines of ``body`` with ``key`` and SIGKILL the hub once 1,000 of
    them (two batches of 500) have committed; the number of records written. The rest of the
    body is never sent, so however fast the hub is, it cannot finish before it is killed."""
    errors: list[BaseException] = []
    killed = threading.Event()
    sent = b"".join(body.splitlines(keepends=True)[:2000])

    def held() -> Iterator[bytes]:
        """Part of the body, then the request held open until the hub is killed."""
        yield from _chunks(sent)
        killed.wait(120)

    def send() -> None:
        try:
            with srv.client() as api:
                api.post(
                    "/v1/bulk",
                    content=held(),
                    headers={"content-type": "application/x-ndjson", "Idempotency-Key": key},
                )
        except httpx.TransportError as error:
            errors.append(error)

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 120
    while _count(backend) - start < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    srv.kill()
    killed.set()
    sender.join(30)
    assert errors, "the request should have been cut off"
    _wait_for_sessions_to_end(backend)
    return _count(backend) - start


def _wait_for_sessions_to_end(backend: Backend) -> None:
    """On PostgreSQL the killed hub's session ends only when the server notices the dead
    connection (its last batch then commits or rolls back). A restart within milliseconds would
    read the key's state before that batch's fate is known; a real restart takes longer."""
    if backend.name != "postgresql":
        return
    url = backend.url.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            others = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            if others is not None and others[0] == 0:
                return
            time.sleep(0.05)


def _tree(srv: Server) -> str:
    with srv.client() as api:
        root = organisation()
        api.post("/v1/organisations", json=root)
        branch = organisation(root["id"])
        api.post("/v1/organisations", json=branch)
    return str(branch["id"])


def test_killed_mid_bulk_loses_nothing_acknowledged_and_duplicates_nothing(
    backend: Backend, tmp_path_factory: object
) -> None:
    srv = start_server(backend, extra_env={"TONGXIN_BULK_BATCH_LINES": "500"})
    try:
        branch = _tree(srv)
        start = _count(backend)
        n = 12_000
        body = _bulk_lines(branch, n)
        key = uid("bulk")
        written = _cut_off(srv, backend, body, key, start)
        assert 0 < written < n, written
        srv.start()
        with srv.client() as api:
            retry = api.post(
                "/v1/bulk",
                content=body,
                headers={"content-type": "application/x-ndjson", "Idempotency-Key": key},
            )
            out = results(retry)
            assert len(out) == n
            assert {r["status"] for r in out} == {201}, {
                (r["status"], r.get("code")) for r in out if r["status"] != 201
            }
            assert retry.headers.get("idempotent-replayed") == "true"
            assert _count(backend) - start == n
            resent = results(
                api.post("/v1/bulk", content=body, headers={"content-type": "application/x-ndjson"})
            )
            assert {r["outcome"] for r in resent} == {"unchanged"}
            assert {r["version"] for r in resent} == {1}
        assert _count(backend) - start == n
    finally:
        srv.stop()


def test_a_retry_after_a_crash_with_another_body_is_refused(backend: Backend) -> None:
    srv = start_server(backend, extra_env={"TONGXIN_BULK_BATCH_LINES": "500"})
    try:
        branch = _tree(srv)
        start = _count(backend)
        n = 12_000
        body = _bulk_lines(branch, n, first=100_000)  # people of their own, apart from above
        key = uid("bulk")
        written = _cut_off(srv, backend, body, key, start)
        assert 1000 <= written < n, written
        srv.start()
        headers = {"content-type": "application/x-ndjson", "Idempotency-Key": key}
        first_batch = b"".join(body.splitlines(keepends=True)[:500])
        other = _bulk_lines(branch, 1500, first=200_000)
        with srv.client() as api:
            # shorter than what the first request committed, or other lines: not the same body
            for different in (first_batch, other, first_batch + other):
                refused = api.post("/v1/bulk", content=different, headers=headers)
                assert refused.status_code == 422, refused.text[:300]
                assert refused.json()["code"] == "idempotency-key-reused"
                assert _count(backend) - start == written
            done = results(api.post("/v1/bulk", content=body, headers=headers))
            assert len(done) == n
            assert {r["status"] for r in done} == {201}
            assert _count(backend) - start == n
            again = api.post("/v1/bulk", content=first_batch, headers=headers)
            assert again.status_code == 422
    finally:
        srv.stop()
