"""Field encryption and keyed hashes for sensitive personal data (citizenId, phone).

One 32-byte master key lives outside the database (``TONGXIN_SECRET_KEY`` or a key file made by
``tongxin init``). HKDF derives sub-keys from it: AES-256-GCM for the sensitive fields of a
record (bound to the record id as associated data), HMAC-SHA-256 for the citizen-ID hash that
carries the database's uniqueness constraint, and HMAC-SHA-256 for the pagination cursors the
hub hands out.

Data-key rotation (``tongxin keys rotate-data-key``, ``docs/operations.md``) replaces the key
that seals the fields while the key of the citizen-ID hash (and of the cursors and the key id)
stays the first master key, so the hash column and its uniqueness never change. The key file
then holds a small JSON key ring (the current data key, the previous one while a rotation runs,
and the hash key); a file of one base64 line is a ring of one key, as before. A sealed blob
names the data key that sealed it, and the hub re-reads the key file when it changes, so a
serving hub opens both keys and seals with the new one while the rotation runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._errors import ConfigurationError
from ._settings import Settings

__all__ = [
    "SENSITIVE_FIELDS",
    "FieldCipher",
    "KeyRing",
    "create_key_file",
    "load_key",
    "write_key_file",
]

#: Record fields encrypted at rest and hidden from list responses.
SENSITIVE_FIELDS: dict[str, tuple[str, ...]] = {
    "members": ("citizenId", "phone"),
    "applicants": ("citizenId", "phone"),
}
#: Format bytes of a sealed blob: 1 = sealed with the first master key (no key id inside);
#: 2 = followed by the 8-byte id of the data key that sealed it.
_FORMAT = b"\x01"
_FORMAT_KEYED = b"\x02"


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The data keys (current first, then the previous one while a rotation runs) and the
    sub-keys of the first master key that never change: the citizen-ID hash key, the cursor key
    and the key id. The first master key itself leaves the ring with the first rotation."""

    data: tuple[bytes, ...]
    mac_key: bytes
    cursor_key: bytes
    key_id: str

    @classmethod
    def single(cls, key: bytes) -> KeyRing:
        key_id = hashlib.sha256(_derive(key, b"key-id")).hexdigest()[:16]
        return cls((key,), _derive(key, b"citizen-id"), _derive(key, b"cursor"), key_id)

    @property
    def current(self) -> bytes:
        return self.data[0]

    @property
    def is_single(self) -> bool:
        """One master key for everything (never rotated): the one-line key file."""
        return len(self.data) == 1 and KeyRing.single(self.data[0]) == self

    def with_data(self, data: tuple[bytes, ...]) -> KeyRing:
        return KeyRing(data, self.mac_key, self.cursor_key, self.key_id)

    def encode(self) -> bytes:
        """The key file's bytes: one base64 line for a single key, else the JSON key ring."""
        if self.is_single:
            return base64.b64encode(self.current) + b"\n"
        ring = {
            "version": 2,
            "data": [base64.b64encode(k).decode() for k in self.data],
            "citizenIdKey": base64.b64encode(self.mac_key).decode(),
            "cursorKey": base64.b64encode(self.cursor_key).decode(),
            "keyId": self.key_id,
        }
        return orjson.dumps(ring, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def parse(cls, raw: bytes) -> KeyRing:
        """Read :meth:`encode`'s bytes; ValueError when they hold no valid ring."""
        raw = raw.strip()
        if not raw.startswith(b"{"):
            key = base64.b64decode(raw, validate=True)
            if len(key) != 32:
                raise ValueError("not a 32-byte key")
            return cls.single(key)
        try:
            doc = orjson.loads(raw)
            data = tuple(base64.b64decode(k, validate=True) for k in doc["data"])
            mac_key = base64.b64decode(doc["citizenIdKey"], validate=True)
            cursor_key = base64.b64decode(doc["cursorKey"], validate=True)
            key_id = doc["keyId"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise ValueError("not a key ring") from None
        if not data or any(len(k) != 32 for k in (*data, mac_key, cursor_key)):
            raise ValueError("not a key ring")
        if not isinstance(key_id, str) or len(key_id) != 16:
            raise ValueError("not a key ring")
        return cls(data, mac_key, cursor_key, key_id)


def create_key_file(path: Path) -> bool:
    """Write a new random key to ``path`` (mode 0600) unless it exists; True when created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(base64.b64encode(os.urandom(32)) + b"\n")
    return True


def write_key_file(path: Path, ring: KeyRing) -> None:
    """Replace the key file atomically (a 0600 temporary file renamed over it, then fsync)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(ring.encode())
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_key(settings: Settings, *, create: bool) -> KeyRing:
    """The key ring from the settings or the key file (created when ``create``)."""
    if settings.secret_key is not None:
        raw = settings.secret_key.get_secret_value().encode()
        try:
            key = base64.b64decode(raw, validate=True)
        except ValueError:
            key = b""
        # A passphrase that is not base64 of 32 bytes is stretched into a key.
        return KeyRing.single(key if len(key) == 32 else hashlib.sha256(raw).digest())
    path = settings.resolved_key_file()
    if create:
        create_key_file(path)
    return read_key_file(path)


def read_key_file(path: Path) -> KeyRing:
    """The key ring in the key file ``path`` (refused when others may read it)."""
    try:
        _refuse_shared(path)
        return KeyRing.parse(path.read_bytes())
    except FileNotFoundError:
        raise ConfigurationError(
            f"no key file at {path}: run `tongxin init` or set TONGXIN_SECRET_KEY"
        ) from None
    except ValueError:
        raise ConfigurationError(
            f"{path} does not hold a base64 32-byte key or a key ring"
        ) from None


def _refuse_shared(path: Path) -> None:
    """Refuse a key file that other users may read or write (as ssh refuses a private key)."""
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"密钥文件 {path} 可被其他用户访问（权限 {stat.S_IMODE(mode):04o}），枢纽拒绝启动；"
            f"请运行 chmod 600 {path}\n"
            f"the key file {path} is accessible to other users (mode {stat.S_IMODE(mode):04o}); "
            f"the hub refuses to start: run `chmod 600 {path}`"
        )


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"tongxin/" + purpose).derive(master)


def data_key_id(key: bytes) -> bytes:
    """The 8-byte id of a data key, written into the blobs it seals."""
    return hashlib.sha256(_derive(key, b"data-key-id")).digest()[:8]


class FieldCipher:
    """Encrypts and decrypts the sensitive fields of records; hashes citizen IDs.

    Built from a key ring (or one master key). With ``source`` (the key file) it re-reads the
    file whenever it changes, so a serving hub follows a data-key rotation run by another
    process: it opens blobs of every key in the ring and seals with the current one. Sealing
    looks at the file at most once per :attr:`CHECK_SECONDS` (a ``stat`` per seal cost ≈ 9.5 %
    of a bulk ingest); opening a blob of a key it does not hold yet looks at once. The rotation
    waits that long on top of its settle time before it drops the old key.
    """

    #: How often sealing looks whether the key file changed (seconds).
    CHECK_SECONDS: float = 1.0

    def __init__(self, keys: KeyRing | bytes, source: Path | None = None) -> None:
        ring = KeyRing.single(keys) if isinstance(keys, bytes) else keys
        self._mac_key = ring.mac_key
        self._cursor_key = ring.cursor_key
        #: Signs links the hub hands out (a meeting's check-in link); stable like the hash key.
        self._link_key = _derive(ring.mac_key, b"links")
        #: A short public fingerprint of the first master key, kept with the data to detect a
        #: wrong key; it survives data-key rotations (the hash key does not change).
        self.key_id = ring.key_id
        self._source = source
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._next_check = time.monotonic() + self.CHECK_SECONDS
        self._use(ring)

    def _use(self, ring: KeyRing) -> None:
        aeads = {data_key_id(k): AESGCM(_derive(k, b"fields")) for k in ring.data}
        # One assignment: a request thread sees the old or the new keys, never a mixture.
        self._state = (ring, aeads, data_key_id(ring.current), ring.is_single)

    @property
    def ring(self) -> KeyRing:
        return self._state[0]

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self._source is None:
            return None
        try:
            st = self._source.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self, *, now: bool = True) -> None:
        """Re-read the key file when it changed (a rotation); keep the keys if it is unreadable.
        ``now=False``: only when :attr:`CHECK_SECONDS` have passed since the last look."""
        if self._source is None:
            return
        if not now:
            moment = time.monotonic()
            if moment < self._next_check:
                return
            self._next_check = moment + self.CHECK_SECONDS
        stamp = self._file_stamp()
        if stamp == self._stamp or stamp is None:
            return
        with self._lock:
            try:
                ring = read_key_file(self._source)
            except ConfigurationError:
                return
            if ring.key_id != self.key_id:
                return  # another hub's key: the identity check refuses it at the next start
            self._use(ring)
            self._stamp = stamp

    def citizen_hash(self, citizen_id: str) -> str:
        """The keyed hash of a citizen ID (upper-case check character)."""
        return hmac.new(self._mac_key, citizen_id.upper().encode(), hashlib.sha256).hexdigest()

    def cursor_tag(self, payload: bytes) -> bytes:
        """The 16-byte HMAC that makes a pagination cursor this hub's own (tamper-evident)."""
        return hmac.new(self._cursor_key, payload, hashlib.sha256).digest()[:16]

    def link_tag(self, payload: bytes) -> bytes:
        """The 16-byte HMAC that makes a link this hub handed out (a check-in QR code)
        tamper-evident; its key is derived from the hub's key, never stored elsewhere."""
        return hmac.new(self._link_key, payload, hashlib.sha256).digest()[:16]

    def seal(self, record_id: str, fields: dict[str, Any]) -> bytes:
        """Encrypt ``fields`` bound to ``record_id`` with the current data key."""
        return self.seal_json(record_id, orjson.dumps(fields))

    def seal_json(self, record_id: str, plain: bytes) -> bytes:
        """Encrypt fields already serialised as a JSON object (the write path serialises them
        once, for the content digest and the seal)."""
        self.refresh(now=False)
        _, aeads, current, single = self._state
        nonce = os.urandom(12)
        ct = aeads[current].encrypt(nonce, plain, record_id.encode())
        if single:
            return _FORMAT + nonce + ct
        return _FORMAT_KEYED + current + nonce + ct

    def sealed_with_current(self, blob: bytes) -> bool:
        """Whether ``blob`` is sealed with the current data key in the current format."""
        _, _, current, single = self._state
        if single:
            return blob[:1] == _FORMAT
        return blob[:1] == _FORMAT_KEYED and blob[1:9] == current

    def open(self, record_id: str, blob: bytes) -> dict[str, Any]:
        """Decrypt what :meth:`seal` made for ``record_id`` (with any key of the ring)."""
        if blob[:1] == _FORMAT_KEYED and blob[1:9] not in self._state[1]:
            self.refresh()
        aeads = self._state[1]
        if blob[:1] == _FORMAT_KEYED:
            found = aeads.get(blob[1:9])
            candidates = [found] if found is not None else []
            body = blob[9:]
        else:
            # Format 1 names no key: sealed by the first master key, a data key of the ring
            # until a rotation finishes.
            candidates, body = list(aeads.values()), blob[1:]
        for aead in candidates:
            try:
                plain = aead.decrypt(body[:12], body[12:], record_id.encode())
            except InvalidTag:
                continue
            fields: dict[str, Any] = orjson.loads(plain)
            return fields
        raise ConfigurationError(
            "cannot decrypt sensitive fields: the hub's key differs from the one that "
            "encrypted them"
        )
