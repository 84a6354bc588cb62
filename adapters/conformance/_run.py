"""Running the checks of a level against a target, and removing what a run wrote."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ._catalogue import CHECKS
from ._model import LEVELS, Check, Context, Fail, Result, Skip, Target

__all__ = ["Report", "TargetError", "checks_for", "cleanup", "preflight", "run"]


class TargetError(Exception):
    """The run cannot start: the target is unreachable, refuses the token, or lacks the
    sandbox organisation (a setup mistake, not a conformance failure)."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


@dataclass(frozen=True)
class Report:
    target: str
    level: str
    results: tuple[Result, ...]
    written: tuple[dict[str, str], ...]
    cleanup_failures: tuple[str, ...] = ()
    #: The conformance the target claims in its discovery document (``conformance``).
    claimed: str | None = None

    @property
    def passed(self) -> bool:
        """Every MUST check of the level passed (a skip is "not applicable here")."""
        return all(r.status != "fail" for r in self.results if r.check.must)


def checks_for(level: str, only: Iterable[str] | None = None) -> list[Check]:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    wanted = set(LEVELS[: LEVELS.index(level) + 1])
    chosen = set(only) if only is not None else None
    return [c for c in CHECKS if c.level in wanted and (chosen is None or c.id in chosen)]


def _client(target: Target) -> httpx.Client:
    return httpx.Client(
        base_url=target.url.rstrip("/"),
        timeout=target.timeout,
        transport=target.transport,
        follow_redirects=False,
    )


def _one(ctx: Context, check: Check) -> Result:
    ctx.last = None
    try:
        check.run(ctx)
    except Fail as failure:
        return Result(check, "fail", failure.en, failure.zh, ctx.last)
    except Skip as skip:
        return Result(check, "skip", skip.en, skip.zh)
    except Exception as error:  # a check tripped over an answer it could not read
        return Result(
            check, "fail", f"unexpected answer: {error!r}", f"无法理解的响应：{error!r}", ctx.last
        )
    return Result(check, "pass")


def run(target: Target, *, only: Iterable[str] | None = None, keep: bool = False) -> Report:
    """Run the checks of ``target.level`` (all of them, or those ``only`` names), then delete
    what was written unless ``keep``."""
    checks = checks_for(target.level, only)
    with _client(target) as client:
        preflight(client, target)
        ctx = Context(target, client)
        results = tuple(_one(ctx, check) for check in checks)
        failures: tuple[str, ...] = ()
        if ctx.written and not keep:
            failures = tuple(remove(client, target.token, ctx.written))
            if not failures and target.manifest is not None:
                target.manifest.unlink(missing_ok=True)
    claimed = (ctx.cache.get("discovery") or {}).get("conformance")
    return Report(
        target.url,
        target.level,
        results,
        tuple(ctx.written),
        failures,
        str(claimed) if claimed is not None else None,
    )


def preflight(client: httpx.Client, target: Target) -> None:
    """Raise :class:`TargetError` unless the target answers, accepts the token for reading
    and holds the sandbox organisation."""
    auth = {"Authorization": f"Bearer {target.token}"}
    try:
        response = client.get("/v1/organisations", params={"limit": "1"}, headers=auth)
        if response.status_code in (401, 403):
            raise TargetError(
                f"the target refuses the token ({response.status_code}): give a token with "
                "records:read (and records:write for level write)",
                f"目标枢纽拒绝该令牌（{response.status_code}）：请提供具有 records:read"
                "（write 级别还需 records:write）权限的令牌",
            )
        if target.sandbox is not None:
            found = client.get(f"/v1/organisations/{target.sandbox}", headers=auth)
            if found.status_code != 200:
                raise TargetError(
                    f"the sandbox organisation {target.sandbox} cannot be read "
                    f"({found.status_code}): create it first",
                    f"无法读取测试组织 {target.sandbox}（{found.status_code}）：请先建立该组织",
                )
    except httpx.HTTPError as error:
        raise TargetError(
            f"cannot reach {target.url}: {error}", f"无法连接 {target.url}：{error}"
        ) from None


def remove(client: httpx.Client, token: str, written: list[dict[str, str]]) -> list[str]:
    """Delete every record of the manifest still there (newest first); what could not be."""
    auth = {"Authorization": f"Bearer {token}"}
    failures = []
    for entry in reversed(written):
        path = f"/v1/{entry['type']}/{entry['id']}"
        try:
            response = client.get(path, headers=auth)
            if response.status_code in (404, 410):
                continue
            version = response.json().get("version") if response.status_code == 200 else None
            etag = f'"{version}"' if isinstance(version, int) else "*"
            response = client.delete(path, headers={**auth, "If-Match": etag})
        except ValueError as error:
            failures.append(f"{entry['id']}: {error}")
            continue
        except httpx.HTTPError as error:
            failures.append(f"{entry['id']}: {error}")
            continue
        if response.status_code not in (204, 404, 410):
            failures.append(f"{entry['id']}: {response.status_code}")
    return failures


def cleanup(
    manifest: Path, token: str, *, transport: httpx.BaseTransport | None = None
) -> list[str]:
    """Delete the records a crashed run listed in ``manifest``; the ones that could not be."""
    data: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
    written = [
        {"type": str(e["type"]), "id": str(e["id"])}
        for e in data.get("records", [])
        if ":txc-" in str(e.get("id", ""))
    ]
    target = Target(str(data["target"]), token, transport=transport)
    with _client(target) as client:
        failures = remove(client, token, written)
    if not failures:
        manifest.unlink()
    return failures
