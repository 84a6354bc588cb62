"""The rules never fail on input the schema lets through: odd but valid values (year 0000,
leap seconds, integers written as 5.0, far-future dates) are checked or passed over, never
raised on."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tongxin.schemas import validate, validate_record
from tongxin.schemas._conformance import valid_package, valid_package_11

EDGES: list[Any] = [
    "0000-01-01", "9999-12-31", "2000-02-29", "1900-01-01", "0000-01", "9999-12", "2024-02",
    "0000-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "2016-12-31T23:59:60Z",
    "2025-01-01T00:00:00-12:00", 0, 1, 5.0, 180, 180.0, 1e3, -1, None, "", "0.00", "99999.99",
    "0000000000.00", True, [], {},
]  # fmt: skip
RECORDS = {c: valid_package()[c][0] for c in ("organisations", "members", "activities",
           "duesPayments", "transfers")}  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted(RECORDS)),
    st.data(),
)
def test_rules_survive_any_edge_value(collection: str, data: st.DataObject) -> None:
    record = dict(RECORDS[collection])
    fields = data.draw(st.lists(st.sampled_from(sorted(record)), min_size=1, max_size=3))
    for name in fields:
        record[name] = data.draw(st.sampled_from(EDGES))
    validate_record(collection, record)  # must not raise
    validate({**valid_package(), collection: [record]})


@pytest.mark.parametrize(
    ("collection", "changes"),
    [
        ("duesPayments", {"period": "0000-01"}),
        ("organisations", {"termYears": 5.0}),
        ("transfers", {"issuedDate": "9999-12-31", "validDays": 180}),
        ("activities", {"endTime": "2016-12-31T23:59:60Z"}),
    ],
)
def test_known_edge_cases(collection: str, changes: dict[str, Any]) -> None:
    validate_record(collection, {**RECORDS[collection], **changes})


RECORDS_11 = {
    "organisations": valid_package_11()["organisations"][3],  # a branch with leaders
    "applicants": valid_package_11()["applicants"][3],  # admitted: every date set
}
LEADER_FIELDS = ("memberId", "name", "post", "since", "until")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(RECORDS_11)), st.data())
def test_the_1_1_rules_survive_any_edge_value(collection: str, data: st.DataObject) -> None:
    record = copy.deepcopy(RECORDS_11[collection])
    fields = data.draw(st.lists(st.sampled_from(sorted(record)), min_size=1, max_size=3))
    for name in fields:
        record[name] = data.draw(st.sampled_from(EDGES))
    if (
        collection == "organisations"
        and isinstance(record.get("leaders"), list)
        and record["leaders"]
    ):
        leader = record["leaders"][0]
        leader[data.draw(st.sampled_from(LEADER_FIELDS))] = data.draw(st.sampled_from(EDGES))
    validate_record(collection, record)  # must not raise
    package = valid_package_11()
    package[collection] = [*package[collection], record]
    validate(package)
