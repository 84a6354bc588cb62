"""What the cross-record rules of 1.1 keep of a record (computed where the record is checked,
possibly in a worker process, and sent to the package's state)."""

from __future__ import annotations

from typing import Any

__all__ = ["Leaders", "applicant_digest", "leaders_digest"]

#: (memberId, post, since, until) of each leader
Leaders = tuple[tuple[str | None, str, str | None, str | None], ...]


def leaders_digest(r: dict[str, Any]) -> Leaders | None:
    """What the cross-record rules need of an organisation's leaders."""
    leaders = r.get("leaders")
    if leaders is None:
        return None
    return tuple((x.get("memberId"), x["post"], x.get("since"), x.get("until")) for x in leaders)


def applicant_digest(r: dict[str, Any]) -> tuple[Any, ...]:
    """(stage, memberId, branchVoteDate, introducers) of an applicant."""
    introducers = r.get("introducers")
    return (
        r.get("stage"),
        r.get("memberId"),
        r.get("branchVoteDate"),
        tuple(introducers) if introducers else (),
    )
