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
- a console user (``tongxin user create``): its role's scopes (:data:`ROLE_SCOPES`), always
  limited to its organisation's subtree, exactly like a token made with ``--organisation``;
- nobody else: discovery, the key set and certificates are public; everything else answers 401.
"""

from __future__ import annotations

from enum import StrEnum

from tongxin.federation import RelationError
from tongxin.schemas import problems

from ._errors import Forbidden
from ._security import NOWHERE, Principal

__all__ = [
    "PEER_RELATIONS",
    "ROLE_SCOPES",
    "Act",
    "PeerAct",
    "Role",
    "authorize",
    "authorize_peer",
    "authorize_search",
    "may_learn",
    "role_principal",
    "sees",
]


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
    METRICS = "metrics"
    """The hub's metrics: hub-wide, so only an unrestricted admin token (unless the hub's
    settings make them public)."""


#: The scope each act needs, and whether a subtree-limited token may do it at all.
_NEEDS: dict[Act, tuple[str, bool]] = {
    Act.READ: ("records:read", True),
    Act.VALIDATE: ("records:read", True),
    Act.WRITE: ("records:write", True),
    Act.AUDIT: ("admin", False),
    Act.PEERS: ("admin", False),
    Act.METRICS: ("admin", False),
}


class Role(StrEnum):
    """The role of a console user; each is bound to one organisation's subtree."""

    ADMIN = "admin"
    ORGANISER = "organiser"
    SECRETARY = "secretary"
    VIEWER = "viewer"


#: The token scopes each console role holds: a console user is decided by :func:`authorize`
#: and :func:`sees` like a token limited to its organisation.
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({"admin"}),
    Role.ORGANISER: frozenset({"records:read", "records:read-sensitive", "records:write"}),
    Role.SECRETARY: frozenset({"records:read", "records:read-sensitive", "records:write"}),
    Role.VIEWER: frozenset({"records:read"}),
}


def role_principal(username: str, role: Role, organisation_id: str, path: str | None) -> Principal:
    """The caller a console user is: its role's scopes, limited to ``organisation_id`` (tree
    ``path``; an organisation no longer in the tree sees nothing)."""
    return Principal(f"user:{username}", ROLE_SCOPES[role], organisation_id, path or NOWHERE, 0)


class PeerAct(StrEnum):
    """What a peer hub asks to do."""

    PULL_FEED = "pull-feed"
    HINT = "hint"
    DELIVER_LETTER = "deliver-letter"
    DELIVER_RECEIPT = "deliver-receipt"
    DELIVER_WITHDRAWAL = "deliver-withdrawal"


_ANY_PEER = frozenset({"parent", "child", "sibling"})
#: The relations (as this hub recorded the peer) allowed each act: only a parent pulls the feed
#: (through its minimising policy), only a child hints; letters, receipts and withdrawals travel
#: between any peers.
PEER_RELATIONS: dict[PeerAct, frozenset[str]] = {
    PeerAct.PULL_FEED: frozenset({"parent"}),
    PeerAct.HINT: frozenset({"child"}),
    PeerAct.DELIVER_LETTER: _ANY_PEER,
    PeerAct.DELIVER_RECEIPT: _ANY_PEER,
    PeerAct.DELIVER_WITHDRAWAL: _ANY_PEER,
}
_PEER_WORDS = {
    PeerAct.PULL_FEED: ("pull the change feed", "拉取变更流"),
    PeerAct.HINT: ("send a pull hint", "发送拉取提示"),
}
_RELATION_ZH = {"parent": "上级", "child": "下级", "sibling": "同级"}


def authorize(principal: Principal, act: Act) -> None:
    """Refuse (403) a token that lacks the scope of ``act``, or is limited to a subtree where
    ``act`` is hub-wide."""
    scope, subtree_ok = _NEEDS[act]
    principal.require(scope)
    if principal.restricted and not subtree_ok:
        raise Forbidden(
            problems.SUBTREE_TOKEN,
            "this needs a token that is not limited to an organisation subtree",
            "此操作需要不限组织范围的令牌",
        )


def authorize_peer(peer_hub: str, relation: str, act: PeerAct) -> None:
    """Refuse (403 ``relation-not-allowed``, naming the relation and the act) a peer whose
    relation to this hub does not allow ``act``."""
    allowed = PEER_RELATIONS[act]
    if relation in allowed:
        return
    en, zh = _PEER_WORDS.get(act, (act.value, "执行该操作"))
    raise RelationError(
        problems.RELATION_NOT_ALLOWED,
        f"{peer_hub} is a {relation} of this hub: only a {' or '.join(sorted(allowed))} may {en}",
        f"{peer_hub} 是本枢纽的{_RELATION_ZH.get(relation, '')}枢纽，"
        f"只有{'或'.join(_RELATION_ZH[r] for r in sorted(allowed))}枢纽可以{zh}",
        relation=relation,
        action=act.value,
    )


def authorize_search(principal: Principal, citizen_id: object, phone: object) -> None:
    """Refuse (403) a search by citizen ID or phone to a caller that may not read them: an
    answer of one or none would confirm a number it may not see. The API's search and the
    console's share this check."""
    if (citizen_id or phone) and not principal.has("records:read-sensitive"):
        raise Forbidden(
            problems.SCOPE_MISSING,
            "searching by citizenId or phone needs the scope records:read-sensitive",
            "按身份证号或电话查找需要读取敏感信息的权限",
            scope="records:read-sensitive",
        )


def may_learn(principal: Principal, paths: list[str | None]) -> bool:
    """What a refusal may reveal about another record (its id, URL, version): only to a caller
    that reads records and could read that one (``paths``: the tree paths of the record's
    organisations). Everyone else learns only that the value is taken."""
    return principal.has("records:read") and sees(principal, *paths)


def sees(principal: Principal, *paths: str | None) -> bool:
    """True when the token may see a record placed at any of the organisation tree ``paths``
    (an unrestricted token sees everything; a subtree token what lies under its organisation)."""
    if not principal.restricted:
        return True
    return any(principal.sees(path) for path in paths if path is not None)
