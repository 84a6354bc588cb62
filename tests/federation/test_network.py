"""Three hub processes on loopback: a parent (city) and two children (counties), each with its
own SQLite database, peered by fingerprint; children's records replicate to the parent through
signed change-feed pulls."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from tests.federation._network import TONGXIN, Node, new_member, new_org, seed, transfer_body
from tongxin.federation import (
    CHINA,
    HttpMessage,
    KeyStore,
    SigningAuth,
    china_today,
    issue_letter,
    signature_headers,
)
from tongxin.schemas import Member, Transfer


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Node]]:
    root = tmp_path_factory.mktemp("net")
    nodes = {
        "city": Node("cd-city", root / "city"),
        "a": Node("cd-wuhou", root / "wuhou"),
        "b": Node("cd-jinjiang", root / "jinjiang"),
    }
    prints = {name: node.init() for name, node in nodes.items()}
    for node in nodes.values():
        node.start()
    try:
        city = nodes["city"]
        for child in ("a", "b"):
            node = nodes[child]
            city.cli("peer", "add", node.url, "--relation", "child", "--fingerprint", prints[child])
            node.cli(
                "peer", "add", city.url, "--relation", "parent", "--fingerprint", prints["city"]
            )
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()


def test_keys_are_published_and_peering_needs_the_right_fingerprint(net: dict[str, Node]) -> None:
    city, a = net["city"], net["a"]
    doc = httpx.get(a.url + "/.well-known/tongxin/keys").json()
    assert doc["hubId"] == "cd-wuhou"
    assert doc["format"] == "tongxin-keys/1"
    wrong = "a" * 52
    done = city.cli(
        "peer", "add", a.url, "--relation", "child", "--fingerprint", wrong, check=False
    )
    assert done.returncode == 1
    assert "fingerprint-mismatch" in done.stderr


def test_unsigned_or_tampered_feed_requests_are_refused_naming_the_check(
    net: dict[str, Node],
) -> None:
    a, city = net["a"], net["city"]

    def code(response: httpx.Response) -> str:
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        return str(response.json()["code"])

    response = httpx.get(a.url + "/v1/changes", headers={"Signature-Input": "tongxin=()"})
    assert code(response) == "signature-missing"
    stranger = KeyStore.create(city.workdir / "stranger.keys.json", "sc-stranger")
    with httpx.Client(auth=SigningAuth(stranger.signer())) as client:
        assert code(client.get(a.url + "/v1/changes")) == "unknown-key"
    signer = KeyStore.load(city.workdir / "hub.keys.json").signer()
    request = httpx.Request("GET", a.url + "/v1/changes?limit=1")
    request.headers.update(signature_headers(HttpMessage.from_httpx(request), signer))
    with httpx.Client() as client:
        assert client.send(request).status_code == 200
        assert code(client.send(request)) == "replayed-nonce"
        tampered = httpx.Request("GET", a.url + "/v1/changes?limit=2", headers=request.headers)
        assert code(client.send(tampered)) == "bad-signature"


def test_child_records_reach_the_parent_as_read_only_replicas(net: dict[str, Node]) -> None:
    city, a, b = net["city"], net["a"], net["b"]
    _org_a, members_a = seed(a, 5, 1000)
    _org_b, members_b = seed(b, 3, 2000)
    with a.api() as api:
        response = api.delete(f"/v1/members/{members_a[0]}", headers={"If-Match": '"1"'})
        assert response.status_code in (200, 204), response.text
    done = city.cli("sync", "--once")
    assert "cd-wuhou: ok" in done.stderr
    assert "cd-jinjiang: ok" in done.stderr
    with city.api() as api:
        for rid in [*members_a[1:], *members_b]:
            response = api.get(f"/v1/members/{rid}", params={"include": "sensitive"})
            assert response.status_code == 200, response.text
            record = response.json()
            assert "phone" not in record
            assert "citizenId" not in record
        assert api.get(f"/v1/members/{members_a[0]}").status_code in (404, 410)
        # a write to a replica goes back to its owner
        record = api.get(f"/v1/members/{members_a[1]}").json()
        response = api.put(
            f"/v1/members/{members_a[1]}",
            json={**record, "name": "改名"},
            headers={"If-Match": '"1"'},
        )
        assert response.status_code == 409
        assert response.json()["code"] == "replica-read-only"
        assert response.json()["owner"] == "cd-wuhou"
        peers = api.get("/v1/peers").json()["items"]
    assert {p["hubId"]: p["lastError"] for p in peers} == {"cd-jinjiang": None, "cd-wuhou": None}
    # a second round applies nothing new (no duplicate)
    city.cli("sync", "--once")
    listed = {p["hubId"]: p for p in json.loads(city.cli("peer", "list", "--json").stdout)}
    # the feed holds each record's latest state: A's organisation, 4 members and 1 tombstone
    assert listed["cd-wuhou"]["applied"] == 6
    assert listed["cd-jinjiang"]["applied"] == 4


def test_a_token_for_a_county_subtree_at_the_city_sees_only_its_replicas(
    net: dict[str, Node],
) -> None:
    city, a, b = net["city"], net["a"], net["b"]
    with a.api() as api:
        root = {**new_org(a.hub_id), "name": "武侯区委"}
        assert api.post("/v1/organisations", json=root).status_code == 201
        branch = {**new_org(a.hub_id), "parentId": root["id"]}
        assert api.post("/v1/organisations", json=branch).status_code == 201
        member = new_member(a.hub_id, branch["id"], 6000)
        assert api.post("/v1/members", json=member).status_code == 201
    _, (other,) = seed(b, 1, 6100)
    city.cli("sync", "--once")
    token = city.cli(
        "token", "create", "--organisation", root["id"], "--scope", "records:read"
    ).stdout.strip()
    with httpx.Client(base_url=city.url, headers={"Authorization": f"Bearer {token}"}) as api:
        listed = {m["id"] for m in api.get("/v1/members", params={"limit": 1000}).json()["items"]}
        assert listed == {member["id"]}
        assert api.get(f"/v1/members/{other}").status_code in (403, 404)


def _peer_siblings(net: dict[str, Node]) -> None:
    """County A and county B peer with each other directly (letters travel between them),
    trusting each other through the city's certificates instead of exchanging fingerprints."""
    a, b = net["a"], net["b"]
    a.peer(b, "sibling", "cd-city")
    b.peer(a, "sibling", "cd-city")


def test_siblings_trust_each_other_only_through_the_parents_certificate(
    net: dict[str, Node],
) -> None:
    city, a = net["city"], net["a"]
    cert = httpx.get(city.url + "/.well-known/tongxin/certificates/cd-wuhou").json()
    assert cert["certificate"]["subject"] == "cd-wuhou"
    assert cert["certificate"]["fingerprints"] == sorted(
        json.loads(city.cli("peer", "list", "--json").stdout)[1]["fingerprints"]
    )
    missing = httpx.get(city.url + "/.well-known/tongxin/certificates/sc-stranger")
    assert (missing.status_code, missing.json()["code"]) == (404, "certificate-missing")
    # a hub the city has not certified is not trusted through it
    stranger = Node("sc-stranger", city.workdir.parent / "stranger")
    stranger.init()
    stranger.start()
    try:
        done = a.cli(
            "peer", "add", stranger.url, "--relation", "sibling", "--via", "cd-city", check=False
        )
        assert done.returncode == 1
        assert "certificate-missing" in done.stderr
    finally:
        stranger.close()
    # only through a parent
    done = a.cli(
        "peer", "add", city.url, "--relation", "sibling", "--via", "cd-jinjiang", check=False
    )
    assert done.returncode == 1


def test_a_member_transferred_between_counties_ends_owned_by_the_receiver_once(
    net: dict[str, Node],
) -> None:
    city, a, b = net["city"], net["a"], net["b"]
    _peer_siblings(net)
    org_a, (member_id,) = seed(a, 1, 3000)
    org_b, _ = seed(b, 0, 0)
    transfer = transfer_body(member_id, org_a, org_b)
    transfer_id = transfer["id"]
    with a.api() as api_a, b.api() as api_b:
        created = api_a.post("/v1/transfers", json=transfer)
        assert created.status_code == 201, created.text
        assert "letter" in created.headers["link"]
        sent = api_a.get(f"/v1/transfers/{transfer_id}/history").json()
        assert (sent["role"], sent["state"], sent["delivered"]) == ("sender", "issued", True)
        # the letter fetched from A verifies offline against A's published keys
        letter = api_a.get(f"/v1/transfers/{transfer_id}/letter")
        assert letter.status_code == 200
        path = a.workdir / "letter.json"
        path.write_bytes(letter.content)
        keys = a.workdir / "keys.json"
        keys.write_bytes(httpx.get(a.url + "/.well-known/tongxin/keys").content)
        done = subprocess.run(
            [TONGXIN, "verify-letter", str(path), "--keys", str(keys)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        # the receiving hub holds the same letter and a replica of the transfer
        assert api_b.get(f"/v1/transfers/{transfer_id}/letter").content == letter.content
        assert api_b.get(f"/v1/transfers/{transfer_id}").json()["state"] == "issued"
        assert api_b.get(f"/v1/members/{member_id}").status_code == 404
        # only the receiving hub decides
        assert api_a.post(f"/v1/transfers/{transfer_id}/accept").status_code == 409
        first = api_b.post(f"/v1/transfers/{transfer_id}/accept")
        assert first.status_code == 200, first.text
        again = api_b.post(f"/v1/transfers/{transfer_id}/accept")
        assert again.json() == first.json()
        assert first.json()["state"] == "accepted"
        assert first.json()["delivered"] is True
        assert [s["state"] for s in first.json()["history"]] == ["issued", "accepted"]
        refused = api_b.post(f"/v1/transfers/{transfer_id}/reject")
        assert refused.status_code == 409
        assert refused.json()["code"] == "transfer-final"
        # B owns the member at version 2 in its organisation; A keeps a read-only replica
        at_b = api_b.get(f"/v1/members/{member_id}")
        assert at_b.status_code == 200, at_b.text
        assert at_b.headers["etag"] == '"2"'
        assert at_b.json()["organisationId"] == org_b
        assert at_b.json()["version"] == 2
        at_a = api_a.get(f"/v1/members/{member_id}")
        assert at_a.headers["etag"] == '"2"'
        # the replica at A is the record B owns, byte for byte
        assert at_a.json() == at_b.json()
        sensitive = {"include": "sensitive"}
        assert (
            api_a.get(f"/v1/members/{member_id}", params=sensitive).json()
            == api_b.get(f"/v1/members/{member_id}", params=sensitive).json()
        )
        write = api_a.put(f"/v1/members/{member_id}", json=at_a.json(), headers={"If-Match": '"2"'})
        assert write.status_code == 409
        assert write.json()["owner"] == "cd-jinjiang"
        renamed = {**at_b.json(), "name": "李梅"}
        assert (
            api_b.put(
                f"/v1/members/{member_id}", json=renamed, headers={"If-Match": '"2"'}
            ).status_code
            == 200
        )
        # A keeps the signed receipt and the whole history; both see the transfer accepted
        sent = api_a.get(f"/v1/transfers/{transfer_id}/history").json()
        assert sent["state"] == "accepted"
        assert [s["state"] for s in sent["history"]] == ["issued", "accepted"]
        assert sent["receipt"]["receipt"]["decision"] == "accepted"
        assert sent["receipt"]["signature"]["kid"].startswith("cd-jinjiang:")
        record = api_a.get(f"/v1/transfers/{transfer_id}")
        assert record.json()["state"] == "accepted"
        assert record.json()["version"] == 2
        assert record.headers["etag"] == '"2"'
        assert api_b.get(f"/v1/transfers/{transfer_id}").json() == record.json()
    # the city ends with the member once, owned by B
    city.cli("sync", "--once", check=False)
    with city.api() as api:
        response = api.get(f"/v1/members/{member_id}")
        assert response.status_code == 200
        assert response.json()["organisationId"] == org_b
        assert response.json()["name"] == "李梅"


def test_a_tampered_letter_is_refused_with_the_reason(net: dict[str, Node]) -> None:
    a, b = net["a"], net["b"]
    with a.api() as api:
        letters = [
            i["id"] for i in api.get("/v1/transfers").json()["items"] if i["id"].startswith("cd-")
        ]
        envelope = api.get(f"/v1/transfers/{letters[0]}/letter").json()
    envelope["letter"]["transferId"] = "cd-wuhou:t-forged"
    envelope["letter"]["validDays"] = 180
    body = {
        "letter": envelope,
        "member": {"version": 1, "record": {"id": envelope["letter"]["member"]["id"]}},
    }
    signer = KeyStore.load(a.workdir / "hub.keys.json").signer()
    with httpx.Client(auth=SigningAuth(signer)) as client:
        response = client.post(b.url + "/v1/federation/letters", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "letter-tampered"
    with b.api() as api:
        assert api.get("/v1/transfers/cd-wuhou:t-forged/history").status_code == 404


def test_an_expired_letter_is_refused_with_the_reason(net: dict[str, Node]) -> None:
    a, b = net["a"], net["b"]
    with b.api() as api:
        items = api.get("/v1/organisations").json()["items"]
        org_b = next(i["id"] for i in items if i["id"].startswith(b.hub_id + ":"))
    stamp = {"version": 1, "updatedAt": datetime.now(CHINA).isoformat()}
    member = {**new_member(a.hub_id, f"{a.hub_id}:o0001", 4000), **stamp}
    issued = china_today() - timedelta(days=100)
    transfer = Transfer.model_validate(
        {
            "id": f"{a.hub_id}:t-old",
            "memberId": member["id"],
            "fromOrganisationId": member["organisationId"],
            "toOrganisationId": org_b,
            "reason": "work-unit-change",
            "issuedDate": issued.isoformat(),
            "validDays": 90,
            "state": "issued",
            **stamp,
        }
    )
    signer = KeyStore.load(a.workdir / "hub.keys.json").signer()
    envelope = issue_letter(
        transfer, Member.model_validate(member), signer, issued_at=datetime.now(CHINA)
    )
    body = {"letter": envelope, "member": {"version": 1, "record": member}}
    with httpx.Client(auth=SigningAuth(signer)) as client:
        response = client.post(b.url + "/v1/federation/letters", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "letter-expired"
    assert "expired" in response.json()["detail"]


def test_an_applicant_reaches_the_parent_minimised(net: dict[str, Node]) -> None:
    """Standard 1.1's applicants replicate up like members: the parent holds a read-only
    replica without the citizen ID and the phone."""
    city, a = net["city"], net["a"]
    org, members = seed(a, 2, 5000)
    person = new_member(a.hub_id, org, 5100)
    applicant = {
        "id": f"{a.hub_id}:a-replicated",
        "name": person["name"],
        "gender": person["gender"],
        "birthDate": person["birthDate"],
        "citizenId": person["citizenId"],
        "phone": "13800138000",
        "organisationId": org,
        "stage": "activist",
        "applicationDate": "2024-03-01",
        "talkDate": "2024-03-10",
        "activistDate": "2024-09-01",
        "sponsors": [members[0]],
    }
    with a.api() as api:
        response = api.post("/v1/applicants", json=applicant)
        assert response.status_code == 201, response.text
    done = city.cli("sync", "--once")
    assert "cd-wuhou: ok" in done.stderr
    with city.api() as api:
        response = api.get(f"/v1/applicants/{applicant['id']}", params={"include": "sensitive"})
        assert response.status_code == 200, response.text
        replica = response.json()
        assert replica["stage"] == "activist"
        assert replica["sponsors"] == [members[0]]
        assert "citizenId" not in replica
        assert "phone" not in replica
        response = api.put(
            f"/v1/applicants/{applicant['id']}",
            json={**replica, "stage": "candidate"},
            headers={"If-Match": '"1"'},
        )
        assert response.status_code == 409
        assert response.json()["code"] == "replica-read-only"
