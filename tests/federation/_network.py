"""Hub processes on loopback for the network tests: a :class:`Node` is one real ``tongxin
serve`` with its own directory and SQLite database, optionally behind a fault-injecting proxy
through which its peers reach it."""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests import _logcheck
from tests.federation._proxy import FaultProxy
from tests.server.conftest import free_port, numbered_person
from tongxin.federation import china_today

TONGXIN = str(Path(sys.executable).parent / "tongxin")


@dataclass
class Node:
    """One hub: its directory, database, port and process."""

    hub_id: str
    workdir: Path
    sync_interval: float = 0
    #: Put a :class:`FaultProxy` in front: peers then reach this hub through it.
    proxied: bool = False
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    token: str = ""
    proxy: FaultProxy | None = None
    key_refresh: float = 600
    #: Another database than the SQLite file in ``workdir`` (a PostgreSQL URL).
    database: str | None = None

    @property
    def db(self) -> str:
        return self.database or f"sqlite:///{self.workdir / 'hub.db'}"

    @property
    def key_store(self) -> Path:
        """The hub's signing key store (next to the SQLite file, else in its directory)."""
        return self.workdir / ("tongxin.keys.json" if self.database else "hub.keys.json")

    @property
    def db_args(self) -> list[str]:
        return ["--database", self.db]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def public(self) -> str:
        """The URL peers use: through the proxy when there is one."""
        return self.proxy.url if self.proxy is not None else self.url

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN_")}
        env.update(
            TONGXIN_RATE_LIMIT_PER_SECOND="0",
            TONGXIN_SYNC_INTERVAL_SECONDS=str(self.sync_interval),
            TONGXIN_KEY_REFRESH_SECONDS=str(self.key_refresh),
        )
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [TONGXIN, *args, "--database", self.db],
            env=self.env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        _logcheck.keep(f"{self.hub_id}-{args[0]}", done.stderr)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def init(self) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.proxied and self.proxy is None:
            self.proxy = FaultProxy(self.url)
        self.cli("init", "--hub-id", self.hub_id, "--name", f"hub {self.hub_id}")
        self.token = self.cli("token", "create", "--scope", "admin").stdout.strip()
        _logcheck.remember(self.token)
        return self.cli("keys", "show").stdout.splitlines()[0].strip()

    def start(self) -> None:
        with _logcheck.watch(self.workdir / "serve.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [TONGXIN, "serve", "--port", str(self.port), "--no-access-log", *self.db_args],
                env=self.env(),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.workdir / "serve.log").read_text()
            try:
                if httpx.get(self.url + "/.well-known/tongxin/keys", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("hub did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, open transactions are lost."""
        self.stop(signal.SIGKILL)

    def close(self) -> None:
        self.stop()
        if self.proxy is not None:
            self.proxy.close()

    def fingerprint(self) -> str:
        return self.cli("keys", "show").stdout.splitlines()[0].strip()

    def peer(self, other: Node, relation: str, *via: str) -> None:
        """Trust ``other`` (by its fingerprint, or ``via`` a parent's certificate)."""
        how = ["--via", via[0]] if via else ["--fingerprint", other.fingerprint()]
        self.cli("peer", "add", other.public, "--relation", relation, *how)

    def rows(self) -> dict[tuple[str, str], tuple[int, str, bool]]:
        """Every record row straight from the database: (type, id) → (version, owner, deleted)."""
        found = self._read("SELECT collection, id, version, owner, deleted FROM records")
        return {(c, i): (v, o, bool(d)) for c, i, v, o, d in found}

    def pending(self) -> list[str]:
        """Transfers whose latest message from this hub has not reached the peer yet (and is
        still retried: not refused for good by the peer)."""
        found = self._read(
            "SELECT transfer_id FROM transfer_letters WHERE NOT delivered AND refused IS NULL AND "
            "((role = 'sender' AND state = 'issued') OR "
            "(role = 'receiver' AND receipt IS NOT NULL))"
        )
        return [t for (t,) in found]

    def applied(self, peer: str) -> int:
        """Changes applied from ``peer`` so far (``peer list``'s count), from the database."""
        ((applied,),) = self._read("SELECT applied FROM peers WHERE hub_id = ?", peer)
        return int(applied)

    def letters(self) -> dict[str, tuple[str, bool]]:
        """Electronic transfers on this hub: id → (state, delivered)."""
        found = self._read("SELECT transfer_id, state, delivered FROM transfer_letters")
        return {t: (s, bool(d)) for t, s, d in found}

    def _read(self, sql: str, *params: str) -> list[Any]:
        """Rows of ``sql`` straight from the hub's database, opened read-only and closed."""
        if self.database is not None:
            import psycopg

            url = self.database.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(url, autocommit=True) as pg:
                return pg.execute(sql.replace("?", "%s"), params).fetchall()
        conn = sqlite3.connect(f"file:{self.workdir / 'hub.db'}?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )


def city_and_county(city: Node, county: Node) -> Iterator[tuple[Node, Node]]:
    """Start ``city`` and ``county`` as each other's parent and child, for a fixture to
    ``yield from``; both stop afterwards."""
    try:
        for node in (city, county):
            node.init()
            node.start()
        city.peer(county, "child")
        county.peer(city, "parent")
        yield city, county
    finally:
        for node in (city, county):
            node.stop()


def wait_for(what: str, check: Any, timeout: float = 30) -> Any:
    """Poll ``check()`` until it returns a truthy value; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def transfer_body(member_id: str, org_from: str, org_to: str) -> dict[str, Any]:
    """A new transfer issued today by the member's hub."""
    hub_id = member_id.split(":", 1)[0]
    return {
        "id": f"{hub_id}:t{secrets.token_hex(4)}",
        "memberId": member_id,
        "fromOrganisationId": org_from,
        "toOrganisationId": org_to,
        "reason": "work-unit-change",
        "duesPaidUntil": "2026-10",
        "issuedDate": china_today().isoformat(),
        "validDays": 90,
        "state": "issued",
        "letterNumber": f"武组转〔2026〕{secrets.randbelow(10_000):04d}",
    }


def new_org(hub_id: str) -> dict[str, Any]:
    return {"id": f"{hub_id}:o{secrets.token_hex(4)}", "name": "第一党支部", "type": "branch"}


def new_member(hub_id: str, org: str, n: int) -> dict[str, Any]:
    record = numbered_person(org, n)
    record["id"] = f"{hub_id}:m{secrets.token_hex(4)}"
    return record


def seed(node: Node, members: int, base: int) -> tuple[str, list[str]]:
    with node.api() as api:
        org = new_org(node.hub_id)
        assert api.post("/v1/organisations", json=org).status_code == 201, api
        ids = []
        for n in range(members):
            record = new_member(node.hub_id, org["id"], base + n)
            response = api.post("/v1/members", json=record)
            assert response.status_code == 201, response.text
            ids.append(record["id"])
    return org["id"], ids
