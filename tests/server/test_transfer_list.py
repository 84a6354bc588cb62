"""The letters a caller may see, newest first, found however many newer letters belong to other
branches (the console's transfers page), on both databases and across more than one page of
the search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import insert

from tongxin.server import Hub
from tongxin.server._letters_at_rest import seal_letter
from tongxin.server._policy import Role, role_principal
from tongxin.server._security import Principal, org_path
from tongxin.server._tables import transfer_letters
from tongxin.server._transfers import recent_transfer_ids

from .conftest import uid


def _letters(hub: Hub, org: str, n: int, newest: datetime) -> list[str]:
    """``n`` sent letters from ``org``, the first the newest."""
    ids, rows = [], []
    for k in range(n):
        transfer_id = uid("t")
        envelope = {"letter": {"from": {"organisationId": org}, "to": {"organisationId": "x"}}}
        at = newest - timedelta(seconds=k)
        ids.append(transfer_id)
        rows.append(
            {
                "transfer_id": transfer_id,
                "role": "sender",
                "peer_hub": "elsewhere",
                "member_id": uid("m"),
                "letter": seal_letter(hub.cipher, transfer_id, orjson.dumps(envelope).decode()),
                "letter_digest": "-",
                "state": "issued",
                "history": "[]",
                "member_sealed": b"",
                "member_version": 1,
                "created_at": at,
                "updated_at": at,
            }
        )
    with hub.db.write() as conn:
        conn.execute(insert(transfer_letters), rows)
    return ids


def test_a_branch_finds_its_letters_behind_a_thousand_newer_ones(
    hub: Hub, tree: dict[str, str]
) -> None:
    now = datetime.now(UTC) + timedelta(days=1)
    own = _letters(hub, tree["a"], 30, now - timedelta(hours=1))
    others = _letters(hub, tree["b"], 1_200, now)
    with hub.db.read() as conn:
        path_a, path_b = org_path(conn, tree["a"]), org_path(conn, tree["b"])
    branch_a = role_principal("sec-a", Role.SECRETARY, tree["a"], path_a)
    branch_b = role_principal("sec-b", Role.SECRETARY, tree["b"], path_b)
    assert recent_transfer_ids(hub, branch_a, 20) == own[:20]
    assert recent_transfer_ids(hub, branch_a, 100) == own
    assert recent_transfer_ids(hub, branch_b, 5) == others[:5]
    everyone = Principal("t", frozenset({"admin"}), None, None, None)
    assert recent_transfer_ids(hub, everyone, 3) == others[:3]
    nowhere = role_principal("gone", Role.SECRETARY, "deleted-org", None)
    assert recent_transfer_ids(hub, nowhere, 5) == []
