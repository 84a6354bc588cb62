"""The few HTTP calls a roster import or export makes to a hub (public API only): discovery,
listing a collection, and ``POST /v1/bulk`` with an Idempotency-Key, resumed after a broken
connection. (The typed client SDK will replace this module.)"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson

__all__ = ["HubClient", "HubRequestError"]

_RETRY_STATUS = {409, 429, 502, 503, 504}


class HubRequestError(Exception):
    """The hub refused a request or could not be reached; ``en``/``zh`` say why."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


class HubClient:
    """A hub at ``url`` reached with the bearer ``token``; ``client`` may be injected."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        client: httpx.Client | None = None,
        retries: int = 6,
        backoff: float = 0.5,
    ) -> None:
        self.http = client or httpx.Client(base_url=url.rstrip("/"), timeout=300)
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.retries, self.backoff = retries, backoff
        self._discovery: dict[str, Any] | None = None

    def close(self) -> None:
        self.http.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self.http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise HubRequestError(f"hub unreachable: {exc}", f"无法连接枢纽：{exc}") from None
        if response.status_code != 200:
            raise _refused(response)
        return response.json()

    def discovery(self) -> dict[str, Any]:
        """``/.well-known/tongxin`` (cached)."""
        if self._discovery is None:
            self._discovery = dict(self._get("/.well-known/tongxin"))
        return self._discovery

    @property
    def hub_id(self) -> str:
        return str(self.discovery()["hub"]["id"])

    def records(self, collection: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every record of ``collection`` the token may read, page by page."""
        path: str | None = f"/v1/{collection}"
        query: dict[str, Any] | None = {"limit": self.page_size, **params}
        while path:
            page = self._get(path, query)
            yield from page.get("items", [])
            path, query = page.get("next"), None

    @property
    def page_size(self) -> int:
        return int(self.discovery().get("limits", {}).get("maxPageSize", 100))

    @property
    def bulk_lines(self) -> int:
        return int(self.discovery().get("limits", {}).get("maxBulkLines", 1000))

    def bulk(
        self, lines: list[bytes], progress: Callable[[int], None] | None = None
    ) -> list[dict[str, Any]]:
        """Send ``lines`` (NDJSON operations) as one bulk request and return one result per
        line. The Idempotency-Key is derived from the body, so a retry after a broken
        connection replays what was committed and writes nothing twice."""
        body = b"".join(line.rstrip(b"\n") + b"\n" for line in lines)
        key = "roster-" + hashlib.sha256(body).hexdigest()[:40]
        headers = {"Idempotency-Key": key, "Content-Type": "application/x-ndjson"}
        last: Exception | None = None
        for attempt in range(self.retries):
            results: list[dict[str, Any]] = []
            try:
                with self.http.stream("POST", "/v1/bulk", content=body, headers=headers) as r:
                    if r.status_code in _RETRY_STATUS:
                        r.read()
                        last = _refused(r)
                        time.sleep(_wait(r, self.backoff * 2**attempt))
                        continue
                    if r.status_code != 200:
                        r.read()
                        raise _refused(r)
                    for raw in r.iter_lines():
                        if raw.strip():
                            results.append(orjson.loads(raw))
                            if progress is not None and len(results) % 50 == 0:
                                progress(len(results))
            except (httpx.TransportError, orjson.JSONDecodeError) as exc:
                last = exc
                time.sleep(self.backoff * 2**attempt)
                continue
            if len(results) == len(lines):
                if progress is not None:
                    progress(len(results))
                return results
            last = HubRequestError("the hub answered fewer lines than sent", "枢纽返回的结果不全")
            time.sleep(self.backoff * 2**attempt)
        if isinstance(last, HubRequestError):
            raise last
        raise HubRequestError(f"bulk request failed: {last}", f"批量提交失败：{last}")


def _wait(response: httpx.Response, default: float) -> float:
    try:
        return min(float(response.headers.get("Retry-After", default)), 30.0)
    except ValueError:
        return default


def _refused(response: httpx.Response) -> HubRequestError:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    code = problem.get("code", response.status_code) if isinstance(problem, dict) else ""
    detail = problem.get("detail", "") if isinstance(problem, dict) else ""
    zh = problem.get("detailZh") or detail
    return HubRequestError(
        f"hub answered {response.status_code} {code}: {detail}",
        f"枢纽拒绝了请求（{response.status_code}）：{zh}",
    )
