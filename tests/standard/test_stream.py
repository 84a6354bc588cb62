"""The streaming package reader agrees with a whole-document parser, whatever the layout and
however the input is cut into reads, and locates syntax errors."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tongxin.schemas import PackageSyntaxError
from tongxin.schemas._stream import RecordItem, iter_package

COLLECTIONS = frozenset({"members", "activities"})
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)  # what a 64-bit JSON parser keeps exact
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=8)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
tricky = st.sampled_from(['},{"x":1}', "}, {", "}]", "\\", '"', "同心", "\U0001f600"])
records = st.dictionaries(st.text(max_size=6), values | tricky, max_size=5)


class Trickle(io.RawIOBase):
    """A stream that returns at most ``step`` bytes a read, to cut values anywhere."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.at = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.data[self.at : self.at + self.step]
        self.at += len(chunk)
        return chunk


def _read(data: bytes, step: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in iter_package(Trickle(data, step), COLLECTIONS):
        if isinstance(item, RecordItem):
            out.setdefault(item.collection, []).append(item.value)
            assert json.loads(item.raw) == item.value
        else:
            out[item[0]] = item[1]
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(records, max_size=4),
    st.lists(values, max_size=3),
    st.sampled_from([None, 1, 2]),
    st.sampled_from([1, 3, 64, 1 << 20]),
    st.booleans(),
)
def test_reader_matches_json_loads(
    members: list[Any], activities: list[Any], indent: int | None, step: int, ascii_only: bool
) -> None:
    package = {"schemaVersion": "1.0", "members": members, "activities": activities, "x": [1]}
    data = json.dumps(package, indent=indent, ensure_ascii=ascii_only).encode()
    got = _read(data, step)
    assert got.get("members", []) == members
    assert got.get("activities", []) == activities
    assert got["schemaVersion"] == "1.0"
    assert got["x"] == [1]


def test_byte_order_mark_is_skipped() -> None:
    assert _read(b'\xef\xbb\xbf{"members":[{"a":1}]}', 2) == {"members": [{"a": 1}]}


@pytest.mark.parametrize(
    ("data", "line", "column"),
    [
        (b'{"members":[{"id":1},{"id":', 1, 28),
        (b'{\n  "members": [{"id": 1},\n   {"id": 1,,}]}', 3, 13),
        (b'{"a": 1,}', 1, 9),
        (b"[]", 1, 1),
        (b'{"a": 1} x', 1, 10),
        ('{"名称": "同心", "b" 1}'.encode(), 1, 18),
    ],
)
def test_syntax_errors_name_line_and_column(data: bytes, line: int, column: int) -> None:
    for step in (1, 5, 1 << 20):
        with pytest.raises(PackageSyntaxError) as caught:
            _read(data, step)
        assert (caught.value.line, caught.value.column) == (line, column), caught.value
