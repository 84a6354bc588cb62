"""``POST /v1/validate`` has its own size limit, a capped issue list with complete counts, bounded
memory, and a limited number of validations at a time."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import orjson
import pytest

from tongxin.server import create_token, open_hub
from tongxin.server.api import create_app

from .conftest import Backend, Server, organisation, person, start_server
from .test_feed_and_bulk import assert_problem

LIMIT = 2 * 1_048_576
CAP = 50
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def limited(backend: Backend) -> Iterator[Server]:
    srv = start_server(
        backend,
        extra_env={
            "TONGXIN_MAX_VALIDATE_BYTES": str(LIMIT),
            "TONGXIN_MAX_VALIDATE_ISSUES": str(CAP),
        },
    )
    try:
        yield srv
    finally:
        srv.stop()


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _package(members: int) -> bytes:
    root = organisation()
    base = {**person(root["id"]), "gender": "7"}
    records = [{**base, "id": f"test-hub:m{i}"} for i in range(members)]
    return orjson.dumps(
        {
            "standardVersion": "1.0",
            "publishedAt": "2026-01-01T00:00:00Z",
            "organisations": [root],
            "members": records,
        }
    )


def test_a_large_package_gets_a_capped_report_with_complete_counts(limited: Server) -> None:
    body = _package(5_000)
    assert 1_048_576 < len(body) < LIMIT
    pid = limited.proc.pid if limited.proc else 0
    before = _peak_rss_kib(pid) if sys.platform == "linux" else 0
    with limited.client("reader") as api:
        response = api.post("/v1/validate", content=body, headers=JSON)
    assert response.status_code == 200, response.text[:2000]
    report = response.json()
    assert report["valid"] is False
    assert report["truncated"] is True
    assert len(report["issues"]) == CAP
    assert report["counts"]["error"] >= 5_000
    assert len(response.content) < 100_000
    if sys.platform == "linux":
        # The whole report of 20,000 issues would be ~8 MB of JSON and several times that in
        # Python objects; kept at 50 issues the server's peak memory grows by far less.
        grown_mib = (_peak_rss_kib(pid) - before) / 1024
        assert grown_mib < 40, grown_mib


def test_a_small_report_is_complete_and_not_truncated(limited: Server) -> None:
    with limited.client("reader") as api:
        report = api.post("/v1/validate", content=_package(3), headers=JSON).json()
    assert report["truncated"] is False
    assert report["counts"]["error"] == len(report["issues"]) >= 3


def test_an_over_limit_package_is_refused_early(limited: Server) -> None:
    with limited.client("reader") as api:
        declared = api.post("/v1/validate", content=b" " * (LIMIT + 1), headers=JSON)
        body = assert_problem(declared, 413, "payload-too-large")
        assert body["maxBytes"] == LIMIT
        sent = 0

        def chunks() -> Iterator[bytes]:
            nonlocal sent
            while sent <= 3 * LIMIT:
                sent += 1 << 20
                yield b" " * (1 << 20)

        streamed = api.post("/v1/validate", content=chunks(), headers=JSON)
        assert_problem(streamed, 413, "payload-too-large")
        discovery = api.get("/.well-known/tongxin").json()
        assert discovery["limits"]["maxValidateBytes"] == LIMIT
        assert discovery["limits"]["maxValidateIssues"] == CAP


def test_the_default_limit_is_16_mib() -> None:
    from tongxin.server import Settings

    assert Settings.model_construct().max_validate_bytes == 16 * 1_048_576


def test_validations_beyond_the_concurrency_wait_or_get_429(backend: Backend) -> None:
    hub = open_hub(backend.settings(validate_wait_seconds=0, validate_concurrency=1))
    try:
        token = create_token(hub.db, ["records:read"])
        app = create_app(hub=hub)

        async def run() -> tuple[httpx.Response, httpx.Response]:
            gate = anyio.Semaphore(1)
            app.state.validate_gate = gate
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {token}", **JSON}
            async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
                async with gate:  # another validation holds the only slot
                    busy = await client.post("/v1/validate", content=b"{}", headers=headers)
                free = await client.post("/v1/validate", content=b"{}", headers=headers)
            return busy, free

        busy, free = anyio.run(run)
    finally:
        hub.close()
    body = assert_problem(busy, 429, "validation-busy")
    assert busy.headers["retry-after"] == "5"
    assert "校验" in body["detailZh"]
    assert free.status_code == 200, free.text
