"""API tokens managed by a console administrator: only tokens limited to an organisation of the
administrator's own subtree are listed, made or revoked there (a token without an organisation,
valid for the whole hub, is made and revoked on the hub's command line only), and every change
is audited with the administrator as actor. Secrets are shown once, at creation, and never
stored: the hub keeps their hash."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from tongxin.schemas import problems

from ._db import Database
from ._errors import NotFound
from ._policy import sees
from ._security import Principal, TokenInfo, create_token, list_tokens, revoke_token
from ._tables import audit, org_tree

__all__ = ["create_managed_token", "managed_tokens", "revoke_managed_token"]

_AUDIT_TYPE = "tokens"


def _inside(db: Database, principal: Principal, organisation_ids: set[str]) -> set[str]:
    """The organisations of ``organisation_ids`` that lie in ``principal``'s subtree."""
    if not organisation_ids:
        return set()
    with db.read() as conn:
        rows = conn.execute(
            select(org_tree.c.id, org_tree.c.path).where(org_tree.c.id.in_(organisation_ids))
        ).all()
    return {row.id for row in rows if sees(principal, row.path)}


def managed_tokens(db: Database, principal: Principal) -> list[TokenInfo]:
    """The tokens ``principal`` may manage: those limited to an organisation of its subtree
    (every token for an unrestricted caller)."""
    found = list_tokens(db)
    if not principal.restricted:
        return found
    inside = _inside(db, principal, {t.organisation_id for t in found if t.organisation_id})
    return [t for t in found if t.organisation_id in inside]


def _audit(db: Database, action: str, token_id: str, actor: str, request_id: str) -> None:
    with db.write() as conn:
        conn.execute(
            insert(audit).values(
                at=datetime.now(UTC),
                token_id=actor[:64],
                action=action,
                collection=_AUDIT_TYPE,
                record_id=token_id,
                request_id=request_id[:64],
            )
        )


def create_managed_token(
    db: Database,
    principal: Principal,
    *,
    scopes: list[str],
    organisation_id: str,
    name: str,
    expires_at: datetime | None,
    request_id: str,
) -> tuple[str, TokenInfo]:
    """A new token limited to ``organisation_id`` (which must lie in ``principal``'s subtree):
    its secret (shown once) and what the list shows of it; audited as ``token-create``."""
    if not _inside(db, principal, {organisation_id}):
        raise NotFound(
            problems.NOT_FOUND,
            f"organisation {organisation_id} does not exist in your subtree",
            f"您的管辖范围内不存在党组织 {organisation_id}",
        )
    before = {t.id for t in list_tokens(db)}
    secret = create_token(
        db, scopes, organisation_id=organisation_id, name=name, expires_at=expires_at
    )
    made = next(
        t
        for t in reversed(list_tokens(db))
        if t.id not in before and t.organisation_id == organisation_id and t.name == name
    )
    _audit(db, "token-create", made.id, principal.token_id, request_id)
    return secret, made


def revoke_managed_token(
    db: Database, principal: Principal, token_id: str, *, request_id: str
) -> TokenInfo:
    """Revoke a token ``principal`` may manage (a token outside its reach answers 404 like an
    unknown one); audited as ``token-revoke``."""
    if token_id not in {t.id for t in managed_tokens(db, principal)}:
        raise NotFound(problems.TOKEN_UNKNOWN, f"no token {token_id}", f"没有令牌 {token_id}")
    info = revoke_token(db, token_id)
    _audit(db, "token-revoke", token_id, principal.token_id, request_id)
    return info
