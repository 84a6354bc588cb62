"""Failure is normal (``spec/federation.md`` §6): three real hub processes — a city and two
counties, each with its own database, every hub reached through a fault-injecting proxy —
with background sync and redelivery on. Hubs are killed with SIGKILL in the middle of a sync
and of a transfer; messages are lost, delivered twice, replayed, delivered late or out of
order, tampered with, and signed with a rotated or revoked key. Each case ends in exactly the
state of the same run without the fault: every record present once, at its latest version,
with exactly one owner."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest

from tests.federation._network import Node, new_member, seed, transfer_body, wait_for
from tests.federation._proxy import Fault
from tongxin.federation import KeyStore, SigningAuth

ROUND = 0.3
LETTERS = "/v1/federation/letters"
RECEIPTS = "/v1/federation/receipts"
FEED = "/v1/changes"

Outcome = dict[str, Any]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Node]]:
    root = tmp_path_factory.mktemp("faults")
    nodes = {
        name: Node(hub_id, root / name, sync_interval=ROUND, proxied=True, key_refresh=1)
        for name, hub_id in (("city", "cd-city"), ("a", "cd-wuhou"), ("b", "cd-jinjiang"))
    }
    for node in nodes.values():
        node.init()
        node.start()
    try:
        city, a, b = nodes["city"], nodes["a"], nodes["b"]
        for child in (a, b):
            city.peer(child, "child")
            child.peer(city, "parent")
        a.peer(b, "sibling", "cd-city")
        b.peer(a, "sibling", "cd-city")
        yield nodes
    finally:
        for node in nodes.values():
            node.close()


# -- what "the same end state" means -----------------------------------------------------------
def check_invariants(net: dict[str, Node]) -> None:
    """Every record has exactly one owner; no copy is ahead of its owner; the city (which pulls
    both counties) holds every county record at the owner's latest version."""
    rows = {name: node.rows() for name, node in net.items()}
    hub_of = {node.hub_id: name for name, node in net.items()}
    keys = set().union(*rows.values())
    for key in keys:
        owners = [n for n, r in rows.items() if key in r and r[key][1] == net[n].hub_id]
        assert len(owners) == 1, f"{key} is owned by {owners}"
        owned = rows[owners[0]][key]
        for name, held in rows.items():
            if key in held:
                assert held[key][0] <= owned[0], f"{name} holds {key} ahead of its owner"
                assert hub_of[held[key][1]] == owners[0] or held[key][0] < owned[0]
        if owners[0] != "city":
            assert rows["city"].get(key) == owned, f"the city lags on {key}"


def city_caught_up(net: dict[str, Node]) -> bool:
    city = net["city"].rows()
    for name in ("a", "b"):
        hub_id = net[name].hub_id
        for key, row in net[name].rows().items():
            if row[1] == hub_id and city.get(key) != row:
                return False
    return True


def settle(net: dict[str, Node], timeout: float = 60) -> None:
    """Wait until every message was delivered and the city has caught up, then check."""

    def quiet() -> bool:
        return not any(node.pending() for node in net.values()) and city_caught_up(net)

    wait_for("deliveries and the city's sync", quiet, timeout)
    check_invariants(net)


def outcome(net: dict[str, Node], ids: dict[str, str]) -> Outcome:
    """The end state of one transfer with its ids replaced by their roles, so that runs with
    and without a fault compare equal."""
    names = {node.hub_id: name for name, node in net.items()}
    out: Outcome = {}
    for name, node in net.items():
        rows = node.rows()
        letters = node.letters()
        for role, rid in ids.items():
            for (collection, key), (version, owner, deleted) in rows.items():
                if key == rid:
                    out[f"{name}/{collection}/{role}"] = (version, names[owner], deleted)
            if role == "transfer" and rid in letters:
                out[f"{name}/letter"] = letters[rid]
    with net["b"].api() as api:
        member = api.get(f"/v1/members/{ids['member']}")
    out["member at b"] = member.status_code
    return out


# -- one transfer, with an optional fault ------------------------------------------------------
Step = Callable[[dict[str, Node], dict[str, str]], None]


def transfer(
    net: dict[str, Node],
    *,
    before_issue: Step | None = None,
    before_decide: Step | None = None,
    decision: str = "accept",
) -> dict[str, str]:
    """Seed a member at A, issue its transfer to B, let B decide; returns the ids."""
    a, b = net["a"], net["b"]
    org_a, (member_id,) = seed(a, 1, 5000 + len(a.rows()))
    org_b, _ = seed(b, 0, 0)
    body = transfer_body(member_id, org_a, org_b)
    ids = {"member": member_id, "transfer": body["id"], "org_a": org_a, "org_b": org_b}
    if before_issue:
        before_issue(net, ids)
    with a.api() as api:
        assert api.post("/v1/transfers", json=body).status_code == 201
    wait_for("the letter at B", lambda: body["id"] in b.letters())
    if before_decide:
        before_decide(net, ids)
    if decision:
        with b.api() as api:
            response = api.post(f"/v1/transfers/{body['id']}/{decision}")
            assert response.status_code == 200, response.text
    return ids


def finished(net: dict[str, Node], ids: dict[str, str]) -> Outcome:
    tid = ids["transfer"]

    def delivered() -> bool:
        a, b = net["a"].letters().get(tid), net["b"].letters().get(tid)
        settled = tid not in net["a"].pending() + net["b"].pending()
        return bool(a and b and a[0] == b[0] != "issued" and settled)

    wait_for("both hubs to agree on the transfer", delivered, 60)
    settle(net)
    _same_records(net, ids)
    return outcome(net, ids)


def _same_records(net: dict[str, Node], ids: dict[str, str]) -> None:
    """Both counties hold the member and the transfer record as the same document; the city
    holds the same minus what the upward policy drops."""
    for path in (f"/v1/members/{ids['member']}", f"/v1/transfers/{ids['transfer']}"):
        bodies = {}
        for name, node in net.items():
            with node.api() as api:
                response = api.get(path, params={"include": "sensitive"})
            if response.status_code != 404:  # a withdrawn member never reached B
                assert response.headers["etag"] == f'"{response.json()["version"]}"'
                bodies[name] = response.json()
        assert bodies.get("b", bodies["a"]) == bodies["a"]
        assert bodies["city"] == {k: v for k, v in bodies["a"].items() if k in bodies["city"]}


@pytest.fixture(scope="module")
def fault_free(net: dict[str, Node]) -> Outcome:
    """The reference: the same transfer with no fault."""
    done = finished(net, transfer(net))
    assert done["b/members/member"] == (2, "b", False)
    assert done["a/members/member"] == (2, "b", False)
    assert done["city/members/member"] == (2, "b", False)
    assert done["a/letter"] == done["b/letter"] == ("accepted", True)
    return done


def _on(node: str, fault: Fault) -> Step:
    def step(net: dict[str, Node], ids: dict[str, str]) -> None:
        proxy = net[node].proxy
        assert proxy is not None
        proxy.arm(fault)

    return step


MESSAGE_FAULTS = {
    "letter lost": ("issue", "b", Fault("POST", LETTERS, "lose-request")),
    "letter delivered, answer lost": ("issue", "b", Fault("POST", LETTERS, "lose-response")),
    "letter delivered twice": ("issue", "b", Fault("POST", LETTERS, "duplicate")),
    "letter replayed later": ("issue", "b", Fault("POST", LETTERS, "replay-later", seconds=1)),
    "letter late": ("issue", "b", Fault("POST", LETTERS, "delay", seconds=2)),
    "letter tampered": ("issue", "b", Fault("POST", LETTERS, "tamper")),
    "letter answer tampered": ("issue", "b", Fault("POST", LETTERS, "tamper-response")),
    "receipt lost twice": ("decide", "a", Fault("POST", RECEIPTS, "lose-request", times=2)),
    "receipt delivered, answer lost": ("decide", "a", Fault("POST", RECEIPTS, "lose-response")),
    "receipt delivered twice": ("decide", "a", Fault("POST", RECEIPTS, "duplicate")),
    "receipt replayed later": ("decide", "a", Fault("POST", RECEIPTS, "replay-later", seconds=1)),
    "receipt tampered": ("decide", "a", Fault("POST", RECEIPTS, "tamper")),
}


@pytest.mark.parametrize("case", list(MESSAGE_FAULTS))
def test_a_faulty_message_ends_as_the_fault_free_transfer(
    net: dict[str, Node], fault_free: Outcome, case: str
) -> None:
    when, node, fault = MESSAGE_FAULTS[case]
    fault = Fault(fault.method, fault.path, fault.action, fault.times, fault.seconds)
    step = _on(node, fault)
    ids = transfer(net, **{"before_issue" if when == "issue" else "before_decide": step})
    assert finished(net, ids) == fault_free
    assert fault.hits == fault.times
    # a replayed copy is refused by the replay cache, never applied
    if fault.action in ("duplicate", "replay-later"):
        wait_for("the replayed copy", lambda: fault.echoes)
        assert fault.echoes == [401]


def test_receiver_killed_after_accepting_sends_its_receipt_after_restart(
    net: dict[str, Node], fault_free: Outcome
) -> None:
    a, b = net["a"], net["b"]
    assert a.proxy is not None
    with a.proxy.fault(Fault("POST", RECEIPTS, "lose-request", times=10_000)):
        ids = transfer(net)
        wait_for(
            "a failed receipt delivery", lambda: b.letters()[ids["transfer"]] == ("accepted", False)
        )
        b.kill()
    b.start()
    assert finished(net, ids) == fault_free


def test_sender_killed_while_delivering_its_letter_redelivers_after_restart(
    net: dict[str, Node], fault_free: Outcome
) -> None:
    a, b = net["a"], net["b"]
    with _late_letter(net, 7000) as (ids, _):
        a.kill()  # the letter is still on the wire
    a.start()
    wait_for("the letter at B", lambda: ids["transfer"] in b.letters())
    with b.api() as api:
        assert api.post(f"/v1/transfers/{ids['transfer']}/accept").status_code == 200
    assert finished(net, ids) == fault_free


@contextmanager
def _late_letter(net: dict[str, Node], base: int) -> Iterator[tuple[dict[str, str], Fault]]:
    """Issue a transfer at A whose letter the wire holds for 3 s; inside the block the letter
    is signed and stored at A but not yet at B."""
    a, b = net["a"], net["b"]
    assert b.proxy is not None
    org_a, (member_id,) = seed(a, 1, base)
    org_b, _ = seed(b, 0, 0)
    body = transfer_body(member_id, org_a, org_b)
    with b.proxy.fault(Fault("POST", LETTERS, "delay", seconds=3)) as late:
        sending = threading.Thread(target=_post_quietly, args=(a, body))
        sending.start()
        wait_for("the signed letter at A", lambda: body["id"] in a.letters())
        yield {"member": member_id, "transfer": body["id"], "org_a": org_a, "org_b": org_b}, late
        sending.join()


def _post_quietly(node: Node, body: dict[str, Any]) -> None:
    try:
        with node.api() as api:
            api.post("/v1/transfers", json=body)
    except httpx.HTTPError:
        pass  # the hub was killed while answering


def test_a_transfer_written_in_bulk_gets_its_letter_from_the_outbox(
    net: dict[str, Node], fault_free: Outcome
) -> None:
    a, b = net["a"], net["b"]
    org_a, (member_id,) = seed(a, 1, 7500)
    org_b, _ = seed(b, 0, 0)
    body = transfer_body(member_id, org_a, org_b)
    _bulk(a, [("transfers", body)])
    wait_for("the letter at B", lambda: body["id"] in b.letters())
    with b.api() as api:
        assert api.post(f"/v1/transfers/{body['id']}/accept").status_code == 200
    ids = {"member": member_id, "transfer": body["id"], "org_a": org_a, "org_b": org_b}
    assert finished(net, ids) == fault_free


def _bulk(node: Node, records: list[tuple[str, dict[str, Any]]]) -> None:
    """Write ``records`` through ``POST /v1/bulk``; every line must succeed."""
    lines = b"".join(
        orjson.dumps({"op": "upsert", "type": kind, "record": record}) + b"\n"
        for kind, record in records
    )
    with node.api() as api:
        response = api.post(
            "/v1/bulk", content=lines, headers={"content-type": "application/x-ndjson"}
        )
    assert response.status_code == 200, response.text
    results = [orjson.loads(line) for line in response.content.splitlines()]
    assert len(results) == len(records)
    assert all("error" not in r for r in results), results[:3]


# -- withdrawal --------------------------------------------------------------------------------
def _withdraw(node: Node, transfer_id: str) -> httpx.Response:
    with node.api() as api:
        return api.post(f"/v1/transfers/{transfer_id}/withdraw", json={"reason": "填写有误"})


@pytest.fixture(scope="module")
def withdrawn(net: dict[str, Node]) -> Outcome:
    """The reference withdrawal: issued, withdrawn before B decides."""
    ids = transfer(net, decision="")
    response = _withdraw(net["a"], ids["transfer"])
    assert response.status_code == 200, response.text
    assert [s["state"] for s in response.json()["history"]] == ["issued", "withdrawn"]
    with net["b"].api() as api:
        refused = api.post(f"/v1/transfers/{ids['transfer']}/accept")
        assert (refused.status_code, refused.json()["code"]) == (409, "transfer-final")
        history = api.get(f"/v1/transfers/{ids['transfer']}/history").json()
        assert history["state"] == "withdrawn"
        assert history["withdrawal"]["withdrawal"]["reason"] == "填写有误"
    assert _withdraw(net["a"], ids["transfer"]).json() == response.json()  # idempotent
    done = finished(net, ids)
    assert done["a/members/member"] == (1, "a", False)
    assert "b/members/member" not in done
    assert done["a/transfers/transfer"] == (2, "a", False)
    assert done["b/transfers/transfer"] == (2, "a", False)
    return done


def test_a_withdrawal_overtaking_its_letter_ends_withdrawn(
    net: dict[str, Node], withdrawn: Outcome
) -> None:
    a, b = net["a"], net["b"]
    with _late_letter(net, 8000) as (ids, late):
        response = _withdraw(a, ids["transfer"])
        assert response.status_code == 200, response.text
        assert b.letters()[ids["transfer"]] == ("withdrawn", False)
    assert late.hits == 1  # the letter did arrive, after the withdrawal
    # the late letter changed nothing: it can no longer be accepted
    with b.api() as api:
        assert api.post(f"/v1/transfers/{ids['transfer']}/accept").status_code == 409
    assert finished(net, ids) == withdrawn


def test_a_withdrawal_after_the_receiver_decided_ends_as_the_decision(
    net: dict[str, Node], fault_free: Outcome
) -> None:
    a = net["a"]
    assert a.proxy is not None
    with a.proxy.fault(Fault("POST", RECEIPTS, "lose-request", times=10_000)):
        ids = transfer(net)
        response = _withdraw(a, ids["transfer"])
    # the receiving hub decides the order: its answer carries the receipt, which A applies
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "transfer-final"
    assert response.json()["state"] == "accepted"
    assert finished(net, ids) == fault_free


# -- keys --------------------------------------------------------------------------------------
def test_a_rotated_key_keeps_transfers_and_sync_working(
    net: dict[str, Node], fault_free: Outcome
) -> None:
    a = net["a"]
    old = KeyStore.load(a.workdir / "hub.keys.json").signer().kid
    a.cli("keys", "rotate")
    assert KeyStore.load(a.workdir / "hub.keys.json").signer().kid != old
    ids = transfer(net)
    assert finished(net, ids) == fault_free


def test_a_message_signed_with_a_revoked_key_is_refused_and_changes_nothing(
    net: dict[str, Node],
) -> None:
    a, b = net["a"], net["b"]
    stolen = KeyStore.load(a.workdir / "hub.keys.json").signer()
    org_a, (member_id,) = seed(a, 1, 9000)
    org_b, _ = seed(b, 0, 0)
    a.cli("keys", "rotate")
    a.cli("keys", "revoke", stolen.kid)
    before = {"b": b.rows()}

    def refused() -> str | None:
        body = transfer_body(member_id, org_a, org_b)
        with httpx.Client(auth=SigningAuth(stolen)) as client:
            response = client.post(b.public + LETTERS, json={"letter": {}, "transfer": body})
        code = response.json().get("code")
        return str(code) if code == "revoked-key" else None

    # B learns of the revocation from its next key-set refresh (at most a round later)
    assert wait_for("B to refuse the revoked key", refused, 30) == "revoked-key"
    settle(net)
    assert b.rows() == before["b"]


# -- sync --------------------------------------------------------------------------------------
def test_records_created_in_a_county_reach_the_city_within_seconds(net: dict[str, Node]) -> None:
    a, city = net["a"], net["city"]
    _, (member_id,) = seed(a, 1, 9500)
    wait_for("the member at the city", lambda: ("members", member_id) in city.rows(), 10)
    with city.api() as api:
        assert api.get(f"/v1/members/{member_id}").status_code == 200


def _bulk_members(node: Node, count: int, base: int) -> None:
    org_id, _ = seed(node, 0, 0)
    _bulk(
        node, [("members", new_member(node.hub_id, org_id, n)) for n in range(base, base + count)]
    )


@pytest.mark.parametrize("victim", ["city", "a"])
def test_a_hub_killed_mid_sync_resumes_without_gap_or_duplicate(
    net: dict[str, Node], victim: str
) -> None:
    a, city = net["a"], net["city"]
    assert a.proxy is not None
    settle(net)
    start = city.applied(a.hub_id)
    owned_before = sum(1 for r in a.rows().values() if r[1] == a.hub_id)
    with a.proxy.fault(Fault("GET", FEED, "delay", times=10_000, seconds=0.5)):
        _bulk_members(a, 3000, 20_000 + len(a.rows()))
        wait_for("the city's pull to begin", lambda: city.applied(a.hub_id) > start, 60)
        net[victim].kill()
    owned = sum(1 for r in a.rows().values() if r[1] == a.hub_id)
    assert owned == owned_before + 3001
    assert city.applied(a.hub_id) < start + 3001, "the sync finished before the kill"
    net[victim].start()
    settle(net, timeout=120)
    # every change of A applied exactly once: no page was applied twice, none skipped
    assert city.applied(a.hub_id) == start + 3001


def test_a_tampered_or_replayed_feed_page_is_refused_and_pulled_again(
    net: dict[str, Node],
) -> None:
    a, city = net["a"], net["city"]
    assert a.proxy is not None
    settle(net)
    with (
        a.proxy.fault(Fault("GET", FEED, "tamper-response", times=2)) as tampered,
        a.proxy.fault(Fault("GET", FEED, "duplicate")) as replayed,
    ):
        seed(a, 5, 30_000)
        settle(net)
    assert tampered.hits == 2
    assert replayed.echoes == [401]
    listed = {p["hubId"]: p for p in _peers(city)}
    assert listed[a.hub_id]["lastError"] is None


def _peers(node: Node) -> list[dict[str, Any]]:
    with node.api() as api:
        items: list[dict[str, Any]] = api.get("/v1/peers").json()["items"]
    return items
