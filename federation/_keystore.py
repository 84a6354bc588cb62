"""The hub's signing keys, kept in a JSON file outside the database (mode 0600).

The file holds the ``current`` key (signs everything), the ``next`` key (published ahead so
peers learn it before it signs), ``retired`` keys until their overlap ends, and the public half
of ``revoked`` keys until they would have expired. :meth:`KeyStore.rotate` and
:meth:`KeyStore.revoke` rewrite it atomically.

Where the file lives (:func:`key_store_path`): ``TONGXIN_KEYS_FILE`` when set; else beside a
SQLite database (``hub.db`` → ``hub.keys.json``); else ``./tongxin.keys.json``.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ._canonical import b64url, b64url_decode
from ._errors import KeyStoreError
from ._keys import KeySet, KeyStatus, PublicKey, fingerprint, key_set_document

__all__ = ["KeyStore", "LocalSigner", "hub_of_kid", "key_store_path"]

STORE_FORMAT = "tongxin-keystore/1"
DAY = 86_400
#: How long a key may verify signatures after it was created.
KEY_LIFETIME = 400 * DAY
#: How long a retired key keeps verifying new signatures after a rotation.
OVERLAP = 7 * DAY
#: How long a retired or revoked key stays listed after ``exp``: documents it signed while
#: valid (letters, receipts) still verify against it, and peers learn of a revocation.
LISTED_AFTER = 400 * DAY


def key_store_path(
    database_url: str | None = None, environ: Mapping[str, str] = os.environ
) -> Path:
    """The key store file for a hub: ``TONGXIN_KEYS_FILE``, else beside a SQLite database
    (``sqlite:///data/hub.db`` → ``data/hub.keys.json``), else ``./tongxin.keys.json``."""
    if environ.get("TONGXIN_KEYS_FILE"):
        return Path(environ["TONGXIN_KEYS_FILE"])
    url = database_url or environ.get("TONGXIN_DATABASE_URL") or "sqlite:///tongxin.db"
    if url.startswith("sqlite") and "///" in url:
        db = url.split("///", 1)[1].split("?", 1)[0]
        if db and db != ":memory:":
            path = Path(db)
            return path.with_name(path.stem + ".keys.json")
    return Path("tongxin.keys.json")


def hub_of_kid(kid: str) -> str:
    """The hub id a key id belongs to (``cd-wuhou:abcd…`` → ``cd-wuhou``)."""
    return kid.rsplit(":", 1)[0]


@dataclass(frozen=True, slots=True)
class LocalSigner:
    """Signs with a private key held by this process."""

    kid: str
    private: Ed25519PrivateKey

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


@dataclass(frozen=True, slots=True)
class _Entry:
    public: PublicKey
    private: Ed25519PrivateKey | None


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _new_entry(hub_id: str, status: KeyStatus, now: int) -> _Entry:
    private = Ed25519PrivateKey.generate()
    raw = _raw_public(private)
    kid = f"{hub_id}:{fingerprint(raw)[:12]}"
    return _Entry(PublicKey(kid, raw, now, now + KEY_LIFETIME, status), private)


class KeyStore:
    """The hub's key file. Build with :meth:`create` or :meth:`load`."""

    def __init__(self, path: Path, hub_id: str, entries: list[_Entry]) -> None:
        self.path, self.hub_id, self._entries = path, hub_id, entries

    # -- files ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, hub_id: str, now: int | None = None) -> KeyStore:
        """A new store with a current and a next key; refuses to overwrite an existing file."""
        now = int(time.time()) if now is None else now
        if path.exists():
            raise KeyStoreError(f"{path} exists already: use `tongxin keys rotate` instead")
        store = cls(
            path,
            hub_id,
            [_new_entry(hub_id, KeyStatus.CURRENT, now), _new_entry(hub_id, KeyStatus.NEXT, now)],
        )
        store.save()
        return store

    @classmethod
    def load(cls, path: Path) -> KeyStore:
        """Read the store; refuses a file that others can read (like ssh does)."""
        try:
            mode = path.stat().st_mode
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise KeyStoreError(
                f"no key store at {path}: run `tongxin init` or `tongxin keys init --hub-id ID`"
            ) from None
        except orjson.JSONDecodeError as error:
            raise KeyStoreError(f"{path} is not JSON: {error}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(f"{path} is readable by others: run `chmod 600 {path}`")
        if not isinstance(data, dict) or data.get("format") != STORE_FORMAT:
            raise KeyStoreError(f"{path} is not a Tongxin key store ({STORE_FORMAT})")
        try:
            entries = [_read_entry(e) for e in data["keys"]]
            return cls(path, str(data["hubId"]), entries)
        except (KeyError, TypeError, ValueError) as error:
            raise KeyStoreError(f"{path}: damaged key entry ({error})") from None

    def save(self) -> None:
        """Write the file atomically with mode 0600."""
        doc = {
            "format": STORE_FORMAT,
            "hubId": self.hub_id,
            "keys": [_write_entry(e) for e in self._entries],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(0o600)
        tmp.replace(self.path)

    def rename(self, hub_id: str) -> None:
        """Give the keys a new hub id (same key material, key ids ``<hub_id>:<fingerprint>``);
        only for a hub that has not federated yet, since peers pin key ids."""
        self.hub_id = hub_id
        self._entries = [
            _Entry(replace(e.public, kid=f"{hub_id}:{e.public.kid.rsplit(':', 1)[1]}"), e.private)
            for e in self._entries
        ]
        self.save()

    # -- reading -------------------------------------------------------------------------------
    def _with(self, status: KeyStatus) -> _Entry:
        found = next((e for e in self._entries if e.public.status is status), None)
        if found is None:
            raise KeyStoreError(f"{self.path} has no {status.value} key: run `tongxin keys rotate`")
        return found

    @property
    def current(self) -> PublicKey:
        return self._with(KeyStatus.CURRENT).public

    def signer(self) -> LocalSigner:
        """Signs with the current key."""
        entry = self._with(KeyStatus.CURRENT)
        assert entry.private is not None  # the current key always has its private half
        return LocalSigner(entry.public.kid, entry.private)

    def public_keys(self) -> tuple[PublicKey, ...]:
        return tuple(e.public for e in self._entries)

    def key_set(self) -> KeySet:
        return KeySet(self.hub_id, self.public_keys())

    def document(self, now: int | None = None) -> dict[str, Any]:
        """The signed key set document for ``/.well-known/tongxin/keys``."""
        now = int(time.time()) if now is None else now
        signers = [
            LocalSigner(e.public.kid, e.private)
            for e in self._entries
            if e.private is not None and e.public.usable_at(now)
        ]
        return key_set_document(self.hub_id, self.public_keys(), signers, now)

    # -- changes -------------------------------------------------------------------------------
    def rotate(self, now: int | None = None, overlap: int = OVERLAP) -> PublicKey:
        """``next`` becomes ``current``; the old current retires (verifying for ``overlap``
        seconds); a new ``next`` is made. Saves the file and returns the new current key."""
        now = int(time.time()) if now is None else now
        kept: list[_Entry] = []
        for entry in self._prune(now):
            key = entry.public
            if key.status is KeyStatus.CURRENT:
                entry = _Entry(
                    replace(key, status=KeyStatus.RETIRED, exp=min(key.exp, now + overlap)),
                    entry.private,
                )
            elif key.status is KeyStatus.NEXT:
                entry = _promote(entry, now)
            kept.append(entry)
        if not any(e.public.status is KeyStatus.CURRENT for e in kept):
            kept.append(_new_entry(self.hub_id, KeyStatus.CURRENT, now))
        kept.append(_new_entry(self.hub_id, KeyStatus.NEXT, now))
        self._entries = kept
        self.save()
        return self.current

    def rotate_if_due(self, now: int | None = None, margin: int = 30 * DAY) -> PublicKey | None:
        """Rotate when the current key expires within ``margin`` seconds (the hub calls this
        daily); returns the new current key, or None when no rotation was due."""
        now = int(time.time()) if now is None else now
        return self.rotate(now) if self.current.exp - now <= margin else None

    def revoke(self, kid: str, now: int | None = None) -> None:
        """Mark ``kid`` revoked and destroy its private half. Revoking the current or next key
        rotates first so the hub can still sign. Saves the file."""
        now = int(time.time()) if now is None else now
        target = next((e for e in self._entries if e.public.kid == kid), None)
        if target is None:
            raise KeyStoreError(f"no key {kid!r} in {self.path}")
        status = target.public.status
        entries = [e for e in self._entries if e.public.kid != kid]
        if status is KeyStatus.CURRENT:
            entries = [
                _promote(e, now) if e.public.status is KeyStatus.NEXT else e for e in entries
            ]
        if status in (KeyStatus.CURRENT, KeyStatus.NEXT):
            entries.append(_new_entry(self.hub_id, KeyStatus.NEXT, now))
        entries.append(_Entry(replace(target.public, status=KeyStatus.REVOKED), None))
        self._entries = entries
        self.save()

    def _prune(self, now: int) -> list[_Entry]:
        """Forget private halves past ``exp``; unlist keys :data:`LISTED_AFTER` after ``exp``
        (long enough that every letter they signed has expired)."""
        kept = []
        for e in self._entries:
            if e.public.status in (KeyStatus.CURRENT, KeyStatus.NEXT):
                kept.append(e)
            elif e.public.exp + LISTED_AFTER > now:
                kept.append(_Entry(e.public, e.private if e.public.exp > now else None))
        return kept


def _promote(entry: _Entry, now: int) -> _Entry:
    """A ``next`` key taking over gets a full lifetime from now."""
    key = entry.public
    return _Entry(replace(key, status=KeyStatus.CURRENT, exp=now + KEY_LIFETIME), entry.private)


def _write_entry(entry: _Entry) -> dict[str, Any]:
    out = entry.public.to_jwk()
    if entry.private is not None:
        out["d"] = b64url(entry.private.private_bytes_raw())
    return out


def _read_entry(data: dict[str, Any]) -> _Entry:
    public = PublicKey.from_jwk(data)
    private = (
        Ed25519PrivateKey.from_private_bytes(b64url_decode(data["d"])) if "d" in data else None
    )
    if private is not None and _raw_public(private) != public.raw:
        raise ValueError(f"private and public halves of {public.kid} differ")
    return _Entry(public, private)
