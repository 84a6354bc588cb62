"""``tongxin keys rotate-data-key``: a new data key while the hub serves, killed halfway and
resumed; afterwards only the new key is in the key file and every sealed value opens with it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

from tongxin.server import open_hub
from tongxin.server._crypto import KeyRing
from tongxin.server._letters_at_rest import open_letter, seal_letter
from tongxin.server._tables import refused_changes, transfer_letters

from .conftest import Backend, organisation, person
from .test_operations import cli, destroy, fresh_backend, mode, pages, remember, start
from .test_records import assert_problem

LETTER = '{"letter": "组织关系介绍信 / letter of introduction"}'


def _seal_letter_and_refusal(backend: Backend) -> dict[str, Any]:
    """A stored transfer (member and letter sealed) and a refused change, with the old key."""
    hub = open_hub(backend.settings(), migrate=False)
    member = remember(person("org-x"))
    now = datetime.now(UTC)
    try:
        with hub.db.write() as conn:
            conn.execute(
                insert(transfer_letters).values(
                    transfer_id="tr-rotate-1",
                    role="sender",
                    peer_hub="hub-other",
                    member_id=member["id"],
                    letter=seal_letter(hub.cipher, "tr-rotate-1", LETTER),
                    letter_digest="sha-256:x",
                    state="pending",
                    history="[]",
                    member_sealed=hub.cipher.seal("tr-rotate-1", member),
                    member_version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            conn.execute(
                insert(refused_changes).values(
                    peer_hub="hub-other",
                    collection="members",
                    record_id=member["id"],
                    version=1,
                    owner="hub-other",
                    reason="not-owner",
                    at=now,
                    sealed=hub.cipher.seal(member["id"], member),
                )
            )
    finally:
        hub.close()
    return member


def _check_letter_and_refusal(backend: Backend, member: dict[str, Any]) -> None:
    hub = open_hub(backend.settings(), migrate=False)
    try:
        with hub.db.read() as conn:
            row = conn.execute(select(transfer_letters)).one()
            refused = conn.execute(select(refused_changes)).one()
        assert open_letter(hub.cipher, row.transfer_id, row.letter) == LETTER
        assert hub.cipher.open(row.transfer_id, row.member_sealed) == member
        assert hub.cipher.open(refused.record_id, refused.sealed) == member
    finally:
        hub.close()


def _ring(backend: Backend) -> KeyRing:
    return KeyRing.parse((backend.workdir / "tongxin.key").read_bytes())


def _read_all(api: httpx.Client, expected: dict[str, dict[str, Any]]) -> None:
    members = pages(api, "/v1/members?include=sensitive&limit=1000")
    assert {m["id"] for m in members} == set(expected)
    for member in members:
        assert member["citizenId"] == expected[member["id"]]["citizenId"]
        assert member.get("phone") == expected[member["id"]].get("phone")


def test_rotation_killed_halfway_resumes_while_the_hub_serves(
    backend: Backend, tmp_path: Path
) -> None:
    with fresh_backend(backend.name, tmp_path / "rotate") as hub_dir:
        assert cli(hub_dir, "init").returncode == 0
        first = _ring(hub_dir)
        assert first.is_single
        srv = start(hub_dir)
        try:
            with srv.client() as api:
                root = organisation()
                assert api.post("/v1/organisations", json=root).status_code == 201
                expected: dict[str, dict[str, Any]] = {}
                for _ in range(12):
                    record = remember(person(root["id"]))
                    assert api.post("/v1/members", json=record).status_code == 201
                    expected[record["id"]] = record
                member = _seal_letter_and_refusal(hub_dir)

                # Killed (SIGKILL) after three batches of two: both keys are in the key file.
                killed = cli(
                    hub_dir,
                    "keys",
                    "rotate-data-key",
                    "--batch-size",
                    "2",
                    "--crash-after-batches",
                    "3",
                )
                assert killed.returncode == -9, killed.stderr
                halfway = _ring(hub_dir)
                assert len(halfway.data) == 2
                assert halfway.data[1] == first.current
                assert mode(hub_dir.workdir / "tongxin.key") == 0o600

                # The hub keeps serving both keys: reads, new members, changed members.
                _read_all(api, expected)
                for _ in range(3):
                    record = remember(person(root["id"]))
                    assert api.post("/v1/members", json=record).status_code == 201
                    expected[record["id"]] = record
                changed = next(iter(expected))
                expected[changed] = {**expected[changed], "phone": "13900001111"}
                etag = api.get(f"/v1/members/{changed}").headers["etag"]
                put = api.put(
                    f"/v1/members/{changed}", json=expected[changed], headers={"if-match": etag}
                )
                assert put.status_code == 200, put.text

                # Resumed while writes and reads go on.
                outcome: dict[str, Any] = {}

                def resume() -> None:
                    outcome["run"] = cli(
                        hub_dir,
                        "keys",
                        "rotate-data-key",
                        "--batch-size",
                        "2",
                        "--settle-seconds",
                        "1",
                    )

                runner = threading.Thread(target=resume)
                runner.start()
                while runner.is_alive():
                    record = remember(person(root["id"]))
                    assert api.post("/v1/members", json=record).status_code == 201
                    expected[record["id"]] = record
                    got = api.get(f"/v1/members/{record['id']}?include=sensitive")
                    assert got.json()["citizenId"] == record["citizenId"]
                runner.join()
                run = outcome["run"]
                assert run.returncode == 0, run.stderr
                assert "resumed" in run.stderr

                done = _ring(hub_dir)
                assert done.data == (halfway.current,)
                assert done.key_id == first.key_id
                assert first.current not in done.data
                assert mode(hub_dir.workdir / "tongxin.key") == 0o600
                # The serving hub has followed the key file: it reads and writes with the new key.
                _read_all(api, expected)
                twin = {**expected[changed], "id": person(root["id"])["id"]}
                assert_problem(api.post("/v1/members", json=twin), 409, "duplicate-citizen-id")
                audit = [a["action"] for a in pages(api, "/v1/audit?limit=1000")]
                assert audit.count("datakey.start") == 1
                assert audit.count("datakey.done") == 1
                admin = srv.tokens["admin"]
        finally:
            srv.stop()

        # Only the new key: a restarted hub opens everything, citizen IDs stay unique.
        _check_letter_and_refusal(hub_dir, member)
        again = start(hub_dir)
        try:
            with again.client(admin) as api:
                _read_all(api, expected)
                twin = {**expected[changed], "id": person(root["id"])["id"]}
                assert_problem(api.post("/v1/members", json=twin), 409, "duplicate-citizen-id")
        finally:
            again.stop()

        # A backup made after the rotation restores with the new key.
        assert cli(hub_dir, "backup", "--out", "after.txbk").returncode == 0
        destroy(hub_dir)
        restored = cli(hub_dir, "restore", "after.txbk")
        assert restored.returncode == 0, restored.stderr
        assert _ring(hub_dir) == done
        _check_letter_and_refusal(hub_dir, member)
        back = start(hub_dir)
        try:
            with back.client(admin) as api:
                _read_all(api, expected)
        finally:
            back.stop()


def test_a_second_rotation_and_a_secret_key_setting(backend: Backend, tmp_path: Path) -> None:
    """Rotating twice keeps the hash key; a hub keyed by TONGXIN_SECRET_KEY cannot rotate."""
    with fresh_backend(backend.name, tmp_path / "twice") as hub_dir:
        assert cli(hub_dir, "init").returncode == 0
        first = _ring(hub_dir)
        for _ in range(2):
            run = cli(hub_dir, "keys", "rotate-data-key", "--settle-seconds", "0")
            assert run.returncode == 0, run.stderr
        ring = _ring(hub_dir)
        assert len(ring.data) == 1
        assert ring.current != first.current
        assert (ring.mac_key, ring.key_id) == (first.mac_key, first.key_id)
        hub = open_hub(hub_dir.settings(), migrate=False)
        hub.close()
