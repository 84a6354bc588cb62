"""Key store, key set documents, pinning across rotation and revocation, parent certificates."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest

from tongxin.federation import (
    KeyStatus,
    KeyStore,
    KeyStoreError,
    TrustError,
    certify_child,
    fingerprint,
    key_store_path,
    normalise_fingerprint,
    parse_key_set,
    trust_sibling,
    verify_key_set,
)

from .conftest import NOW, make_store

DAY = 86_400


def test_store_file_is_private_and_reloads(wuhou: KeyStore) -> None:
    assert stat.S_IMODE(wuhou.path.stat().st_mode) == 0o600
    again = KeyStore.load(wuhou.path)
    assert again.current == wuhou.current
    assert [k.status for k in again.public_keys()] == [KeyStatus.CURRENT, KeyStatus.NEXT]
    assert again.signer().sign(b"x") == wuhou.signer().sign(b"x")


def test_store_readable_by_others_is_refused(wuhou: KeyStore) -> None:
    wuhou.path.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        KeyStore.load(wuhou.path)


def test_store_is_never_overwritten(wuhou: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="exists"):
        KeyStore.create(wuhou.path, "cd-wuhou")


def test_missing_store_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="tongxin init"):
        KeyStore.load(tmp_path / "none.keys.json")


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("sqlite:///data/hub.db", {}, Path("data/hub.keys.json")),
        ("sqlite:////srv/tongxin/tongxin.db?timeout=5", {}, Path("/srv/tongxin/tongxin.keys.json")),
        ("postgresql+psycopg://u@h/db", {}, Path("tongxin.keys.json")),
        ("sqlite:///:memory:", {}, Path("tongxin.keys.json")),
        (None, {"TONGXIN_DATABASE_URL": "sqlite:///x/y.db"}, Path("x/y.keys.json")),
        (None, {}, Path("tongxin.keys.json")),
        ("sqlite:///a.db", {"TONGXIN_KEYS_FILE": "/etc/k.json"}, Path("/etc/k.json")),
    ],
)
def test_key_store_path_rule(url: str | None, env: dict[str, str], expected: Path) -> None:
    assert key_store_path(url, env) == expected


def test_fingerprint_form() -> None:
    fp = fingerprint(bytes(32))
    assert len(fp) == 52
    assert fp == fp.lower()
    spaced = " ".join(fp[i : i + 4] for i in range(0, 52, 4)).upper()
    assert normalise_fingerprint(spaced) == fp
    with pytest.raises(ValueError, match="fingerprint"):
        normalise_fingerprint(fp[:-1])


def test_kid_names_the_hub(wuhou: KeyStore) -> None:
    assert wuhou.current.kid.startswith("cd-wuhou:")


def test_key_set_document_shape(wuhou: KeyStore) -> None:
    doc = wuhou.document(NOW)
    jwk = doc["keys"][0]
    assert {jwk["kty"], jwk["crv"], jwk["status"]} == {"OKP", "Ed25519", "current"}
    assert jwk["nbf"] < jwk["exp"]
    assert all("d" not in k for k in doc["keys"])
    assert {s["kid"] for s in doc["signatures"]} == {k.kid for k in wuhou.public_keys()}


def test_pinned_key_set_verifies(wuhou: KeyStore) -> None:
    key_set = verify_key_set(wuhou.document(NOW), [wuhou.current.fingerprint], NOW)
    assert key_set.hub_id == "cd-wuhou"
    assert key_set.current == wuhou.current


def test_wrong_pin_is_refused(wuhou: KeyStore, jinjiang: KeyStore) -> None:
    with pytest.raises(TrustError) as caught:
        verify_key_set(wuhou.document(NOW), [jinjiang.current.fingerprint], NOW)
    assert caught.value.code == "fingerprint-mismatch"


def test_tampered_key_set_is_refused(wuhou: KeyStore, jinjiang: KeyStore) -> None:
    doc = wuhou.document(NOW)
    doc["keys"].append(jinjiang.current.to_jwk())  # an attacker adds a key of their own
    with pytest.raises(TrustError) as caught:
        verify_key_set(doc, [wuhou.current.fingerprint], NOW)
    assert caught.value.code == "keyset-unsigned"


def test_rotation_is_followed_through_the_old_pin(wuhou: KeyStore) -> None:
    pins = verify_key_set(wuhou.document(NOW), [wuhou.current.fingerprint], NOW).fingerprints()
    old, upcoming = wuhou.current, wuhou.key_set().keys[1]
    new = wuhou.rotate(NOW + DAY)
    assert new.kid == upcoming.kid  # the pre-published key takes over
    retired = wuhou.key_set().key(old.kid)
    assert retired is not None
    assert retired.status is KeyStatus.RETIRED
    assert retired.exp == NOW + DAY + 7 * DAY
    # A peer that pinned only the old key follows the rotation during the overlap...
    after = verify_key_set(wuhou.document(NOW + 2 * DAY), [old.fingerprint], NOW + 2 * DAY)
    assert after.current == new
    # ...and one that pinned the whole earlier set does so for as long as the next key lives.
    assert verify_key_set(wuhou.document(NOW + 30 * DAY), pins, NOW + 30 * DAY).current == new


def test_revoked_key_does_not_vouch(wuhou: KeyStore) -> None:
    old = wuhou.current
    wuhou.revoke(old.kid, NOW + DAY)
    listed = wuhou.key_set().key(old.kid)
    assert listed is not None
    assert listed.status is KeyStatus.REVOKED
    assert wuhou.current.status is KeyStatus.CURRENT
    assert wuhou.current.kid != old.kid
    assert len([k for k in wuhou.public_keys() if k.status is KeyStatus.NEXT]) == 1
    with pytest.raises(TrustError, match="fingerprint-mismatch"):
        verify_key_set(wuhou.document(NOW + DAY), [old.fingerprint], NOW + DAY)
    reloaded = KeyStore.load(wuhou.path)
    assert reloaded.key_set().key(old.kid) == listed
    assert "d" not in next(
        e for e in orjson.loads(wuhou.path.read_bytes())["keys"] if e["kid"] == old.kid
    )


def test_revoking_an_unknown_key(wuhou: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="no key"):
        wuhou.revoke("cd-wuhou:nope")


def test_parse_refuses_non_key_sets() -> None:
    with pytest.raises(TrustError, match="keyset-invalid"):
        parse_key_set({"keys": []})
    with pytest.raises(TrustError, match="keyset-invalid"):
        parse_key_set({"format": "tongxin-keys/1", "keys": [{"kty": "RSA"}]})


def test_siblings_trust_each_other_through_the_parent(tmp_path: Path) -> None:
    parent, a, b = (make_store(tmp_path, h) for h in ("cd", "cd-wuhou", "cd-jinjiang"))
    cert = certify_child(parent.signer(), "cd", "cd-jinjiang", b.key_set().fingerprints(), NOW)
    # Hub A knows only its parent's key (pinned) and receives B's key set and certificate.
    parent_keys = verify_key_set(parent.document(NOW), [parent.current.fingerprint], NOW)
    trusted = trust_sibling(cert, parent_keys, b.document(NOW), NOW)
    assert trusted.current == b.current
    # A certificate for B does not vouch for another hub's key set.
    with pytest.raises(TrustError, match="fingerprint-mismatch"):
        trust_sibling(cert, parent_keys, a.document(NOW), NOW)


def test_certificate_checks(tmp_path: Path) -> None:
    parent, other, b = (make_store(tmp_path, h) for h in ("cd", "zg", "cd-jinjiang"))
    parent_keys = parent.key_set()
    forged = certify_child(other.signer(), "cd", "cd-jinjiang", [b.current.fingerprint], NOW)
    with pytest.raises(TrustError, match="certificate-unknown-key"):
        trust_sibling(forged, parent_keys, b.document(NOW), NOW)
    cert = certify_child(parent.signer(), "cd", "cd-jinjiang", [b.current.fingerprint], NOW, 10)
    with pytest.raises(TrustError, match="certificate-expired"):
        trust_sibling(cert, parent_keys, b.document(NOW), NOW + 11)
    cert["certificate"]["subject"] = "cd-wuhou"
    with pytest.raises(TrustError, match="certificate-tampered"):
        trust_sibling(cert, parent_keys, b.document(NOW), NOW)


def test_rotation_falls_due_before_the_current_key_expires(wuhou: KeyStore) -> None:
    assert wuhou.rotate_if_due(NOW + 300 * DAY) is None
    old = wuhou.current
    new = wuhou.rotate_if_due(old.exp - 29 * DAY)
    assert new is not None
    assert new.kid != old.kid
    assert new.exp > old.exp
