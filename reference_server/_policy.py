"""One authorisation policy: who may do what on this hub (``spec/api.md`` §3,
``spec/federation.md`` §0).

Every route asks :func:`authorize` (a token holder) or :func:`authorize_peer` (a peer hub whose
signed request verified) before it does anything, and the services ask :func:`sees` which
records lie in a token's organisation subtree. The route × caller matrix test
(``tests/server/test_matrix.py``) runs every route against every kind of caller.

Callers and what limits them:

- a token: its scopes (``admin`` implies the others) and, when it was made with
  ``--organisation``, that organisation's subtree; a record outside the subtree does not exist
  for it (404), and a refusal never says where a taken value is;
- a peer hub: its relation to this hub — only a parent pulls the change feed (through its
  minimising policy), only a child hints, any peer delivers letters, receipts and withdrawals;
- nobody else: discovery, the key set and certificates are public; everything else answers 401.
"""

from __future__ import annotations

from enum import StrEnum

from tongxin.federation import FederationError

from ._errors import Forbidden
from ._security import Principal

__all__ = ["Act", "PeerAct", "RelationError", "authorize", "authorize_peer", "sees"]


class Act(StrEnum):
    """What a token holder asks to do."""

    READ = "read"
    """Records, lists, the change feed, transfer letters and histories (subtree applies)."""
    VALIDATE = "validate"
    """A dry run of ``/v1/validate``: nothing is stored, nothing of the hub is read."""
    WRITE = "write"
    """Create, replace, delete, bulk; accept, reject and withdraw transfers (subtree applies)."""
    AUDIT = "audit"
    """The whole audit log: a hub-wide view, so only an unrestricted admin token."""
    PEERS = "peers"
    """The peers and their sync state: hub-wide, so only an unrestricted admin token."""


#: The scope each act needs, and whether a subtree-limited token may do it at all.
_NEEDS: dict[Act, tuple[str, bool]] = {
    Act.READ: ("records:read", True),
    Act.VALIDATE: ("records:read", True),
    Act.WRITE: ("records:write", True),
    Act.AUDIT: ("admin", False),
    Act.PEERS: ("admin", False),
}


class PeerAct(StrEnum):
    """What a peer hub asks to do."""

    PULL_FEED = "pull-feed"
    HINT = "hint"
    DELIVER = "deliver"
    """Letters, receipts and withdrawals of the transfer protocol."""


#: The relations (what *this* hub recorded the peer as) allowed each act.
PEER_RELATIONS: dict[PeerAct, frozenset[str]] = {
    PeerAct.PULL_FEED: frozenset({"parent"}),
    PeerAct.HINT: frozenset({"child"}),
    PeerAct.DELIVER: frozenset({"parent", "child", "sibling"}),
}

_PEER_REASONS = {
    PeerAct.PULL_FEED: (
        "only a parent hub pulls this hub's change feed",
        "只有上级枢纽可以拉取本枢纽的变更流",
    ),
    PeerAct.HINT: ("only a child hub sends pull hints", "只有下级枢纽可以发送拉取提示"),
    PeerAct.DELIVER: ("only a peer hub delivers transfer messages", "只有对等枢纽可以投递转接消息"),
}


class RelationError(FederationError):
    """A peer asked for something its relation to this hub does not allow (403)."""

    status = 403
    title = "Not allowed for this peer"


def authorize(principal: Principal, act: Act) -> None:
    """Refuse (403) a token that lacks the scope of ``act``, or is limited to a subtree where
    ``act`` is hub-wide."""
    scope, subtree_ok = _NEEDS[act]
    principal.require(scope)
    if principal.restricted and not subtree_ok:
        raise Forbidden(
            "this needs a token that is not limited to an organisation subtree",
            "此操作需要不限组织范围的令牌",
            code="subtree-token",
        )


def authorize_peer(peer_hub: str, relation: str, act: PeerAct) -> None:
    """Refuse (403 ``relation-not-allowed``) a peer whose relation does not allow ``act``."""
    if relation not in PEER_RELATIONS[act]:
        en, zh = _PEER_REASONS[act]
        raise RelationError(
            "relation-not-allowed",
            f"{en}; {peer_hub} is recorded here as a {relation}",
            f"{zh}；{peer_hub} 在本枢纽登记为{_RELATION_ZH.get(relation, relation)}",
            relation=relation,
        )


_RELATION_ZH = {"parent": "上级枢纽", "child": "下级枢纽", "sibling": "同级枢纽"}


def sees(principal: Principal, *paths: str | None) -> bool:
    """True when the token may see a record placed at any of the organisation tree ``paths``
    (an unrestricted token sees everything; a subtree token what lies under its organisation)."""
    if not principal.restricted:
        return True
    return any(principal.sees(path) for path in paths if path is not None)
