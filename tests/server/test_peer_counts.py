"""The feedback counts a child reports (``spec/federation.md`` §4.6) as the parent takes them:
integers only, the whole document refused when anything else is in it, replaced (never added)
on each pull, and organisations the child may not speak for left out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from tongxin.federation import RelationError
from tongxin.server._hub import Hub
from tongxin.server._peercounts import (
    FORMAT,
    CountsError,
    feedback_totals,
    peer_counts_table,
    served_counts,
    store_counts,
)
from tongxin.server._peers import get_peer
from tongxin.server._pull import speaks_for

from .conftest import feedback_item, known_peer

DAY = date(2026, 11, 30)


def _row(org: str = "cd-county:o1", day: str = "2026-11-30", **counts: Any) -> dict[str, Any]:
    values = {"received": 3, "answeredWithin7Days": 1, "open": 2, **counts}
    return {"organisationId": org, "day": day, **values}


def _document(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "hubId": "cd-county", "items": list(rows)}


@pytest.fixture
def fresh(hub: Hub) -> Hub:
    """The module's hub without any counts held."""
    with hub.db.write() as conn:
        conn.execute(delete(peer_counts_table))
    return hub


def _peer(hub: Hub, hub_id: str, relation: str = "child") -> None:
    if get_peer(hub, hub_id) is None:
        known_peer(hub, hub_id, relation)


def _held(hub: Hub) -> list[tuple[str, str, str, int, int, int]]:
    with hub.db.read() as conn:
        rows = conn.execute(select(peer_counts_table).order_by(peer_counts_table.c.day)).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _totals(hub: Hub, start: date = DAY, end: date = DAY) -> tuple[int, int, int]:
    with hub.db.read() as conn:
        block = feedback_totals(conn, None, start, end)
    return block["received"], block["answeredWithin7Days"], block["open"]


def test_counts_are_replaced_never_added_and_summed_in_the_period(fresh: Hub) -> None:
    hub = fresh
    _peer(hub, "cd-county")
    may = speaks_for(hub, "cd-county")
    document = _document(_row(), _row(day="2026-11-01", received=1, answeredWithin7Days=0, open=0))
    assert store_counts(hub, "cd-county", document, may) == 2
    assert store_counts(hub, "cd-county", document, may) == 2
    assert len(_held(hub)) == 2
    assert _totals(hub) == (3, 1, 2)
    assert _totals(hub, date(2026, 11, 1)) == (4, 1, 2)
    assert _totals(hub, date(2026, 12, 1), date(2026, 12, 31)) == (0, 0, 0)
    # the next pull reports one answer more and the old day gone: only the new rows remain
    store_counts(hub, "cd-county", _document(_row(answeredWithin7Days=2, open=1)), may)
    assert _totals(hub, date(2026, 11, 1)) == (3, 2, 1)
    store_counts(hub, "cd-county", _document(), may)
    assert _held(hub) == []


@pytest.mark.parametrize(
    "bad",
    [
        "not a document",
        {"format": "tongxin-feedback-counts/2", "items": []},
        {"format": FORMAT, "items": {"a": 1}},
        _document(_row(received="3")),
        _document(_row(received=-1)),
        _document(_row(received=2**40)),
        _document(_row(received=True)),
        _document(_row(received=1.5)),
        _document(_row(answeredWithin7Days=4)),
        _document(_row(open=4)),
        _document(_row(day="30/11/2026")),
        _document(_row(day="2026-02-30")),
        _document(_row(org="")),
        _document(_row(org="o" * 97)),
        _document({**_row(), "body": "路灯坏了"}),
        _document({**_row(), "phone": "13900000000"}),
        _document(_row(), _row()),
    ],
)
def test_a_document_with_anything_but_counts_is_refused_whole(fresh: Hub, bad: Any) -> None:
    hub = fresh
    _peer(hub, "cd-county")
    may = speaks_for(hub, "cd-county")
    store_counts(hub, "cd-county", _document(_row()), may)
    with pytest.raises(CountsError):
        store_counts(hub, "cd-county", bad, may)
    assert _totals(hub) == (3, 1, 2)  # what was held stays


def test_counts_for_organisations_the_child_may_not_speak_for_are_left_out(fresh: Hub) -> None:
    hub = fresh
    _peer(hub, "cd-county")
    _peer(hub, "cd-other")
    document = _document(
        _row(),
        _row(org="cd-other:o9", received=50, answeredWithin7Days=0, open=0),  # a sibling's
        _row(org=f"{hub.hub_id}:o1", received=70, answeredWithin7Days=0, open=0),  # ours
        _row(org="cd-town:o2", received=1, answeredWithin7Days=1, open=0),  # its own child's
    )
    assert store_counts(hub, "cd-county", document, speaks_for(hub, "cd-county")) == 2
    assert _totals(hub) == (4, 2, 2)


def test_only_a_parent_is_served_the_counts(fresh: Hub) -> None:
    hub = fresh
    _peer(hub, "cd-city", "parent")
    _peer(hub, "cd-village", "child")
    _peer(hub, "cd-next", "sibling")
    store_counts(
        hub, "cd-village", _document(_row(org="cd-village:o1")), speaks_for(hub, "cd-village")
    )
    parent = get_peer(hub, "cd-city")
    assert parent is not None
    served = served_counts(hub, parent)
    # what this hub holds from its own child climbs on, as integers
    assert served["items"] == [_row(org="cd-village:o1")]
    for other in ("cd-village", "cd-next"):
        peer = get_peer(hub, other)
        assert peer is not None
        with pytest.raises(RelationError):
            served_counts(hub, peer)


def _stored(hub: Hub, created: datetime, replied_after: timedelta | None) -> None:
    """An item of ``cd-near:o1`` received at ``created`` (UTC), answered ``replied_after``
    later."""
    feedback_item(hub, "cd-near:o1", created, replied_after)


def test_a_hubs_own_feedback_is_served_by_china_standard_time_day(fresh: Hub) -> None:
    hub = fresh
    _peer(hub, "cd-city", "parent")
    evening = datetime(2020, 3, 1, 17, 0, tzinfo=UTC)  # 2 March, 01:00 in Beijing
    _stored(hub, evening, timedelta(days=2))
    _stored(hub, evening, timedelta(days=8))
    _stored(hub, evening, None)
    _stored(hub, evening - timedelta(hours=2), None)  # 1 March, 23:00 in Beijing
    parent = get_peer(hub, "cd-city")
    assert parent is not None
    items = [i for i in served_counts(hub, parent)["items"] if i["organisationId"] == "cd-near:o1"]
    assert items == [
        _row("cd-near:o1", "2020-03-01", received=1, answeredWithin7Days=0, open=1),
        _row("cd-near:o1", "2020-03-02", received=3, answeredWithin7Days=1, open=1),
    ]


def test_many_changed_rows_are_rewritten_and_unchanged_ones_kept(fresh: Hub) -> None:
    hub = fresh
    _peer(hub, "cd-county")
    may = speaks_for(hub, "cd-county")
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(300)]
    first = _document(*(_row(day=d.isoformat()) for d in days))
    assert store_counts(hub, "cd-county", first, may) == 300
    assert _totals(hub, days[0], days[-1]) == (900, 300, 600)
    second = _document(*(_row(day=d.isoformat(), open=0) for d in days[:250]))
    assert store_counts(hub, "cd-county", second, may) == 250
    assert _totals(hub, days[0], days[-1]) == (750, 250, 0)
    third = _document(*(_row(day=d.isoformat(), open=0) for d in days[:249]))
    assert store_counts(hub, "cd-county", third, may) == 249
    assert _totals(hub, days[0], days[-1]) == (747, 249, 0)
