"""Two processes with records cut but not decoded by the reader: the same issues, in the same
order, and the same syntax errors as one process, also where a cut falls inside a record."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from tongxin.schemas import PackageReadError, validate
from tongxin.schemas._synthetic import SyntheticHub, write_package


@pytest.fixture(scope="module")
def text(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cuts") / "package.json"
    write_package(path, SyntheticHub(members=1_500))
    return path.read_text(encoding="utf-8")


def _member(text: str, index: int) -> str:
    return f'"id":"cd-wuhou:m{index:08d}"'


def _change(text: str, index: int, old: str, new: str) -> str:
    start = text.index(_member(text, index))
    end = text.index("\n", start)
    line = text[start:end]
    assert old in line
    return text[:start] + line.replace(old, new, 1) + text[end:]


def _outcome(source: Any, jobs: int) -> Any:
    try:
        return [i.to_dict() for i in validate(source, jobs=jobs).issues]
    except PackageReadError as exc:
        return str(exc)


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, like standard input."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self.inner.readinto(buffer)


CASES = {
    # a cut inside a string, in the middle of a batch and at the start of the second batch
    "comma-in-string": [
        (700, '"workUnit":"', '"workUnit":"甲},乙'),
        (250, '"name":"', '"name":"}]'),
        (1_200, '"version":1', '"version":0'),
    ],
    # a nested object: decoded by the reader, a schema issue in the worker
    "nested": [(900, '"version":1', '"version":1,"x":{"y":1}')],
    # broken JSON inside a record, with a cut inside a string before it
    "syntax": [(300, '"workUnit":"', '"workUnit":"},'), (1_100, '"version":1', '"version":}')],
    "syntax-only": [(1_100, '"gender":"1"', '"gender":"1" "x"')],
    "not-utf8": [(600, '"name":"', '"name":"\udcff')],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_as_one_process(text: str, case: str, tmp_path: Path) -> None:
    for index, old, new in CASES[case]:
        text = _change(text, index, old, new)
    data = text.encode("utf-8", "surrogateescape")
    path = tmp_path / "p.json"
    path.write_bytes(data)
    one = _outcome(path, 1)
    assert one  # every case has findings or an error
    assert _outcome(path, 2) == one
    one = _outcome(data, 1)  # errors name the input
    assert _outcome(data, 2) == one
    assert _outcome(io.BytesIO(data), 2) == one
    assert _outcome(io.BufferedReader(_Pipe(data)), 2) == one


def test_a_named_pipe(text: str, tmp_path: Path) -> None:
    """A path that cannot be read twice (a FIFO, like /dev/stdin) is read decoding every
    record."""
    data = _change(text, 700, '"workUnit":"', '"workUnit":"},').encode()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    try:
        assert _outcome(fifo, 2) == _outcome(data, 1)
    finally:
        writer.join()


def test_garbage_after_a_wrong_cut(text: str) -> None:
    """A cut inside a string, then an error the cut itself causes further on: the error of
    one process, at its place."""
    text = _change(text, 100, '"workUnit":"', '"workUnit":"},\\"')
    data = (text.rstrip() + " x").encode()
    one = _outcome(data, 1)
    assert isinstance(one, str)
    assert "after the package object" in one
    assert _outcome(data, 2) == one


def test_the_heap_is_frozen_for_the_workers_and_given_back(text: str) -> None:
    """Objects that exist before the workers fork are kept from the collector while they run
    (no copied pages), and nothing stays frozen after; a caller's own freeze is left alone."""
    import gc

    held = gc.get_freeze_count()  # an in-process hub of another test may have frozen its start
    gc.unfreeze()
    try:
        assert _outcome(text.encode(), 2) == _outcome(text.encode(), 1)
        assert gc.get_freeze_count() == 0
        gc.freeze()
        frozen = gc.get_freeze_count()
        assert _outcome(text.encode(), 2) == _outcome(text.encode(), 1)
        assert gc.get_freeze_count() == frozen
    finally:
        if not held:
            gc.unfreeze()
