"""The field cipher follows a data-key rotation without a ``stat`` per seal: sealing looks at the
key file at most once per ``CHECK_SECONDS``, opening a blob of a key it lacks looks at once; and
the write path serialises the sensitive fields once, for the seal and the content digest alike."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from tongxin.server._crypto import (
    FieldCipher,
    create_key_file,
    data_key_id,
    read_key_file,
    write_key_file,
)
from tongxin.server._store import content_digest, sensitive_json

SECRET = {"citizenId": "11010519491231002X", "phone": "13800000000"}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "tongxin.key"
    create_key_file(path)
    return path


def _rotate(path: Path) -> bytes:
    """Add a new current data key to the key file, as ``keys rotate-data-key`` starts."""
    ring = read_key_file(path)
    new = os.urandom(32)
    write_key_file(path, ring.with_data((new, *ring.data)))
    return data_key_id(new)


def _key_of(blob: bytes) -> bytes:
    return blob[1:9]


def test_sealing_looks_at_the_key_file_at_most_once_per_interval(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cipher = FieldCipher(read_key_file(key_file), key_file)
    looks = 0
    real = FieldCipher._file_stamp

    def counted(self: FieldCipher) -> Any:
        nonlocal looks
        looks += 1
        return real(self)

    monkeypatch.setattr(FieldCipher, "_file_stamp", counted)
    for n in range(2_000):
        cipher.seal(f"cd-wuhou:m{n}", SECRET)
    assert looks <= 2


def test_a_rotation_is_followed_by_sealing_within_the_interval(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FieldCipher, "CHECK_SECONDS", 0.0)
    cipher = FieldCipher(read_key_file(key_file), key_file)
    new = _rotate(key_file)
    blob = cipher.seal("cd-wuhou:m1", SECRET)
    assert _key_of(blob) == new
    assert cipher.open("cd-wuhou:m1", blob) == SECRET


def test_opening_a_blob_of_a_new_key_looks_at_once(key_file: Path) -> None:
    serving = FieldCipher(read_key_file(key_file), key_file)  # looks again only in a second
    new = _rotate(key_file)
    rotating = FieldCipher(read_key_file(key_file))
    blob = rotating.seal("cd-wuhou:m1", SECRET)
    assert _key_of(blob) == new
    assert serving.open("cd-wuhou:m1", blob) == SECRET
    assert _key_of(serving.seal("cd-wuhou:m2", SECRET)) == new  # and seals with it from then on


@pytest.mark.parametrize(
    ("record", "sensitive"),
    [
        ({"id": "cd-wuhou:m1", "name": "张三", "organisationId": "cd-wuhou:o1"}, SECRET),
        ({"id": "cd-wuhou:o1", "name": "第一党支部", "type": "branch"}, {}),
        ({"z": [3, {"b": 1, "a": None}], "a": "\u2028"}, {"phone": "1", "citizenId": "2"}),
    ],
)
def test_the_content_digest_is_unchanged_by_serialising_once(
    record: dict[str, Any], sensitive: dict[str, Any]
) -> None:
    before = hashlib.sha256(
        orjson.dumps([record, sensitive], option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    assert content_digest(record, sensitive) == before
    assert content_digest(record, sensitive, sensitive_json(sensitive)) == before


def test_the_seal_of_serialised_fields_opens_to_the_same_fields(key_file: Path) -> None:
    cipher = FieldCipher(read_key_file(key_file), key_file)
    for fields in (SECRET, {"phone": "13800000000"}):
        blob = cipher.seal_json("cd-wuhou:m1", sensitive_json(fields))
        assert cipher.open("cd-wuhou:m1", blob) == fields
