"""What a check is, what it found, and the context a run shares between its checks."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from tongxin.schemas import citizen_id_check

__all__ = [
    "LEVELS",
    "Check",
    "Context",
    "Exchange",
    "Fail",
    "Result",
    "Skip",
    "Target",
]

#: The levels in order: each includes the ones before it.
LEVELS = ("read", "write", "federation")
#: The id prefix of every record the kit writes: ``<hub-id>:txc-<run>-…``.
RECORD_PREFIX = "txc-"
_EXCERPT = 600
_RETRIES = 3


class Fail(Exception):  # noqa: N818 - a check's verdict, raised like an assertion
    """The target broke the check: what was found (English, Chinese)."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


class Skip(Exception):  # noqa: N818
    """The check does not apply to this target (why, English and Chinese)."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


@dataclass(frozen=True)
class Check:
    """One check: a stable id, the section of ``spec/`` it tests, MUST or SHOULD, its level,
    its title in both languages, what the spec requires, and the function that runs it."""

    id: str
    spec: str
    must: bool
    level: str
    title_zh: str
    title_en: str
    requires: str
    run: Callable[[Context], None]


@dataclass(frozen=True)
class Exchange:
    """A request and the start of its response, for a failure report."""

    request: str
    response: str


@dataclass(frozen=True)
class Result:
    check: Check
    status: str  # pass | fail | skip
    detail: str = ""
    detail_zh: str = ""
    exchange: Exchange | None = None


@dataclass
class Target:
    """What a run is pointed at and allowed to do."""

    url: str
    token: str
    level: str = "read"
    sandbox: str | None = None
    peer_keys: Path | None = None
    manifest: Path | None = None
    transport: httpx.BaseTransport | None = None
    timeout: float = 30.0
    #: Examples per operation of the fuzzing stage (0: no fuzzing).
    fuzz: int = 0


def excerpt(text: str, limit: int = _EXCERPT) -> str:
    return text if len(text) <= limit else text[:limit] + " …"


def describe(request: httpx.Request) -> str:
    """``METHOD URL`` and the body's start (the token never appears)."""
    line = f"{request.method} {request.url}"
    headers = [
        f"{name}: {value}"
        for name, value in request.headers.items()
        if name.lower() in {"if-match", "idempotency-key", "content-type"}
    ]
    body = request.content.decode("utf-8", "replace") if request.content else ""
    return "\n".join([line, *headers, *([excerpt(body, 300)] if body else [])])


def summarise(response: httpx.Response) -> str:
    head = f"{response.status_code} {response.headers.get('content-type', '')}".rstrip()
    etag = response.headers.get("etag")
    lines = [head, *([f"ETag: {etag}"] if etag else [])]
    return "\n".join([*lines, excerpt(response.text)])


@dataclass
class Context:
    """Shared by the checks of one run: the HTTP client, discovery, the sandbox and the
    manifest of every record written (saved before each write, so a crash leaves it)."""

    target: Target
    client: httpx.Client
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    last: Exchange | None = None
    written: list[dict[str, str]] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    _serial: int = 0

    # -- HTTP -----------------------------------------------------------------------------------

    def call(self, method: str, path: str, *, token: bool = True, **kwargs: Any) -> httpx.Response:
        """One request; remembered as the exchange a failure reports."""
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers.setdefault("Authorization", f"Bearer {self.target.token}")
        for attempt in range(_RETRIES + 1):
            try:
                response = self.client.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as error:
                self.last = Exchange(f"{method} {path}", f"(no response: {error})")
                raise Fail(
                    f"{method} {path}: no response ({error})", f"{method} {path} 无响应（{error}）"
                ) from None
            wait = response.headers.get("retry-after", "")
            if (
                response.status_code != 429
                or attempt == _RETRIES
                or not (wait.isascii() and wait.isdigit())
            ):
                break
            time.sleep(min(int(wait), 10))  # the target's rate limit: wait as it asks
        self.remember(response)
        return response

    def remember(self, response: httpx.Response) -> None:
        self.last = Exchange(describe(response.request), summarise(response))

    def json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise Fail(
                f"{response.request.method} {response.request.url.path}: the body is not JSON",
                f"{response.request.method} {response.request.url.path} 的响应体不是 JSON",
            ) from None

    def discovery(self) -> dict[str, Any]:
        if "discovery" not in self.cache:
            response = self.call("GET", "/.well-known/tongxin", token=False)
            body = self.json(response)
            if response.status_code != 200 or not isinstance(body, dict):
                raise Fail(
                    f"discovery answered {response.status_code}",
                    f"发现文档返回状态 {response.status_code}",
                )
            self.cache["discovery"] = body
        found: dict[str, Any] = self.cache["discovery"]
        return found

    @property
    def hub_id(self) -> str:
        hub = self.discovery().get("hub")
        if not isinstance(hub, dict) or not isinstance(hub.get("id"), str):
            raise Fail("discovery has no hub.id", "发现文档缺少 hub.id")
        return str(hub["id"])

    # -- the sandbox ----------------------------------------------------------------------------

    def sandbox(self) -> str:
        if self.target.sandbox is None:
            raise Skip(
                "read-only run: writing needs --sandbox-organisation",
                "只读运行：写入检查需要 --sandbox-organisation",
            )
        return self.target.sandbox

    def new_id(self, kind: str = "m") -> str:
        self._serial += 1
        return f"{self.hub_id}:{RECORD_PREFIX}{self.run_id}-{kind}{self._serial}"

    def note_written(self, collection: str, record_id: str) -> None:
        entry = {"type": collection, "id": record_id}
        if entry in self.written:
            return
        self.written.append(entry)
        if self.target.manifest is not None:
            save_manifest(self.target.manifest, self.target.url, self.written)

    def member(self, **fields: Any) -> dict[str, Any]:
        """A valid member record of the sandbox organisation with a fresh citizen ID."""
        rng = secrets.SystemRandom()
        birth = date(1960, 1, 1) + timedelta(days=rng.randrange(12000))
        first17 = f"110101{birth:%Y%m%d}{rng.randrange(1000):03d}"
        joined = date(birth.year + 25, 7, 1)
        record: dict[str, Any] = {
            "id": self.new_id(),
            "name": "测试党员",
            "gender": "1" if int(first17[-1]) % 2 else "2",
            "birthDate": birth.isoformat(),
            "citizenId": first17 + citizen_id_check(first17),
            "organisationId": self.sandbox(),
            "category": "full",
            "joinedDate": joined.isoformat(),
            "fullMembershipDate": date(joined.year + 1, 7, 1).isoformat(),
            "status": "normal",
        }
        record.update(fields)
        return record

    def create_member(self, **fields: Any) -> tuple[dict[str, Any], httpx.Response]:
        """Create a member (recorded in the manifest first); Fail unless 201."""
        record = self.member(**fields)
        self.note_written("members", record["id"])
        response = self.call("POST", "/v1/members", json=record)
        if response.status_code != 201:
            raise Fail(
                f"could not create a member to test with: {response.status_code}",
                f"无法创建用于检查的党员记录：状态 {response.status_code}",
            )
        return record, response


def save_manifest(path: Path, target: str, written: list[dict[str, str]]) -> None:
    """The manifest: the target and every record written, readable by ``cleanup``."""
    path.write_text(
        json.dumps({"target": target, "records": written}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
