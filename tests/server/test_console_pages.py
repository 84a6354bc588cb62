"""The console's record pages over HTTP against a real hub (SQLite and PostgreSQL): the
organisation tree and its member counts, a member's page, the member, organisation and dues
forms — the standard's rule messages at their fields, a stale version refused as a conflict,
fields the form does not show kept — and a branch secretary who never reaches another branch,
a viewer who cannot edit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from ._console_world import World, csrf, signed_in, two_branches
from .conftest import Backend, Server, organisation, person


def form_fields(html: str) -> dict[str, str]:
    """What a browser would post from the record form as served (inputs and selected
    options; an unchecked box sends nothing)."""
    form = html[html.index('id="record-form"') :]
    out: dict[str, str] = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or 'type="checkbox"' in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        out[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        first = re.search(r'<option value="([^"]*)"', body)
        out[name] = chosen.group(1) if chosen else (first.group(1) if first else "")
    return {k: v.replace("&#34;", '"').replace("&amp;", "&") for k, v in out.items()}


def field_errors(html: str, name: str) -> str:
    found = re.search(rf'<ul class="field-error" id="err-{name}">(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


def _party_group(admin: httpx.Client, world: World) -> None:
    """A party group under branch a, with one member who counts in branch a's subtree."""
    group = organisation(world.ids["a"], name="第一党小组", type="party-group")
    assert admin.post("/v1/organisations", json=group).status_code == 201
    world.ids["group"] = group["id"]
    record = person(group["id"])
    assert admin.post("/v1/members", json=record).status_code == 201
    world.members["a"].append(record)


@pytest.fixture(scope="module")
def world(server: Server, backend: Backend) -> World:
    return two_branches(
        server,
        backend,
        {
            "sec-a": ("a", "secretary"),
            "county": ("root", "organiser"),
            "look": ("root", "viewer"),
        },
        root_name="示范县委",
        more=_party_group,
    )


@pytest.fixture(scope="module")
def county(server: Server, world: World) -> Iterator[httpx.Client]:
    with closing(signed_in(server, world, "county")) as client:
        yield client


@pytest.fixture(scope="module")
def secretary(server: Server, world: World) -> Iterator[httpx.Client]:
    with closing(signed_in(server, world, "sec-a")) as client:
        yield client


@pytest.fixture(scope="module")
def viewer(server: Server, world: World) -> Iterator[httpx.Client]:
    with closing(signed_in(server, world, "look")) as client:
        yield client


def _counts(html: str) -> dict[str, tuple[int, int]]:
    rows = re.findall(r'data-id="([^"]+)" data-direct="(\d+)" data-total="(\d+)"', html)
    return {rid: (int(direct), int(total)) for rid, direct, total in rows}


def test_the_tree_counts_members_of_each_organisation_and_its_subtree(
    county: httpx.Client, secretary: httpx.Client, world: World
) -> None:
    ids = world.ids
    tree = county.get("/console/orgs")
    assert tree.status_code == 200
    assert _counts(tree.text) == {
        ids["root"]: (0, 8),
        ids["a"]: (3, 4),
        ids["group"]: (1, 1),
        ids["b"]: (4, 4),
    }
    own = secretary.get("/console/orgs")
    assert _counts(own.text) == {ids["a"]: (3, 4), ids["group"]: (1, 1)}
    assert "第b支部" not in own.text
    assert ids["b"] not in own.text


def test_a_branch_secretary_never_reaches_another_branch(
    secretary: httpx.Client, county: httpx.Client, world: World
) -> None:
    other = world.members["b"][0]["id"]
    other_org = world.ids["b"]
    token = csrf(secretary.get("/console/orgs").text)
    for path in (
        f"/console/members/{other}",
        f"/console/members/{other}/edit",
        f"/console/members/{other}/dues/new",
        f"/console/members/{other}/transfer",
        f"/console/orgs/{other_org}/edit",
    ):
        page = secretary.get(path)
        assert page.status_code == 404, path
        assert world.members["b"][0]["name"] not in page.text
        if path.endswith(other):
            continue  # the member's page has no form
        posted = secretary.post(path, data={"csrf": token, "name": "改名", "version": "1"})
        assert posted.status_code == 404, path
    # a member moved into branch b by the secretary's form is refused by the write path
    mine = world.members["a"][0]["id"]
    form = form_fields(secretary.get(f"/console/members/{mine}/edit").text)
    assert other_org not in secretary.get(f"/console/members/{mine}/edit").text
    moved = secretary.post(
        f"/console/members/{mine}/edit", data={**form, "organisationId": other_org}
    )
    assert moved.status_code in (403, 404, 422), moved.status_code
    detail = county.get(f"/console/members/{mine}")
    assert 'id="version">1<' in detail.text
    # nor does the secretary's member list or letters page show branch b
    assert other not in secretary.get("/console/transfers").text


def test_a_viewer_reads_but_cannot_edit(viewer: httpx.Client, world: World) -> None:
    member = world.members["a"][1]
    detail = viewer.get(f"/console/members/{member['id']}")
    assert detail.status_code == 200
    assert member["name"] in detail.text
    assert 'id="edit-member"' not in detail.text
    assert "/edit" not in viewer.get("/console/orgs").text
    token = csrf(detail.text)
    for path in (
        f"/console/members/{member['id']}/edit",
        "/console/members/new",
        "/console/orgs/new",
        f"/console/members/{member['id']}/dues/new",
    ):
        assert viewer.get(path).status_code == 403, path
        posted = viewer.post(path, data={"csrf": token, "name": "改名", "version": "1"})
        assert posted.status_code == 403, path
        assert "只能查看" in posted.text
    assert 'id="version">1<' in viewer.get(f"/console/members/{member['id']}").text


def test_a_rule_message_shows_at_its_field_and_a_fixed_form_saves(
    county: httpx.Client, server: Server, world: World
) -> None:
    member = world.members["a"][1]
    path = f"/console/members/{member['id']}/edit"
    form = form_fields(county.get(path).text)
    assert form["version"] == "1"
    assert form["citizenId"] == ""  # never echoed: blank keeps it
    young = f"{int(member['birthDate'][:4]) + 10}{member['birthDate'][4:]}"
    refused = county.post(path, data={**form, "joinedDate": young})
    assert refused.status_code == 422
    assert "未满十八周岁" in field_errors(refused.text, "joinedDate")
    assert 'id="f-joinedDate"' in refused.text
    assert field_errors(refused.text, "name") == ""
    again = form_fields(refused.text)
    assert again["joinedDate"] == young  # what was entered is shown again
    saved = county.post(path, data={**again, "joinedDate": member["joinedDate"], "name": "王新名"})
    assert saved.status_code == 200
    assert saved.url.path == f"/console/members/{member['id']}"
    assert 'id="saved"' in saved.text
    assert "王新名" in saved.text
    with server.client() as admin:
        stored = admin.get(f"/v1/members/{member['id']}?include=sensitive")
    assert stored.headers["etag"] == '"2"'
    assert stored.json()["citizenId"] == member["citizenId"]
    assert stored.json()["phone"] == member["phone"]
    # the page's history comes from the audit log: created by the API, changed by the user
    history = saved.text[saved.text.index('id="history"') :]
    assert "user:county" in history
    assert "修改" in history
    assert "新建" in history


def test_a_stale_version_is_a_conflict_and_nothing_is_lost(
    county: httpx.Client, secretary: httpx.Client, server: Server, world: World
) -> None:
    member = world.members["a"][2]
    path = f"/console/members/{member['id']}/edit"
    mine = form_fields(county.get(path).text)
    theirs = form_fields(secretary.get(path).text)
    first = secretary.post(path, data={**theirs, "workUnit": "县供电公司"})
    assert first.status_code == 200
    assert 'id="saved"' in first.text
    stale = county.post(path, data={**mine, "workUnit": "县水务局"})
    assert stale.status_code == 412
    assert 'id="conflict"' in stale.text
    assert "已被他人修改" in stale.text
    assert "第 2 版" in stale.text
    with server.client() as admin:
        stored = admin.get(f"/v1/members/{member['id']}").json()
    assert (stored["version"], stored["workUnit"]) == (2, "县供电公司")
    # a form without a version is never taken for the current one
    no_version = {k: v for k, v in mine.items() if k != "version"}
    assert county.post(path, data=no_version).status_code == 412


def test_an_edit_keeps_what_the_form_does_not_show(
    county: httpx.Client, server: Server, world: World
) -> None:
    record = person(world.ids["a"], nativePlace="四川成都", lostContact=False)
    with server.client() as admin:
        assert admin.post("/v1/members", json=record).status_code == 201
    path = f"/console/members/{record['id']}/edit"
    form = form_fields(county.get(path).text)
    assert "lostContact" not in form
    assert record["citizenId"] not in county.get(path).text
    saved = county.post(path, data={**form, "workUnit": "县档案馆"})
    assert saved.status_code == 200, saved.text[:500]
    with server.client() as admin:
        stored = admin.get(f"/v1/members/{record['id']}?include=sensitive").json()
    assert stored["version"] == 2
    assert stored["workUnit"] == "县档案馆"
    assert stored["lostContact"] is False  # not on the form: kept
    assert (stored["citizenId"], stored["phone"]) == (record["citizenId"], record["phone"])
    assert stored["nativePlace"] == "四川成都"
    # clearing a sealed field is explicit
    form = form_fields(county.get(path).text)
    cleared = county.post(path, data={**form, "phone--clear": "1"})
    assert cleared.status_code == 200
    with server.client() as admin:
        stored = admin.get(f"/v1/members/{record['id']}?include=sensitive").json()
    assert "phone" not in stored
    assert stored["citizenId"] == record["citizenId"]


def test_organisation_and_dues_forms_save_through_the_write_path(
    secretary: httpx.Client, server: Server, world: World
) -> None:
    new = form_fields(secretary.get("/console/orgs/new").text)
    assert new["parentId"] == world.ids["a"]
    bad = secretary.post(
        "/console/orgs/new", data={**new, "name": "第二党小组", "type": "party-group",
                                   "divisionCode": "12"}
    )  # fmt: skip
    assert bad.status_code == 422
    assert "行政区划代码" in field_errors(bad.text, "divisionCode") or field_errors(
        bad.text, "divisionCode"
    )
    made = secretary.post("/console/orgs/new", data={**form_fields(bad.text), "divisionCode": ""})
    assert made.url.path == "/console/orgs"
    assert "第二党小组" in made.text
    # a secretary cannot put an organisation outside the branch
    top = secretary.post(
        "/console/orgs/new", data={**new, "name": "越级组织", "parentId": world.ids["root"]}
    )
    assert top.status_code in (403, 404, 422)
    assert "越级组织" not in secretary.get("/console/orgs").text
    # the branch itself hangs under the county: the write path refuses that reference for a
    # branch user, as it does for a branch token, and the form says so at the parent field
    path = f"/console/orgs/{world.ids['a']}/edit"
    own = secretary.post(path, data={**form_fields(secretary.get(path).text), "name": "改名"})
    assert own.status_code in (403, 422)
    assert world.ids["root"] in field_errors(own.text, "parentId")
    # an organisation below the branch: renamed, version checked
    path = f"/console/orgs/{world.ids['group']}/edit"
    form = form_fields(secretary.get(path).text)
    renamed = secretary.post(path, data={**form, "name": "第一党小组（新）"})
    assert renamed.url.path == "/console/orgs"
    assert "第一党小组（新）" in renamed.text
    assert secretary.post(path, data={**form, "name": "又改"}).status_code == 412
    # dues: a bad amount at its field, then saved and listed on the member's page
    member = world.members["a"][0]["id"]
    dues_path = f"/console/members/{member}/dues/new"
    dues = form_fields(secretary.get(dues_path).text)
    entry = {**dues, "period": "2026-10", "memberClass": "retired", "amount": "12.5",
             "paidDate": "2026-10-15"}  # fmt: skip
    refused = secretary.post(dues_path, data=entry)
    assert refused.status_code == 422
    assert "两位小数" in field_errors(refused.text, "amount")
    done = secretary.post(dues_path, data={**entry, "amount": "12.50"})
    assert done.url.path == f"/console/members/{member}"
    assert "12.50" in done.text[done.text.index('id="dues"') :]
    with server.client() as admin:
        listed = admin.get("/v1/duesPayments").json()["items"]
    assert [d["amount"] for d in listed if d["memberId"] == member] == ["12.50"]


def test_a_member_created_in_the_console_and_a_dues_payment_edited(
    county: httpx.Client, server: Server, world: World
) -> None:
    new = form_fields(county.get(f"/console/members/new?organisationId={world.ids['b']}").text)
    assert new["organisationId"] == world.ids["b"]
    somebody = person(world.ids["b"])
    entry = {
        **new,
        **{k: str(somebody[k]) for k in ("gender", "birthDate", "citizenId", "phone")},
        "category": somebody["category"],
        "joinedDate": somebody["joinedDate"],
        "fullMembershipDate": somebody.get("fullMembershipDate") or "",
    }
    missing = county.post("/console/members/new", data=entry)
    assert missing.status_code == 422
    assert "姓名" in field_errors(missing.text, "name")
    made = county.post("/console/members/new", data={**entry, "name": "新党员甲"})
    assert made.url.path.startswith("/console/members/")
    member_id = made.url.path.rsplit("/", 1)[1]
    with server.client() as admin:
        stored = admin.get(f"/v1/members/{member_id}?include=sensitive").json()
    assert (stored["name"], stored["citizenId"]) == ("新党员甲", somebody["citizenId"])
    county.post(
        f"/console/members/{member_id}/dues/new",
        data={
            **form_fields(county.get(f"/console/members/{member_id}/dues/new").text),
            "period": "2026-11",
            "memberClass": "salaried",
            "amount": "20.00",
            "paidDate": "2026-11-20",
        },
    )
    page = county.get(f"/console/members/{member_id}").text
    edit = re.search(r'href="(/console/dues/[^"]+/edit)"', page)
    assert edit, page
    form = form_fields(county.get(edit.group(1)).text)
    changed = county.post(edit.group(1), data={**form, "amount": "25.00"})
    assert "25.00" in changed.text[changed.text.index('id="dues"') :]
    assert county.post(edit.group(1), data={**form, "amount": "30.00"}).status_code == 412


@pytest.mark.parametrize(
    "extra",
    [
        {"version": "²"},
        {"version": "9" * 40},
        {"termYears": "²"},
        {"name": "名" * 5000},
        {"organisationId": "../../x"},
        {"citizenId--clear": "1", "phone": "\x00"},
    ],
)
def test_crafted_form_values_never_make_a_server_error(
    county: httpx.Client, world: World, extra: dict[str, str]
) -> None:
    member = world.members["b"][1]["id"]
    for path in (f"/console/members/{member}/edit", f"/console/orgs/{world.ids['b']}/edit"):
        form = form_fields(county.get(path).text)
        answer = county.post(path, data={**form, **extra})
        assert answer.status_code < 500, (path, extra)


def test_the_pages_and_the_rule_messages_in_english(
    server: Server, world: World, county: httpx.Client
) -> None:
    member = world.members["b"][2]
    cookies = dict(county.cookies.items())
    with httpx.Client(base_url=server.url, cookies={**cookies, "tongxin_lang": "en"}) as english:
        assert "Organisation tree" in english.get("/console/orgs").text
        path = f"/console/members/{member['id']}/edit"
        form = form_fields(english.get(path).text)
        refused = english.post(path, data={**form, "phone": "123"})
        assert refused.status_code == 422
        assert "Not saved" in refused.text
        message = field_errors(refused.text, "phone")
        assert message
        assert not re.search(r"[\u4e00-\u9fff]", message)


def test_the_record_pages_need_a_session(server: Server, world: World) -> None:
    member = world.members["a"][0]["id"]
    for path in (
        "/console/orgs",
        "/console/orgs/new",
        "/console/transfers",
        f"/console/members/{member}",
        f"/console/members/{member}/edit",
    ):
        response = httpx.get(server.url + path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/login")
        posted = httpx.post(server.url + path, data={"name": "x"})
        assert posted.status_code in (303, 405), path
