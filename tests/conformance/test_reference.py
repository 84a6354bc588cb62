"""The reference hub passes its own conformance kit at every level, on SQLite and PostgreSQL,
over a real socket; the kit removes what it wrote."""

from __future__ import annotations

import httpx

from tongxin.adapters.conformance import Target, run, to_text

from .conftest import Prepared


def test_the_reference_hub_passes_every_level(prepared: Prepared) -> None:
    manifest = prepared.workdir / "manifest.json"
    report = run(
        Target(
            prepared.url,
            prepared.token,
            "federation",
            sandbox=prepared.sandbox,
            peer_keys=prepared.peer_keys,
            manifest=manifest,
            fuzz=2,
        )
    )
    text = to_text(report)
    assert report.passed, text
    assert all(r.status == "pass" for r in report.results), text
    assert report.written
    assert not report.cleanup_failures
    assert not manifest.exists()
    with httpx.Client(base_url=prepared.url) as client:
        auth = {"Authorization": f"Bearer {prepared.token}"}
        for entry in report.written:
            status = client.get(f"/v1/{entry['type']}/{entry['id']}", headers=auth).status_code
            assert status in (404, 410), entry
