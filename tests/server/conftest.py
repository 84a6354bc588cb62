"""Fixtures for the hub: real databases (SQLite and PostgreSQL) and real ``tongxin serve``
processes on free loopback ports.

Every hub test module runs once per backend. PostgreSQL tests use a fresh database per module
(dropped afterwards); when PostgreSQL is not reachable they fail with how to start it.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import insert

from tests import _logcheck
from tongxin.schemas import citizen_id_check
from tongxin.schemas._synthetic import SyntheticHub, member
from tongxin.server import Hub, Settings, create_token, open_hub
from tongxin.server._feedback import feedback_table
from tongxin.server._tables import peers

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_HINT = (
    "PostgreSQL is not reachable at 127.0.0.1:5432 (database test, user postgres, trust auth). "
    "Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
)
HUB_ID = "test-hub"
BACKENDS = ["sqlite", "postgresql"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_admin() -> Any:
    import psycopg

    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"{PG_HINT}\n({error})")


@dataclass
class Backend:
    """A database for one hub: its URL and the directory its key file lives in."""

    name: str
    url: str
    workdir: Path

    def settings(self, **overrides: Any) -> Settings:
        return Settings(
            database_url=self.url, key_file=self.workdir / "tongxin.key", hub_id=HUB_ID, **overrides
        )


def make_backend(name: str, workdir: Path) -> Iterator[Backend]:
    """A fresh, empty database of kind ``name``; dropped afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    if name == "sqlite":
        yield Backend(name, f"sqlite:///{workdir / 'tongxin.db'}", workdir)
        return
    db = f"tx_{secrets.token_hex(6)}"
    with _pg_admin() as conn:
        conn.execute(f"CREATE DATABASE {db}")
    try:
        yield Backend(name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}", workdir)
    finally:
        with _pg_admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    yield from make_backend(request.param, tmp_path_factory.mktemp(request.param))


@dataclass
class Server:
    """A running ``tongxin serve`` process."""

    backend: Backend
    port: int
    env: dict[str, str]
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log = _logcheck.watch(self.backend.workdir / f"serve-{self.port}.log")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "tongxin"),
                    "serve",
                    "--port",
                    str(self.port),
                    "--no-access-log",
                    *self.args,
                ],
                cwd=self.backend.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tongxin serve exited:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/.well-known/tongxin", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"tongxin serve did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, token: str = "admin", **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens.get(token, token)}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120, **kwargs)


def start_server(backend: Backend, *, extra_env: dict[str, str] | None = None) -> Server:
    """Start a hub on ``backend``. On SQLite it runs with zero configuration in its directory
    (./tongxin.db, ./tongxin.key); on PostgreSQL it gets --database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN_")}
    env.update(
        {"TONGXIN_HUB_ID": HUB_ID, "TONGXIN_RATE_LIMIT_PER_SECOND": "0", **(extra_env or {})}
    )
    args = [] if backend.name == "sqlite" else ["--database", backend.url]
    server = Server(backend, free_port(), env, args)
    server.start()
    hub = open_hub(backend.settings())
    try:
        server.tokens["admin"] = create_token(hub.db, ["admin"], name="tests")
        server.tokens["reader"] = create_token(hub.db, ["records:read"])
        server.tokens["writer"] = create_token(hub.db, ["records:read", "records:write"])
    finally:
        hub.close()
    _logcheck.remember(*server.tokens.values())
    return server


@pytest.fixture(scope="module")
def server(backend: Backend) -> Iterator[Server]:
    srv = start_server(backend)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def hub(backend: Backend) -> Iterator[Hub]:
    """The hub's database opened in the test process (for direct checks)."""
    opened = open_hub(backend.settings())
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


# -- record factories --------------------------------------------------------------------------

_SYN = SyntheticHub(hub_id=HUB_ID)
#: The numbers :func:`person` draws without a seed: one after another from a random start, far
#: above those :func:`numbered_person` and seeded draws use (their citizen IDs never meet).
_PEOPLE = count(3_000_000 + secrets.randbelow(1_000_000))


def uid(prefix: str) -> str:
    return f"{HUB_ID}:{prefix}{secrets.token_hex(5)}"


def organisation(parent: str | None = None, **fields: Any) -> dict[str, Any]:
    record = {
        "id": uid("o"),
        "name": "第一党支部",
        "type": "branch" if parent else "primary-committee",
    }
    if parent:
        record["parentId"] = parent
    return {**record, **fields}


def person(org: str, seed: int | None = None, **fields: Any) -> dict[str, Any]:
    """A valid member of ``org`` with a citizen ID of its own: drawn from ``seed``, or else the
    next of this process's sequence (the factory's numbers give distinct IDs below 7 million;
    random draws of a million would collide within a few hundred people, and the hub refuses
    a second person with the same citizen ID)."""
    rng = random.Random(seed if seed is not None else secrets.randbits(32))
    n = rng.randrange(10**6) if seed is not None else next(_PEOPLE)
    record = member(_SYN, n, rng)
    for key in ("version", "updatedAt"):
        record.pop(key)
    record.update(id=uid("m"), organisationId=org, **fields)
    _logcheck.remember(record.get("citizenId"), record.get("phone"))
    return record


def applicant(
    org: str, seed: int | None = None, somebody: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """A valid applicant (an activist) of ``org`` with a unique citizen ID (from ``seed``), or
    with the name, birth date, gender and citizen ID of the member ``somebody``."""
    somebody = somebody or person(org, seed)
    applied = f"{int(somebody['birthDate'][:4]) + 20}-03-01"
    record = {
        "id": uid("p"),
        "name": somebody["name"],
        "gender": somebody["gender"],
        "birthDate": somebody["birthDate"],
        "citizenId": somebody["citizenId"],
        "phone": "13800138000",
        "organisationId": org,
        "stage": "activist",
        "applicationDate": applied,
        "talkDate": applied.replace("-03-01", "-03-15"),
        "activistDate": applied.replace("-03-01", "-09-01"),
    }
    return {**record, **fields}


def numbered_person(org: str, n: int) -> dict[str, Any]:
    """Member ``n`` of ``org``: citizen IDs are distinct for distinct ``n`` (< 5,000,000)."""
    birth = date(1960, 1, 1) + timedelta(days=n % 5000)
    seq = n // 5000
    first17 = f"510107{birth:%Y%m%d}{seq:03d}"
    return person(
        org,
        seed=n,
        birthDate=birth.isoformat(),
        gender="1" if seq % 2 else "2",
        citizenId=first17 + citizen_id_check(first17),
    )


def known_peer(hub: Hub, hub_id: str, relation: str = "child") -> None:
    """Record ``hub_id`` as a peer of ``hub`` without keys (for replicas written directly)."""
    with hub.db.write() as conn:
        conn.execute(
            insert(peers).values(
                hub_id=hub_id,
                url="http://127.0.0.1:9",
                relation=relation,
                pins="[]",
                key_set="{}",
                policy=orjson.dumps({"types": None}).decode(),
                created_at=datetime.now(UTC),
            )
        )


def feedback_item(
    hub: Hub, organisation_id: str, created: datetime, replied_after: timedelta | None
) -> None:
    """Store an anonymous feedback item of ``organisation_id`` received at ``created`` (UTC)
    and answered ``replied_after`` later (open when None), as the counts see it."""
    with hub.db.write() as conn:
        conn.execute(
            insert(feedback_table).values(
                id=secrets.token_hex(16),
                organisation_id=organisation_id,
                receipt_hash=secrets.token_hex(32),
                body="统计口径",
                anonymous=True,
                status="open" if replied_after is None else "answered",
                reply=None if replied_after is None else "已答复",
                created_at=created,
                answer_due=created + timedelta(days=7),
                replied_at=None if replied_after is None else created + replied_after,
            )
        )


@pytest.fixture
def tree(api: httpx.Client) -> dict[str, str]:
    """A committee with two branches, created through the API."""
    root = organisation()
    assert api.post("/v1/organisations", json=root).status_code == 201
    ids = {"root": root["id"]}
    for name in ("a", "b"):
        branch = organisation(root["id"], name=f"第{name}支部")
        assert api.post("/v1/organisations", json=branch).status_code == 201
        ids[name] = branch["id"]
    return ids
