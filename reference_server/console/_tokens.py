"""``/console/tokens``: administrators manage the hub's API tokens limited to their subtree —
make one (its secret is shown once, on the page that answers the form, and never again), list
them (never a secret), revoke one. Every form carries the session's CSRF token; every change is
audited (:mod:`tongxin.server._tokenadmin`); other roles get 403."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tongxin.server._accounts import Session
from tongxin.server._directory import organisations
from tongxin.server._errors import HubError
from tongxin.server._policy import Role
from tongxin.server._security import SCOPES
from tongxin.server._settings import Settings
from tongxin.server._tokenadmin import (
    create_managed_token,
    managed_tokens,
    revoke_managed_token,
)

from ._page import client_of, csrf_ok, field, hub_of, lang_of, render, signed_in

__all__ = ["WORDS", "tokens_router"]

#: key -> (zh-CN, en)
WORDS: dict[str, tuple[str, str]] = {
    "tokens": ("接口令牌", "API tokens"),
    "new-token": ("新建令牌", "New token"),
    "token-name": ("名称（用途）", "Name (what it is for)"),
    "scopes": ("权限", "Scopes"),
    "expires": ("有效期至（可不填）", "Valid until (optional)"),
    "valid-until": ("有效期至", "Valid until"),
    "create": ("创建", "Create"),
    "id": ("编号", "Id"),
    "state": ("状态", "State"),
    "created": ("创建时间", "Created"),
    "revoke": ("吊销", "Revoke"),
    "no-tokens": ("您的管辖范围内还没有令牌", "No token in your subtree yet"),
    "secret-once": (
        "请立即复制并妥善保存此令牌：它只显示这一次，关闭页面后无法再次查看",
        "Copy this token now and keep it safe: it is shown this once and never again",
    ),
    "admins-only": ("只有管理员可以管理接口令牌", "Only administrators manage API tokens"),
    "bad-expiry": ("有效期须为将来的日期", "The expiry must be a future date"),
    "no-scope": ("请至少选择一项权限", "Choose at least one scope"),
    "revoked": ("已吊销", "Revoked"),
    "active": ("有效", "Active"),
    "expired": ("已过期", "Expired"),
    "subtree-note": (
        "此处只列出限于您管辖范围内党组织的令牌；适用于整个枢纽的令牌只能在服务器命令行管理。",
        "Only tokens limited to an organisation of your subtree are listed here; tokens for "
        "the whole hub are managed on the server's command line only.",
    ),
    "scope-records:read": (
        "读取记录（不含身份证号和电话）",
        "Read records (no citizen ID or phone)",
    ),
    "scope-records:read-sensitive": ("读取身份证号和电话", "Also read citizen ID and phone"),
    "scope-records:write": ("新增、修改、删除记录", "Create, replace and delete records"),
    "scope-admin": ("管理员（含审计日志）", "Administrator (with the audit log)"),
}
_CST = timezone(timedelta(hours=8))


def _expiry(text: str) -> datetime | str | None:
    """A date (``YYYY-MM-DD``, ending at 00:00 China Standard Time), None when empty, or the
    word key of the error."""
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=_CST)
    except ValueError:
        return "bad-expiry"
    return day if day > datetime.now(_CST) else "bad-expiry"


def tokens_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def page(
        request: Request,
        session: Session,
        status: int = 200,
        *,
        error: str | None = None,
        secret: str | None = None,
    ) -> Response:
        hub = hub_of(request)
        listed = await to_thread.run_sync(managed_tokens, hub.db, session.principal)
        orgs = await to_thread.run_sync(organisations, hub, session.principal)
        return render(
            request,
            "tokens.html",
            status,
            words=WORDS,
            session=session,
            tokens=listed,
            orgs=orgs,
            scopes=list(SCOPES),
            error=error,
            secret=secret,
        )

    async def admin(request: Request) -> Session | Response:
        found = await signed_in(request)
        if found.role != Role.ADMIN:
            return render(request, "tokens.html", 403, words=WORDS, session=found, denied=True)
        return found

    @router.get("/console/tokens")
    async def tokens(request: Request) -> Response:
        session = await admin(request)
        if isinstance(session, Response):
            return session
        return await page(request, session)

    @router.post("/console/tokens")
    async def create(request: Request) -> Response:
        session = await admin(request)
        if isinstance(session, Response):
            return session
        form = await request.form()
        if not csrf_ok(session.csrf, form.get("csrf")):
            return await page(request, session, 403, error="csrf")
        scopes = [s for s in form.getlist("scope") if isinstance(s, str) and s in SCOPES]
        if not scopes:
            return await page(request, session, 400, error="no-scope")
        expiry = _expiry(field(form, "expires").strip())
        if isinstance(expiry, str):
            return await page(request, session, 400, error=expiry)
        organisation = field(form, "organisationId").strip() or session.organisation_id
        hub = hub_of(request)
        try:
            secret, _ = await to_thread.run_sync(
                lambda: create_managed_token(
                    hub.db,
                    session.principal,
                    scopes=scopes,
                    organisation_id=organisation,
                    name=field(form, "name").strip()[:100],
                    expires_at=expiry,
                    request_id=f"console:{client_of(request)}",
                )
            )
        except HubError as error:
            return await page(request, session, error.status, error=error.message(lang_of(request)))
        return await page(request, session, 201, secret=secret)

    @router.post("/console/tokens/{token_id}/revoke")
    async def revoke(request: Request, token_id: str) -> Response:
        session = await admin(request)
        if isinstance(session, Response):
            return session
        form = await request.form()
        if not csrf_ok(session.csrf, form.get("csrf")):
            return await page(request, session, 403, error="csrf")
        hub = hub_of(request)
        try:
            await to_thread.run_sync(
                lambda: revoke_managed_token(
                    hub.db,
                    session.principal,
                    token_id[:40],
                    request_id=f"console:{client_of(request)}",
                )
            )
        except HubError as error:
            return await page(request, session, error.status, error=error.message(lang_of(request)))
        return RedirectResponse("/console/tokens", status_code=303)

    return router
