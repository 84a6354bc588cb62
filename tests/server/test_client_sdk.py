"""``tongxin.client`` against a real hub process, on SQLite and PostgreSQL: typed records,
exceptions per problem type, paging, bulk, the change feed, and retries that never write twice."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tongxin.client import (
    PROBLEM_CLASSES,
    AsyncClient,
    Client,
    Delete,
    Deleted,
    Forbidden,
    InvalidRecord,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    RetryPolicy,
    ServerError,
    TongxinError,
    Unauthorized,
    Upsert,
    error_from_problem,
)
from tongxin.schemas import Member, Organisation, problems

from .conftest import HUB_ID, Server, organisation, person

FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05)


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, token=server.tokens["admin"], retry=FAST) as hub:
        yield hub


@pytest.fixture
def branch(client: Client) -> str:
    root = client.organisations.create(organisation())
    return client.organisations.create(organisation(root.id)).id


def test_create_get_update_delete_with_typed_records(client: Client, branch: str) -> None:
    created = client.members.create(person(branch))
    assert isinstance(created, Member)
    assert created.version == 1
    read = client.members.get(created.id)
    assert read == created
    read.phone = "13912345678"
    updated = client.members.update(read)
    assert (updated.version, updated.phone) == (2, "13912345678")
    with pytest.raises(PreconditionFailed) as stale:
        client.members.update(read)  # still version 1
    assert stale.value.current_version == 2
    assert stale.value.status == 412
    client.members.delete(created.id, if_match=2)
    with pytest.raises(Deleted) as gone:
        client.members.get(created.id)
    assert gone.value.code == "deleted"


def test_a_record_without_id_gets_one_under_the_hub_prefix(client: Client, branch: str) -> None:
    body = person(branch)
    del body["id"]
    created = client.members.create(body)
    assert created.id.startswith(f"{HUB_ID}:")


def test_models_are_accepted_as_they_are(client: Client, branch: str) -> None:
    model = Organisation.model_validate(
        {**organisation(branch), "version": 1, "updatedAt": "2026-01-01T00:00:00+08:00"}
    )
    assert client.organisations.create(model).name == model.name


def test_refusals_raise_the_class_of_their_problem(
    server: Server, client: Client, branch: str
) -> None:
    with pytest.raises(InvalidRecord) as invalid:
        client.members.create(person(branch, gender="x"))
    assert invalid.value.status == 422
    error = next(e for e in invalid.value.errors if e.pointer == "/gender")
    assert error.rule
    assert error.message_zh
    assert error.message_en
    with pytest.raises(NotFound):
        client.members.get(f"{HUB_ID}:nobody")
    with pytest.raises(PreconditionRequired):
        client.request("DELETE", f"/v1/organisations/{branch}")
    stranger = Client(server.url, token="not-a-token", retry=FAST)
    with stranger, pytest.raises(Unauthorized):
        stranger.members.get(f"{HUB_ID}:x")
    reader = Client(server.url, token=server.tokens["reader"], retry=FAST)
    with reader, pytest.raises(Forbidden) as forbidden:
        reader.members.create(person(branch))
    assert forbidden.value.code == "scope-missing"
    assert isinstance(forbidden.value, TongxinError)


def test_list_follows_next_and_yields_every_record_once(client: Client) -> None:
    root = client.organisations.create(organisation())
    ids = {client.members.create(person(root.id)).id for _ in range(7)}
    listed = [m.id for m in client.members.list(organisation_id=root.id, page_size=3)]
    assert sorted(listed) == sorted(ids)
    assert all(m.citizen_id is None for m in client.members.list(organisation_id=root.id))


def test_bulk_reports_every_line_and_a_resent_bulk_writes_nothing_twice(
    client: Client, branch: str
) -> None:
    people = [person(branch) for _ in range(4)]
    operations: list[Any] = [Upsert(p, collection="members") for p in people]
    operations.insert(2, Upsert(person(branch, birthDate="nope"), collection="members"))
    first = list(client.bulk(operations))
    assert [r.index for r in first] == [0, 1, 2, 3, 4]
    assert [r.outcome for r in first] == ["created", "created", "error", "created", "created"]
    assert first[2].problems[0].pointer.startswith("/record/")
    again = list(client.bulk(operations))
    assert [r.outcome for r in again] == ["unchanged"] * 2 + ["error"] + ["unchanged"] * 2
    gone = list(client.bulk([Delete("members", people[0]["id"], if_match=1)]))
    assert gone[0].outcome == "deleted"


def test_change_feed_iterates_and_keeps_its_cursor(client: Client, branch: str) -> None:
    first = client.members.create(person(branch))
    feed = client.changes(types=["members"], limit=2)
    before = [c.id for c in feed]  # several pages of two
    assert before[-1] == first.id
    assert len(before) == len(set(before))
    assert feed.cursor is not None
    created = client.members.create(person(branch))
    later = client.changes(since=feed.cursor, types=["members"])
    items = list(later)
    assert [(c.collection, c.id, c.version) for c in items] == [("members", created.id, 1)]
    assert isinstance(items[0].record, Member)


def test_validate_a_record_and_a_package(client: Client, branch: str) -> None:
    report = client.validate(Member.model_validate({**person(branch), **_server()}))
    assert report.valid
    bad = client.validate({"schemaVersion": "1.0", "publisher": "x", "members": [{}]})
    assert not bad.valid
    assert bad.issues
    assert all(issue.pointer for issue in bad.issues)


def _server() -> dict[str, Any]:
    return {"version": 1, "updatedAt": "2026-01-01T00:00:00+08:00"}


class _Flaky(httpx.BaseTransport):
    """Forwards to the real hub, but first answers ``status`` (or breaks the connection
    after the hub has acted) ``times`` times for requests whose path starts with ``path``."""

    def __init__(self, path: str, times: int, status: int | None = None) -> None:
        self.real = httpx.HTTPTransport()
        self.path, self.left, self.status = path, times, status
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.startswith(self.path) or self.left == 0:
            return self.real.handle_request(request)
        self.left -= 1
        self.calls += 1
        if self.status is not None:
            return httpx.Response(
                self.status,
                headers={"Retry-After": "0", "Content-Type": "application/problem+json"},
                json={"code": "database-unavailable", "status": self.status},
            )
        response = self.real.handle_request(request)
        response.read()  # the hub has done its work; the answer is lost on the way back
        response.close()
        raise httpx.ReadError("connection reset", request=request)

    def close(self) -> None:
        self.real.close()


def _flaky_client(server: Server, transport: httpx.BaseTransport) -> Client:
    return Client(server.url, token=server.tokens["admin"], retry=FAST, transport=transport)


def test_503_and_429_are_retried(server: Server, branch: str) -> None:
    for status in (503, 429):
        flaky = _Flaky("/v1/members", 2, status)
        with _flaky_client(server, flaky) as hub:
            assert hub.members.create(person(branch)).version == 1
        assert flaky.calls == 2


def test_retries_end_in_the_hub_s_own_answer(server: Server, branch: str) -> None:
    flaky = _Flaky("/v1/members", 10, 503)
    with _flaky_client(server, flaky) as hub, pytest.raises(TongxinError) as failed:
        hub.members.create(person(branch))
    assert failed.value.status == 503
    assert flaky.calls == FAST.attempts


def test_lost_answers_are_retried_without_writing_twice(
    server: Server, client: Client, branch: str
) -> None:
    body = person(branch)
    del body["id"]
    lost = _Flaky("/v1/members", 1)
    with _flaky_client(server, lost) as hub:
        created = hub.members.create(body)
    assert lost.calls == 1
    assert created.version == 1
    same = [m for m in client.members.list(organisation_id=branch) if m.name == body["name"]]
    assert [m.id for m in same] == [created.id]

    lost = _Flaky(f"/v1/members/{created.id}", 1)
    with _flaky_client(server, lost) as hub:
        created.phone = "13700000000"
        assert hub.members.update(created).version == 2
        assert lost.calls == 1
        lost.left = 1
        hub.members.delete(created.id, if_match=2)  # its first answer is lost too
        assert lost.calls == 2
    with pytest.raises(Deleted):
        client.members.get(created.id)

    people = [person(branch) for _ in range(3)]
    lost = _Flaky("/v1/bulk", 1)
    with _flaky_client(server, lost) as hub:
        results = list(hub.bulk([Upsert(p, collection="members") for p in people]))
    assert lost.calls == 1
    assert [r.index for r in results] == [0, 1, 2]
    assert all(r.ok for r in results)
    assert {client.members.get(p["id"]).version for p in people} == {1}


def test_the_async_client_has_the_same_surface(server: Server, branch: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, token=server.tokens["admin"], retry=FAST) as hub:
            created = await hub.members.create(person(branch))
            read = await hub.members.get(created.id)
            read.phone = "13600000000"
            assert (await hub.members.update(read)).version == 2
            listed = [m.id async for m in hub.members.list(organisation_id=branch)]
            assert created.id in listed
            results = [r async for r in hub.bulk([Upsert(person(branch), collection="members")])]
            assert results[0].outcome == "created"
            feed = hub.changes(types=["members"])
            assert [c async for c in feed]
            assert feed.cursor
            with pytest.raises(PreconditionFailed):
                await hub.members.update(read)
            await hub.members.delete(created.id, if_match=2)

    asyncio.run(scenario())


def test_every_catalogued_problem_code_has_its_class() -> None:
    """The client's exceptions follow the one catalogue of problem codes."""
    assert len(problems.CATALOGUE) > 50
    for code, entry in problems.CATALOGUE.items():
        for status in (entry.status, *(s for s, _ in entry.also)):
            error = error_from_problem(status, {"code": code})
            assert error.status == status, code
            if status < 500:
                assert not isinstance(error, ServerError), code
    for code in PROBLEM_CLASSES:
        assert code in problems.CATALOGUE, code


def test_the_guide_s_example_runs_as_written(
    server: Server, branch: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (Path(__file__).parents[2] / "docs" / "client.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    monkeypatch.setenv("TONGXIN_URL", server.url)
    monkeypatch.setenv("TONGXIN_TOKEN", server.tokens["admin"])
    monkeypatch.setenv("TONGXIN_ORGANISATION", branch)
    exec(compile(blocks[0], "docs/client.md", "exec"), {})
    out = capsys.readouterr().out
    assert "已被他人修改，当前版本 2" in out
    assert "/gender" in out
    assert "下次从这里读" in out
