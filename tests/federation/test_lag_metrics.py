"""Monitoring a federation (``docs/operations.md`` §4): while a child hub is down, its parent's
``/metrics`` shows the replication lag rising and the last exchange failing; once the child is
back, the parent's background rounds reach it again and the lag falls back. Two real ``tongxin
serve`` processes; the city pulls in the background every half second."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.federation._network import Node, city_and_county, seed, wait_for

INTERVAL = 0.5
LABELS = {"peer": "cd-wuhou", "relation": "child"}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    city = Node("cd-city", tmp_path / "city", sync_interval=INTERVAL)
    county = Node("cd-wuhou", tmp_path / "county")
    yield from city_and_county(city, county)


def _gauges(city: Node) -> dict[str, float]:
    """The city's per-peer gauges for the county, from one scrape of ``/metrics``."""
    with city.api() as api:
        scraped = api.get("/metrics")
    assert scraped.status_code == 200, scraped.text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(scraped.text):
        for sample in family.samples:
            if sample.name.startswith("tongxin_peer_") and sample.labels == LABELS:
                found[sample.name.removeprefix("tongxin_peer_")] = sample.value
    return found


def test_replication_lag_rises_while_a_child_is_down_and_falls_back(
    pair: tuple[Node, Node],
) -> None:
    city, county = pair
    _, members = seed(county, 2, 8100)
    wait_for("the city to replicate the county", lambda: ("members", members[1]) in city.rows())
    up = wait_for(
        "a successful round with the county",
        lambda: (g := _gauges(city)) and g["last_error"] == 0 and g,
    )
    assert up["replication_lag_seconds"] >= 0
    assert up["consecutive_failures"] == 0

    county.stop()
    down = wait_for("the round to fail", lambda: (g := _gauges(city))["last_error"] == 1 and g)
    assert down["consecutive_failures"] >= 1
    # Rising: every scrape while the county is down shows a higher lag than the one before,
    # until it is well past what the half-second rounds of a healthy peer ever show.
    samples = [down["replication_lag_seconds"]]

    def risen() -> bool:
        gauges = _gauges(city)
        assert gauges["last_error"] == 1
        assert gauges["replication_lag_seconds"] > samples[-1]
        samples.append(gauges["replication_lag_seconds"])
        return samples[-1] > 10 * INTERVAL

    wait_for("the lag to rise", risen, timeout=60)
    assert len(samples) >= 3
    highest = samples[-1]

    county.start()
    back = wait_for(
        "the lag to fall back once the county is up",
        lambda: (g := _gauges(city))["last_error"] == 0 and g,
        timeout=120,
    )
    assert back["replication_lag_seconds"] < highest
    assert back["consecutive_failures"] == 0
    # ... and it stays low: the background rounds keep succeeding.
    later = [_gauges(city)["replication_lag_seconds"] for _ in range(3)]
    assert max(later) < highest
    # Nothing written while it was down is missed.
    _, more = seed(county, 1, 8200)
    wait_for("the city to replicate the new member", lambda: ("members", more[0]) in city.rows())
