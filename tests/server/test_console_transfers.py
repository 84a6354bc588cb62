"""Transfers in the console between two real hubs: a branch secretary of the sending hub issues
a signed letter from the member's page, the receiving branch's secretary sees it in flight and
accepts one and rejects another; a secretary of another branch of the receiving hub neither
sees nor decides them. The steps are the API's (signatures, delivery, receipts, audit)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.federation._network import Node, new_member, new_org, seed
from tongxin.federation import china_today
from tongxin.server import open_hub
from tongxin.server._policy import Role, role_principal
from tongxin.server._security import Principal, org_path
from tongxin.server._settings import Settings
from tongxin.server._transfers import recent_transfer_ids

from ._console_world import csrf, sign_in
from .test_console_pages import field_errors, form_fields


def _user(node: Node, name: str, org: str) -> str:
    done = node.cli("user", "create", name, "--organisation", org, "--role", "secretary")
    return done.stdout.strip().splitlines()[-1]


def _console(node: Node, name: str, password: str) -> httpx.Client:
    return sign_in(node.url, name, password)[0]


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root: Path = tmp_path_factory.mktemp("console-transfers")
    a, b = Node("cd-wuhou", root / "a"), Node("cd-jinjiang", root / "b")
    prints = {"a": a.init(), "b": b.init()}
    a.start()
    b.start()
    try:
        a.cli("peer", "add", b.url, "--relation", "parent", "--fingerprint", prints["b"])
        b.cli("peer", "add", a.url, "--relation", "child", "--fingerprint", prints["a"])
        org_a, members = seed(a, 2, 7100)
        org_b, _ = seed(b, 0, 0)
        org_c = new_org(b.hub_id)
        with b.api() as api:
            assert api.post("/v1/organisations", json=org_c).status_code == 201
        users = {
            "sender": (a, _user(a, "sender", org_a)),
            "taker": (b, _user(b, "taker", org_b)),
            "other": (b, _user(b, "other", org_c["id"])),
        }
        clients = {name: _console(node, name, pw) for name, (node, pw) in users.items()}
        try:
            yield {
                "a": a,
                "b": b,
                "org_a": org_a,
                "org_b": org_b,
                "org_c": org_c["id"],
                "members": members,
                **clients,
            }
        finally:
            for client in clients.values():
                client.close()
    finally:
        a.stop()
        b.stop()


def _issue(hubs: dict[str, Any], member_id: str, number: str) -> httpx.Response:
    sender: httpx.Client = hubs["sender"]
    path = f"/console/members/{member_id}/transfer"
    form = form_fields(sender.get(path).text)
    assert form["fromOrganisationId"] == hubs["org_a"]
    return sender.post(
        path, data={**form, "toOrganisationId": hubs["org_b"], "letterNumber": number}
    )


def _row(html: str, member_id: str) -> str:
    """The letters table's row of ``member_id`` (its id is under the member's name)."""
    for row in re.findall(r"<tr data-id=.*?</tr>", html, re.S):
        if f'<span class="muted">{member_id}</span>' in row:
            return str(row)
    raise AssertionError(html)


def _transfer_id(html: str, member_id: str) -> str:
    found = re.search(r'data-id="([^"]+)"', _row(html, member_id))
    assert found
    return found.group(1)


def test_a_letter_issued_in_the_console_is_accepted_in_the_other_hubs_console(
    hubs: dict[str, Any],
) -> None:
    member_id = hubs["members"][0]
    # a letter dated too long ago is refused with the hub's rule at the date field
    path = f"/console/members/{member_id}/transfer"
    form = form_fields(hubs["sender"].get(path).text)
    old = (china_today() - timedelta(days=200)).isoformat()
    refused = hubs["sender"].post(
        path, data={**form, "toOrganisationId": hubs["org_b"], "issuedDate": old}
    )
    assert refused.status_code == 422
    assert field_errors(refused.text, "issuedDate")
    # issued: in flight at both hubs
    sent = _issue(hubs, member_id, "武组转〔2026〕0101")
    assert sent.url.path == "/console/transfers", sent.text[:500]
    row = _row(sent.text, member_id)
    assert 'data-state="issued" data-role="sender"' in row
    assert "已送达" in row
    transfer_id = _transfer_id(sent.text, member_id)
    incoming = hubs["taker"].get("/console/transfers").text
    row = _row(incoming, member_id)
    assert 'data-role="receiver"' in row
    assert "0101" in row
    # another branch of the receiving hub neither sees nor decides it
    other: httpx.Client = hubs["other"]
    assert member_id not in other.get("/console/transfers").text
    token = csrf(other.get("/console/transfers").text)
    tried = other.post(f"/console/transfers/{transfer_id}/accept", data={"csrf": token})
    assert tried.status_code == 404
    # accepted: the receiving hub owns the member in the receiving branch
    token = csrf(incoming)
    accepted = hubs["taker"].post(f"/console/transfers/{transfer_id}/accept", data={"csrf": token})
    assert accepted.url.path == "/console/transfers"
    assert 'id="done"' in accepted.text
    assert 'data-state="accepted"' in _row(accepted.text, member_id)
    with hubs["b"].api() as api_b, hubs["a"].api() as api_a:
        member = api_b.get(f"/v1/members/{member_id}").json()
        assert member["organisationId"] == hubs["org_b"]
        assert api_b.get(f"/v1/transfers/{transfer_id}/history").json()["state"] == "accepted"
        assert api_a.get(f"/v1/transfers/{transfer_id}/history").json()["state"] == "accepted"
    page = hubs["taker"].get(f"/console/members/{member_id}").text
    assert transfer_id in page[page.index('id="transfers"') :]
    # deciding again is refused by the same rule as the API's
    again = hubs["taker"].post(f"/console/transfers/{transfer_id}/reject", data={"csrf": token})
    assert again.status_code == 409
    assert 'id="problem"' in again.text


def test_a_letter_rejected_in_the_console_comes_back_rejected(hubs: dict[str, Any]) -> None:
    member_id = hubs["members"][1]
    sent = _issue(hubs, member_id, "武组转〔2026〕0102")
    transfer_id = _transfer_id(sent.text, member_id)
    taker: httpx.Client = hubs["taker"]
    token = csrf(taker.get("/console/transfers").text)
    rejected = taker.post(
        f"/console/transfers/{transfer_id}/reject", data={"csrf": token, "reason": "查无此单位"}
    )
    assert 'data-state="rejected"' in _row(rejected.text, member_id)
    with hubs["a"].api() as api_a, hubs["b"].api() as api_b:
        status = api_a.get(f"/v1/transfers/{transfer_id}/history").json()
        assert status["state"] == "rejected"
        assert status["receipt"]["receipt"]["reason"] == "查无此单位"
        assert api_a.get(f"/v1/members/{member_id}").json()["organisationId"] == hubs["org_a"]
        assert api_b.get(f"/v1/members/{member_id}").status_code == 404
    back = hubs["sender"].get("/console/transfers").text
    assert 'data-state="rejected" data-role="sender"' in _row(back, member_id)


def test_a_letter_withdrawn_in_the_console_ends_withdrawn_at_both_hubs(
    hubs: dict[str, Any],
) -> None:
    record = new_member(hubs["a"].hub_id, hubs["org_a"], 7200)
    member_id = record["id"]
    with hubs["a"].api() as api_a:
        assert api_a.post("/v1/members", json=record).status_code == 201
    sent = _issue(hubs, member_id, "武组转〔2026〕0103")
    transfer_id = _transfer_id(sent.text, member_id)
    token = csrf(sent.text)
    # the receiving side cannot withdraw (only the sending hub does), the sending side can
    own = csrf(hubs["taker"].get("/console/transfers").text)
    refused = hubs["taker"].post(f"/console/transfers/{transfer_id}/withdraw", data={"csrf": own})
    assert refused.status_code == 409
    assert 'id="problem"' in refused.text
    withdrawn = hubs["sender"].post(
        f"/console/transfers/{transfer_id}/withdraw", data={"csrf": token}
    )
    assert 'data-state="withdrawn"' in _row(withdrawn.text, member_id)
    with hubs["b"].api() as api_b:
        assert api_b.get(f"/v1/transfers/{transfer_id}/history").json()["state"] == "withdrawn"


def test_the_printed_letter_is_served_to_those_who_may_see_it(hubs: dict[str, Any]) -> None:
    record = new_member(hubs["a"].hub_id, hubs["org_a"], 7300)
    member_id = record["id"]
    with hubs["a"].api() as api_a:
        assert api_a.post("/v1/members", json=record).status_code == 201
    sent = _issue(hubs, member_id, "武组转〔2026〕0104")
    transfer_id = _transfer_id(sent.text, member_id)
    pdf_path = f"/console/transfers/{quote(transfer_id)}/letter.pdf"
    # the button is on the transfers page and on the member's page
    assert f'href="{pdf_path}"' in _row(sent.text, member_id)
    assert "打印介绍信" in _row(sent.text, member_id)
    member_page = hubs["sender"].get(f"/console/members/{member_id}").text
    assert f'href="{pdf_path}"' in member_page[member_page.index('id="transfers"') :]
    # the sending branch and the receiving branch print it; the same PDF as the API's
    for name in ("sender", "taker"):
        printed = hubs[name].get(pdf_path)
        assert printed.status_code == 200, printed.text[:300]
        assert printed.headers["content-type"] == "application/pdf"
        assert printed.content.startswith(b"%PDF")
        assert "inline" in printed.headers["content-disposition"]
    with hubs["a"].api() as api_a:
        by_api = api_a.get(f"/v1/transfers/{transfer_id}/letter.pdf")
        assert by_api.status_code == 200
        assert by_api.content.startswith(b"%PDF")
    # another branch's secretary of the receiving hub gets a 404, as for an unknown letter
    assert hubs["other"].get(pdf_path).status_code == 404
    assert hubs["sender"].get("/console/transfers/cd-wuhou:nope/letter.pdf").status_code == 404
    # without a session: the login page
    anonymous = httpx.get(hubs["a"].url + pdf_path)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/console/login")


def test_a_branch_finds_its_letters_behind_newer_ones_of_other_branches(
    hubs: dict[str, Any],
) -> None:
    """The list is of the caller's letters, newest first: newer letters to another branch of
    the hub do not push a branch's own out of it."""
    record = new_member(hubs["a"].hub_id, hubs["org_a"], 7400)
    with hubs["a"].api() as api_a:
        assert api_a.post("/v1/members", json=record).status_code == 201
    path = f"/console/members/{record['id']}/transfer"
    form = form_fields(hubs["sender"].get(path).text)
    sent = hubs["sender"].post(
        path,
        data={**form, "toOrganisationId": hubs["org_c"], "letterNumber": "武组转〔2026〕0105"},
    )
    newest = _transfer_id(sent.text, record["id"])
    hub = open_hub(Settings(database_url=hubs["b"].db))
    try:
        with hub.db.read() as conn:
            paths = {org: org_path(conn, hubs[org]) for org in ("org_b", "org_c")}
        as_b = role_principal("taker", Role.SECRETARY, hubs["org_b"], paths["org_b"])
        as_c = role_principal("other", Role.SECRETARY, hubs["org_c"], paths["org_c"])
        assert recent_transfer_ids(hub, as_c, 5) == [newest]
        mine = recent_transfer_ids(hub, as_b, 1)
        assert len(mine) == 1
        assert mine[0] != newest
        everyone = Principal("t", frozenset({"admin"}), None, None, None)
        every = recent_transfer_ids(hub, everyone, 100)
        assert every[0] == newest
        assert recent_transfer_ids(hub, as_b, 100) == every[1:]
    finally:
        hub.close()
