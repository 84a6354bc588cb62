"""Trust in electronic transfers, with live hubs: the records beside a signed letter are checked
against the letter; subtree tokens see only their transfers; letters are sealed at rest; an
accepted member keeps one person one member; letters that cannot be valid are refused at
creation; a peer's permanent refusal ends the delivery, a transient failure is retried."""

from __future__ import annotations

import copy
import hashlib
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.federation._network import Node, new_member, seed, transfer_body
from tests.server.conftest import BACKENDS, make_backend
from tongxin.federation import (
    CHINA,
    KeyStore,
    SigningAuth,
    china_today,
    issue_letter,
    make_receipt,
    make_withdrawal,
)
from tongxin.schemas import Member, Transfer

LETTERS = "/v1/federation/letters"


@pytest.fixture(scope="module", params=BACKENDS)
def net(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Node]]:
    """Two sibling counties trusting each other by fingerprint — the receiving one, B, on each
    database — and a third sibling of A that is down after peering (its deliveries fail
    transiently)."""
    root = tmp_path_factory.mktemp("trust")
    database = make_backend(request.param, root / "b-db")
    backend = next(database)
    nodes = {
        "a": Node("cd-wuhou", root / "a"),
        "b": Node(
            "cd-jinjiang", root / "b", database=None if backend.name == "sqlite" else backend.url
        ),
        "c": Node("cd-qingyang", root / "c"),
    }
    for node in nodes.values():
        node.init()
        node.start()
    try:
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        a.peer(b, "sibling")
        b.peer(a, "sibling")
        a.peer(c, "sibling")
        c.stop()
        yield nodes
    finally:
        for node in nodes.values():
            node.close()
        database.close()


def _stamped(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "version": 1, "updatedAt": datetime.now(CHINA).isoformat()}


def _genuine(a: Node, b: Node, n: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A letter A really signed for a transfer to an organisation of B, with the transfer and
    member records that truly go with it (as A would send them)."""
    org_b, _ = seed(b, 0, 0)
    member = _stamped(new_member(a.hub_id, f"{a.hub_id}:o{secrets.token_hex(4)}", n))
    transfer = _stamped(transfer_body(member["id"], member["organisationId"], org_b))
    signer = KeyStore.load(a.key_store).signer()
    envelope = issue_letter(
        Transfer.model_validate(transfer),
        Member.model_validate(member),
        signer,
        issued_at=datetime.now(CHINA).replace(microsecond=0),
    )
    return envelope, transfer, member


def _deliver(a: Node, b: Node, body: dict[str, Any]) -> httpx.Response:
    signer = KeyStore.load(a.key_store).signer()
    with httpx.Client(auth=SigningAuth(signer)) as client:
        return client.post(b.url + LETTERS, json=body)


FORGED = {
    "transfer with a junk field": ("transfer", {"junk": True}, "cargo-invalid", "/transfer/record"),
    "transfer in a bogus state": (
        "transfer",
        {"state": "whatever"},
        "cargo-invalid",
        "/transfer/record/state",
    ),
    "member with another name": (
        "member",
        {"name": "王伪造"},
        "cargo-mismatch",
        "/member/record/name",
    ),
    "member with a bogus status": (
        "member",
        {"status": "bogus-status"},
        "cargo-invalid",
        "/member/record/status",
    ),
    "member with a <script> field": (
        "member",
        {"<script>": "alert(1)"},
        "cargo-invalid",
        "/member/record",
    ),
    "member with another citizen ID": ("member", {}, "cargo-mismatch", "/member/record/citizenId"),
}


@pytest.mark.parametrize("case", list(FORGED))
def test_forged_cargo_beside_a_genuine_letter_is_refused_and_nothing_stored(
    net: dict[str, Node], case: str
) -> None:
    a, b = net["a"], net["b"]
    kind, change, code, pointer = FORGED[case]
    n = 100 + list(FORGED).index(case)
    envelope, transfer, member = _genuine(a, b, n)
    records = {"transfer": transfer, "member": member}
    forged = copy.deepcopy(records)
    forged[kind].update(change)
    if case == "member with another citizen ID":
        # same birth date and gender, other sequence digits: valid, but not the letter's
        forged["member"]["citizenId"] = new_member(a.hub_id, "x", n + 10_000)["citizenId"]
    body = {
        "letter": envelope,
        "transfer": {"version": 1, "record": forged["transfer"]},
        "member": {"version": 1, "record": forged["member"]},
    }
    response = _deliver(a, b, body)
    assert response.status_code == 422, response.text
    assert "signature" in response.headers  # a signed problem, bound to A's request
    problem = response.json()
    assert problem["code"] == code
    assert problem["errors"][0]["pointer"].startswith(pointer)
    tid = transfer["id"]
    assert b.letters().get(tid) is None
    assert ("transfers", tid) not in b.rows()
    assert ("members", member["id"]) not in b.rows()
    # the same letter with the records it states is taken
    genuine = {**body, **{k: {"version": 1, "record": v} for k, v in records.items()}}
    taken = _deliver(a, b, genuine)
    assert taken.status_code == 200, taken.text
    assert b.letters()[tid] == ("issued", False)


def _token_id(node: Node, token: str) -> str:
    digest = hashlib.sha256(token.encode()).hexdigest()
    ((token_id,),) = node._read("SELECT id FROM tokens WHERE secret_hash = ?", digest)
    return str(token_id)


def _token(node: Node, org: str, *scopes: str) -> tuple[httpx.Client, str]:
    args = [arg for scope in scopes for arg in ("--scope", scope)]
    token = node.cli("token", "create", "--organisation", org, *args).stdout.strip()
    client = httpx.Client(
        base_url=node.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    return client, _token_id(node, token)


def _sent(a: Node, b: Node, n: int) -> tuple[str, str, str, str]:
    """A transfer A issued and delivered to B: (transfer id, member id, org at A, org at B)."""
    org_a, (member_id,) = seed(a, 1, n)
    org_b, _ = seed(b, 0, 0)
    transfer = transfer_body(member_id, org_a, org_b)
    with a.api() as api:
        created = api.post("/v1/transfers", json=transfer)
        assert created.status_code == 201, created.text
        assert api.get(f"/v1/transfers/{transfer['id']}/history").json()["delivered"] is True
    return transfer["id"], member_id, org_a, org_b


def _audit(node: Node, record_id: str) -> list[dict[str, Any]]:
    with node.api() as api:
        items = api.get("/v1/audit", params={"limit": 1000}).json()["items"]
    return [i for i in items if i["id"] == record_id]


def test_transfers_answer_only_tokens_of_their_subtree_and_audit_names_the_actor(
    net: dict[str, Node],
) -> None:
    a, b = net["a"], net["b"]
    tid, member_id, org_a, org_b = _sent(a, b, 300)
    other_b, _ = seed(b, 0, 0)
    other_a, _ = seed(a, 0, 0)
    outside_b, _ = _token(b, other_b, "records:read", "records:write")
    inside_b, inside_id = _token(b, org_b, "records:read", "records:write")
    outside_a, _ = _token(a, other_a, "records:read", "records:write")
    inside_a, _ = _token(a, org_a, "records:read")
    reader_b, _ = _token(b, org_b, "records:read")
    with outside_b, inside_b, outside_a, inside_a, reader_b:
        for client in (outside_b, outside_a):
            for path in ("letter", "history"):
                missing = client.get(f"/v1/transfers/{tid}/{path}")
                assert (missing.status_code, missing.json()["code"]) == (404, "letter-unknown")
        for verb in ("accept", "reject"):
            assert outside_b.post(f"/v1/transfers/{tid}/{verb}").status_code == 404
        assert outside_a.post(f"/v1/transfers/{tid}/withdraw").status_code == 404
        assert reader_b.post(f"/v1/transfers/{tid}/accept").status_code == 403
        assert inside_a.get(f"/v1/transfers/{tid}/history").json()["state"] == "issued"
        assert inside_b.get(f"/v1/transfers/{tid}/letter").status_code == 200
        accepted = inside_b.post(f"/v1/transfers/{tid}/accept")
        assert accepted.status_code == 200, accepted.text
    # the receiver's accept names the token; the sender's steps caused by B name the peer
    at_b = _audit(b, member_id)
    assert [(e["action"], e["tokenId"]) for e in at_b] == [("transfer", inside_id)]
    steps_b = {e["action"]: e for e in _audit(b, tid)}
    assert steps_b["letter-receive"]["requestId"] == "peer:cd-wuhou"
    at_a = [e for e in _audit(a, member_id) if e["action"] == "transfer"]
    assert [e["requestId"] for e in at_a] == ["peer:cd-jinjiang"]
    steps_a = {e["action"]: e for e in _audit(a, tid)}
    assert steps_a["receipt"]["requestId"] == "peer:cd-jinjiang"
    assert steps_a["letter-issue"]["tokenId"] is not None


def test_letters_are_sealed_at_rest_and_read_back_as_signed(net: dict[str, Node]) -> None:
    a, b = net["a"], net["b"]
    tid, member_id, _, _ = _sent(a, b, 400)
    with a.api() as api:
        name = api.get(f"/v1/members/{member_id}").json()["name"]
        file = api.get(f"/v1/transfers/{tid}/letter")
    assert name in file.text
    for node in (a, b):
        ((stored,),) = node._read("SELECT letter FROM transfer_letters WHERE transfer_id = ?", tid)
        assert stored.startswith("sealed:")
        assert name not in stored
        assert member_id not in stored
    with b.api() as api:
        assert api.get(f"/v1/transfers/{tid}/letter").content == file.content


def _twin(a: Node, member_id: str, hub_id: str, org: str) -> dict[str, Any]:
    """Another member record for the same person (same citizen ID), at ``hub_id``."""
    with a.api() as api:
        record = api.get(f"/v1/members/{member_id}", params={"include": "sensitive"}).json()
    for server_field in ("version", "updatedAt"):
        record.pop(server_field)
    return {**record, "id": f"{hub_id}:m{secrets.token_hex(4)}", "organisationId": org}


def test_an_accepted_member_keeps_one_person_one_member(net: dict[str, Node]) -> None:
    a, b = net["a"], net["b"]
    tid, member_id, _, org_b = _sent(a, b, 500)
    twin = _twin(a, member_id, b.hub_id, org_b)
    with b.api() as api:
        assert api.post(f"/v1/transfers/{tid}/accept").status_code == 200
        duplicate = api.post("/v1/members", json=twin)
        assert duplicate.status_code == 409, duplicate.text
        assert duplicate.json()["code"] == "duplicate-citizen-id"


def test_accepting_a_member_whose_citizen_id_is_taken_is_refused(net: dict[str, Node]) -> None:
    a, b = net["a"], net["b"]
    tid, member_id, _, org_b = _sent(a, b, 600)
    twin = _twin(a, member_id, b.hub_id, org_b)
    with b.api() as api:
        assert api.post("/v1/members", json=twin).status_code == 201
        refused = api.post(f"/v1/transfers/{tid}/accept")
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "duplicate-citizen-id"
        assert twin["id"] not in refused.text
        history = api.get(f"/v1/transfers/{tid}/history").json()
        assert (history["state"], history["receipt"]) == ("issued", None)
        assert api.get(f"/v1/members/{member_id}").status_code == 404
        # the receiving hub may still reject the letter
        assert api.post(f"/v1/transfers/{tid}/reject").status_code == 200


@pytest.mark.parametrize(
    ("days_ago", "code"),
    [(100, "letter-expired"), (90, "letter-expired"), (-3, "letter-future-dated")],
)
def test_a_letter_that_cannot_be_valid_is_refused_at_creation(
    net: dict[str, Node], days_ago: int, code: str
) -> None:
    a, b = net["a"], net["b"]
    org_a, (member_id,) = seed(a, 1, 1700 + days_ago)
    org_b, _ = seed(b, 0, 0)
    transfer = transfer_body(member_id, org_a, org_b)
    transfer["issuedDate"] = (china_today() - timedelta(days=days_ago)).isoformat()
    with a.api() as api:
        refused = api.post("/v1/transfers", json=transfer)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["code"] == code
        assert [(e["pointer"], e["rule"]) for e in problem["errors"]] == [
            ("/issuedDate", "TRF-102")
        ]
        assert api.get(f"/v1/transfers/{transfer['id']}").status_code == 404
    assert transfer["id"] not in b.letters()


def test_a_misdirected_letter_ends_refused_and_is_not_retried(net: dict[str, Node]) -> None:
    a, b = net["a"], net["b"]
    org_a, (member_id,) = seed(a, 1, 800)
    transfer = transfer_body(member_id, org_a, f"{b.hub_id}:o-unknown")
    tid = transfer["id"]
    with a.api() as api:
        assert api.post("/v1/transfers", json=transfer).status_code == 201
        history = api.get(f"/v1/transfers/{tid}/history").json()
    assert (history["state"], history["delivered"], history["delivery"]) == (
        "issued",
        False,
        "refused",
    )
    assert history["refused"]["code"] == "organisation-unknown"
    assert history["refused"]["status"] == 422
    assert history["nextAttemptAt"] is None
    attempts = history["attempts"]
    done = a.cli("sync", "--once", check=False)
    assert tid not in done.stdout + done.stderr
    with a.api() as api:
        again = api.get(f"/v1/transfers/{tid}/history").json()
    assert (again["delivery"], again["attempts"]) == ("refused", attempts)
    assert tid not in a.pending()
    assert tid not in b.letters()


def test_a_transient_failure_is_retried_with_backoff(net: dict[str, Node]) -> None:
    a, c = net["a"], net["c"]
    org_a, (member_id,) = seed(a, 1, 900)
    transfer = transfer_body(member_id, org_a, f"{c.hub_id}:o0001")
    tid = transfer["id"]
    with a.api() as api:
        assert api.post("/v1/transfers", json=transfer).status_code == 201
        history = api.get(f"/v1/transfers/{tid}/history").json()
    assert (history["delivery"], history["refused"], history["attempts"]) == ("pending", None, 1)
    assert history["nextAttemptAt"] is not None
    assert tid in a.pending()
    a.cli("sync", "--once", check=False)
    assert _attempts(a, tid) == 2


def _attempts(node: Node, tid: str) -> int:
    ((attempts,),) = node._read("SELECT attempts FROM transfer_letters WHERE transfer_id = ?", tid)
    return int(attempts)


def _signed_post(signer_node: Node, target: Node, path: str, body: dict[str, Any]) -> Any:
    signer = KeyStore.load(signer_node.key_store).signer()
    with httpx.Client(auth=SigningAuth(signer)) as client:
        return client.post(target.url + path, json=body)


def test_a_receipt_or_withdrawal_with_forged_cargo_is_refused(net: dict[str, Node]) -> None:
    a, b = net["a"], net["b"]
    tid, member_id, _, org_b = _sent(a, b, 1000)
    with a.api() as api:
        envelope = api.get(f"/v1/transfers/{tid}/letter").json()
        member = api.get(f"/v1/members/{member_id}", params={"include": "sensitive"}).json()
        transfer = api.get(f"/v1/transfers/{tid}").json()
    b_signer = KeyStore.load(b.key_store).signer()
    receipt = make_receipt(
        envelope, "accepted", b_signer, decided_at=datetime.now(CHINA).replace(microsecond=0)
    )
    forged = {**member, "organisationId": org_b, "version": 2, "name": "王伪造"}
    body = {"receipt": receipt, "member": {"version": 2, "record": forged}}
    refused = _signed_post(b, a, "/v1/federation/receipts", body)
    assert refused.status_code == 422, refused.text
    assert (refused.json()["code"], refused.json()["errors"][0]["pointer"]) == (
        "cargo-mismatch",
        "/member/record/name",
    )
    with a.api() as api:
        assert api.get(f"/v1/transfers/{tid}/history").json()["state"] == "issued"
        assert api.get(f"/v1/members/{member_id}").json()["name"] == member["name"]
    # a withdrawal whose transfer record is not withdrawn
    a_signer = KeyStore.load(a.key_store).signer()
    notice = make_withdrawal(
        envelope, a_signer, withdrawn_at=datetime.now(CHINA).replace(microsecond=0)
    )
    stamped = {**transfer, "version": transfer["version"] + 1}
    body = {
        "withdrawal": notice,
        "letter": envelope,
        "transfer": {"version": stamped["version"], "record": stamped},
    }
    refused = _signed_post(a, b, "/v1/federation/withdrawals", body)
    assert refused.status_code == 422, refused.text
    assert (refused.json()["code"], refused.json()["errors"][0]["pointer"]) == (
        "cargo-mismatch",
        "/transfer/record/state",
    )
    assert b.letters()[tid] == ("issued", False)
