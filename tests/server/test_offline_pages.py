"""The hub's own pages load nothing from another host: every script, style sheet, font and image
is served by the hub, so they work on an intranet with no internet."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest

from tongxin.server.api._docspages import STATIC_DIR

from .conftest import Server

PAGES = ["/docs", "/redoc"]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.urls.append(value)


def _referenced(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    quoted = re.findall(r"""(?:url|Url|_url)\s*[:=(]\s*['"]([^'"]+)['"]""", html)
    return parser.urls + quoted


@pytest.mark.parametrize("page", PAGES)
def test_page_and_everything_it_loads_come_from_the_hub(server: Server, page: str) -> None:
    response = httpx.get(server.url + page)
    assert response.status_code == 200
    urls = _referenced(response.text)
    assert any(u.endswith(".js") for u in urls), urls
    for url in urls:
        parts = urlsplit(url)
        assert not parts.netloc, f"{page} loads {url} from another host"
        assert not parts.scheme, f"{page} loads {url} from another host"
        asset = httpx.get(server.url + url)
        assert asset.status_code == 200, url
        assert asset.content, url
    for host in ("cdn", "jsdelivr", "unpkg", "googleapis", "validator.swagger.io"):
        assert host not in response.text


def test_swagger_ui_does_not_call_the_online_validator(server: Server) -> None:
    assert '"validatorUrl": null' in httpx.get(server.url + "/docs").text


def test_static_files_refuse_paths_outside_the_folder(server: Server) -> None:
    for path in ("/static/../pyproject.toml", "/static/%2e%2e/_hub.py", "/static/vendor/nope.js"):
        assert httpx.get(server.url + path).status_code == 404, path


def test_vendored_files_match_their_manifest_and_carry_a_licence() -> None:
    vendor = STATIC_DIR / "vendor"
    manifest = json.loads((vendor / "manifest.json").read_text())
    on_disk = {p.parent.name for p in vendor.glob("*/*")}
    assert on_disk == set(manifest)
    for name, entry in manifest.items():
        files = {p.name: p for p in (vendor / name).iterdir()}
        assert set(files) == set(entry["files"]), name
        assert "LICENSE" in files, name
        for file, digest in entry["files"].items():
            assert hashlib.sha256(files[file].read_bytes()).hexdigest() == digest, file
