"""Console accounts: staff users with a role bound to an organisation subtree, their passwords
(argon2id), login with growing delays and a lock, and browser sessions.

A user is made on the hub's machine (``tongxin user create``) with a one-time password; the
first login asks for a new one. Five failed logins in a row lock the account until
``tongxin user reset-password``. Every login, logout, failure and lock is written to the hub's
audit log (type ``console-users``). A session is a random cookie value of which the hub keeps
only the SHA-256, with its own CSRF token; it ends at logout, after :data:`SESSION_HOURS`, or
when the user is disabled or its password reset.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlmodel import Field, SQLModel

from tongxin.schemas import problems

from ._audit import operator_id
from ._db import Database
from ._errors import BadRequest, Conflict, NotFound
from ._policy import Role, role_principal
from ._security import Principal, org_path
from ._tables import audit, metadata

__all__ = [
    "LOCK_AFTER",
    "SESSION_HOURS",
    "ConsoleSession",
    "ConsoleUser",
    "LoginOutcome",
    "Session",
    "UserInfo",
    "change_password",
    "create_user",
    "disable_user",
    "end_session",
    "failure_delay",
    "list_users",
    "login",
    "open_session",
    "reset_password",
]

#: Failed logins in a row that lock an account.
LOCK_AFTER = 5
#: A session's lifetime from login.
SESSION_HOURS = 8
_DELAY_BASE = 0.25
_DELAY_MAX = 4.0
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
_AUDIT_TYPE = "console-users"
_hasher = PasswordHasher()  # argon2id with the library's current parameters
_DUMMY = _hasher.hash("not a password of anyone")


class ConsoleTable(SQLModel):
    """Console tables live in the hub's metadata (so migrations and ``alembic check`` see
    them)."""

    metadata = metadata


def _stamp(nullable: bool) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class ConsoleUser(ConsoleTable, table=True):
    """A console user: role, organisation, password hash, failed-login state."""

    __tablename__ = "console_users"

    username: str = Field(sa_column=Column(String(32), primary_key=True))
    organisation_id: str = Field(sa_column=Column(String(96), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    password_hash: str = Field(sa_column=Column(String(200), nullable=False))
    #: The password is a one-time password (new user, reset): the next login must change it.
    must_change: bool = Field(sa_column=Column(Boolean, nullable=False))
    failed_logins: int = Field(sa_column=Column(Integer, nullable=False))
    last_failed_at: datetime | None = _stamp(True)
    locked_at: datetime | None = _stamp(True)
    disabled_at: datetime | None = _stamp(True)
    created_at: datetime = _stamp(False)


class ConsoleSession(ConsoleTable, table=True):
    """A browser session: the SHA-256 of its cookie value, its user and CSRF token."""

    __tablename__ = "console_sessions"

    id_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    username: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    csrf: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = _stamp(False)
    expires_at: datetime = _stamp(False)


users: Table = ConsoleUser.__table__  # type: ignore[attr-defined]
sessions: Table = ConsoleSession.__table__  # type: ignore[attr-defined]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _one_time_password() -> str:
    return secrets.token_urlsafe(12)


def write_audit(
    conn: Connection, action: str, username: str, *, actor: str | None, request_id: str | None
) -> None:
    """An audit row about a console user (``actor``: ``user:<name>`` of the one acting)."""
    conn.execute(
        insert(audit).values(
            at=datetime.now(UTC),
            token_id=actor,
            action=action[:16],
            collection=_AUDIT_TYPE,
            record_id=username[:96],
            request_id=(request_id or operator_id())[:64],
        )
    )


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What ``tongxin user list`` shows of a user (never the password hash)."""

    username: str
    organisation_id: str
    role: str
    state: str
    failed_logins: int
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "username": self.username,
            "organisationId": self.organisation_id,
            "role": self.role,
            "state": self.state,
            "failedLogins": self.failed_logins,
            "createdAt": self.created_at.isoformat(timespec="seconds"),
        }


def _state(row: Any) -> str:
    if row.disabled_at is not None:
        return "disabled"
    if row.locked_at is not None:
        return "locked"
    return "must-change-password" if row.must_change else "active"


def _info(row: Any) -> UserInfo:
    created = _aware(row.created_at)
    assert created is not None
    return UserInfo(
        row.username, row.organisation_id, row.role, _state(row), row.failed_logins, created
    )


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise BadRequest(
            problems.UNKNOWN_ROLE,
            f"unknown role {role}; known: {known}",
            f"未知角色 {role}；可用：{known}",
        ) from None


def create_user(db: Database, username: str, organisation_id: str, role: str) -> str:
    """Store a new user and return its one-time password (the only time it is visible)."""
    if not _USERNAME.fullmatch(username):
        raise BadRequest(
            problems.INVALID_USERNAME,
            "a username is 2 to 32 lower-case letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
            "用户名为 2 至 32 个小写字母、数字或 . _ -，以字母或数字开头",
        )
    checked = _role(role)
    password = _one_time_password()
    with db.write() as conn:
        if org_path(conn, organisation_id) is None:
            raise BadRequest(
                problems.UNKNOWN_ORGANISATION,
                f"organisation {organisation_id} does not exist on this hub",
                f"本枢纽不存在党组织 {organisation_id}",
            )
        if conn.execute(select(users.c.username).where(users.c.username == username)).first():
            raise Conflict(
                problems.USER_EXISTS, f"user {username} exists", f"用户 {username} 已存在"
            )
        conn.execute(
            insert(users).values(
                username=username,
                organisation_id=organisation_id,
                role=checked.value,
                password_hash=_hasher.hash(password),
                must_change=True,
                failed_logins=0,
                created_at=datetime.now(UTC),
            )
        )
        write_audit(conn, "user-create", username, actor=None, request_id=None)
    return password


def list_users(db: Database) -> list[UserInfo]:
    """Every user, by name."""
    with db.read() as conn:
        rows = conn.execute(select(users).order_by(users.c.username)).all()
    return [_info(row) for row in rows]


def _existing(conn: Connection, username: str) -> Any:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        raise NotFound(problems.USER_UNKNOWN, f"no user {username}", f"没有用户 {username}")
    return row


def disable_user(db: Database, username: str) -> UserInfo:
    """Disable a user and end its sessions (idempotent)."""
    with db.write() as conn:
        row = _existing(conn, username)
        if row.disabled_at is None:
            conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(disabled_at=datetime.now(UTC))
            )
            write_audit(conn, "user-disable", username, actor=None, request_id=None)
        conn.execute(delete(sessions).where(sessions.c.username == username))
        return _info(_existing(conn, username))


def reset_password(db: Database, username: str) -> str:
    """A new one-time password for ``username``; unlocks the account and ends its sessions."""
    password = _one_time_password()
    with db.write() as conn:
        _existing(conn, username)
        conn.execute(
            update(users)
            .where(users.c.username == username)
            .values(
                password_hash=_hasher.hash(password),
                must_change=True,
                failed_logins=0,
                locked_at=None,
                last_failed_at=None,
            )
        )
        conn.execute(delete(sessions).where(sessions.c.username == username))
        write_audit(conn, "user-reset", username, actor=None, request_id=None)
    return password


def failure_delay(failures: int) -> float:
    """Seconds a failed login waits before it is answered: doubling with each failure in a
    row (0.25 s, 0.5 s, 1 s, 2 s, …, at most 4 s)."""
    if failures <= 0:
        return 0.0
    return float(min(_DELAY_BASE * 2 ** (failures - 1), _DELAY_MAX))


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in user: who, as which caller, and the session's CSRF token."""

    username: str
    role: Role
    organisation_id: str
    principal: Principal
    csrf: str
    must_change: bool


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """The result of a login: a session cookie value, or why not (``bad``, ``locked``,
    ``disabled``) with the failures in a row so far."""

    cookie: str | None
    reason: str | None = None
    failures: int = 0


def login(db: Database, username: str, password: str, *, client: str) -> LoginOutcome:
    """Check a password; on success open a session. ``client`` (the address) goes to the
    audit log with every attempt."""
    request_id = f"console:{client}"
    with db.write() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None:
            _verify(_DUMMY, password)  # the same work as for a real user
            write_audit(conn, "login-failed", username, actor=None, request_id=request_id)
            return LoginOutcome(None, "bad", 1)
        if row.disabled_at is not None or row.locked_at is not None:
            reason = "disabled" if row.disabled_at is not None else "locked"
            write_audit(conn, "login-refused", username, actor=None, request_id=request_id)
            return LoginOutcome(None, reason, row.failed_logins)
        if not _verify(row.password_hash, password):
            return _failed(conn, row, request_id)
        values: dict[str, Any] = {"failed_logins": 0, "last_failed_at": None}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = _hasher.hash(password)
        conn.execute(update(users).where(users.c.username == username).values(**values))
        cookie = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        conn.execute(
            insert(sessions).values(
                id_hash=_digest(cookie),
                username=username,
                csrf=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + timedelta(hours=SESSION_HOURS),
            )
        )
        write_audit(conn, "login", username, actor=f"user:{username}", request_id=request_id)
    return LoginOutcome(cookie)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _failed(conn: Connection, row: Any, request_id: str) -> LoginOutcome:
    failures = row.failed_logins + 1
    values: dict[str, Any] = {"failed_logins": failures, "last_failed_at": datetime.now(UTC)}
    locked = failures >= LOCK_AFTER
    if locked:
        values["locked_at"] = datetime.now(UTC)
    conn.execute(update(users).where(users.c.username == row.username).values(**values))
    write_audit(conn, "login-failed", row.username, actor=None, request_id=request_id)
    if locked:
        write_audit(conn, "locked", row.username, actor=None, request_id=request_id)
    return LoginOutcome(None, "locked" if locked else "bad", failures)


def open_session(db: Database, cookie: str | None) -> Session | None:
    """The session of a cookie value, or None when unknown, expired, or its user can no
    longer log in."""
    if not cookie or len(cookie) > 100:
        return None
    with db.read() as conn:
        found = conn.execute(
            select(sessions, users)
            .join(users, users.c.username == sessions.c.username)
            .where(sessions.c.id_hash == _digest(cookie))
        ).first()
        if found is None:
            return None
        expires = _aware(found.expires_at)
        if expires is None or expires <= datetime.now(UTC):
            return None
        if found.disabled_at is not None or found.locked_at is not None:
            return None
        path = org_path(conn, found.organisation_id)
    role = Role(found.role)
    principal = role_principal(found.username, role, found.organisation_id, path)
    return Session(
        found.username, role, found.organisation_id, principal, found.csrf, found.must_change
    )


def end_session(db: Database, cookie: str, session: Session, *, client: str) -> None:
    """Log out: the session is deleted and the logout audited."""
    with db.write() as conn:
        conn.execute(delete(sessions).where(sessions.c.id_hash == _digest(cookie)))
        write_audit(
            conn,
            "logout",
            session.username,
            actor=session.principal.token_id,
            request_id=f"console:{client}",
        )


_MIN_PASSWORD = 10


def change_password(db: Database, session: Session, old: str, new: str, *, client: str) -> str:
    """Replace the user's password (``old`` must match; ``new`` at least 10 characters and not
    the old one). Returns "" on success, else the reason (``bad-old``, ``too-short``,
    ``same``)."""
    if len(new) < _MIN_PASSWORD:
        return "too-short"
    if new == old:
        return "same"
    with db.write() as conn:
        row = _existing(conn, session.username)
        if not _verify(row.password_hash, old):
            return "bad-old"
        conn.execute(
            update(users)
            .where(users.c.username == session.username)
            .values(password_hash=_hasher.hash(new), must_change=False)
        )
        write_audit(
            conn,
            "password-change",
            session.username,
            actor=session.principal.token_id,
            request_id=f"console:{client}",
        )
    return ""
