"""Field encryption and keyed hashes for sensitive personal data (citizenId, phone).

One 32-byte master key lives outside the database (``TONGXIN_SECRET_KEY`` or a key file made by
``tongxin init``). HKDF derives sub-keys from it: AES-256-GCM for the sensitive fields of a
record (bound to the record id as associated data), HMAC-SHA-256 for the citizen-ID hash that
carries the database's uniqueness constraint, and HMAC-SHA-256 for the pagination cursors the
hub hands out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._errors import ConfigurationError
from ._settings import Settings

__all__ = ["SENSITIVE_FIELDS", "FieldCipher", "create_key_file", "load_key"]

#: Record fields encrypted at rest and hidden from list responses.
SENSITIVE_FIELDS: dict[str, tuple[str, ...]] = {"members": ("citizenId", "phone")}
_FORMAT = b"\x01"


def create_key_file(path: Path) -> bool:
    """Write a new random key to ``path`` (mode 0600) unless it exists; True when created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(base64.b64encode(os.urandom(32)) + b"\n")
    return True


def load_key(settings: Settings, *, create: bool) -> bytes:
    """The master key from the settings or the key file (created when ``create``)."""
    if settings.secret_key is not None:
        raw = settings.secret_key.get_secret_value().encode()
        try:
            key = base64.b64decode(raw, validate=True)
        except ValueError:
            key = b""
        # A passphrase that is not base64 of 32 bytes is stretched into a key.
        return key if len(key) == 32 else hashlib.sha256(raw).digest()
    path = settings.resolved_key_file()
    if create:
        create_key_file(path)
    try:
        _refuse_shared(path)
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except FileNotFoundError:
        raise ConfigurationError(
            f"no key file at {path}: run `tongxin init` or set TONGXIN_SECRET_KEY"
        ) from None
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigurationError(f"{path} does not hold a base64 32-byte key")
    return key


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


class FieldCipher:
    """Encrypts and decrypts the sensitive fields of records; hashes citizen IDs."""

    def __init__(self, master: bytes) -> None:
        self._aead = AESGCM(_derive(master, b"fields"))
        self._mac_key = _derive(master, b"citizen-id")
        self._cursor_key = _derive(master, b"cursor")
        #: A short public fingerprint of the key, kept with the data to detect a wrong key.
        self.key_id = hashlib.sha256(_derive(master, b"key-id")).hexdigest()[:16]

    def citizen_hash(self, citizen_id: str) -> str:
        """The keyed hash of a citizen ID (upper-case check character)."""
        return hmac.new(self._mac_key, citizen_id.upper().encode(), hashlib.sha256).hexdigest()

    def cursor_tag(self, payload: bytes) -> bytes:
        """The 16-byte HMAC that makes a pagination cursor this hub's own (tamper-evident)."""
        return hmac.new(self._cursor_key, payload, hashlib.sha256).digest()[:16]

    def seal(self, record_id: str, fields: dict[str, Any]) -> bytes:
        """Encrypt ``fields`` bound to ``record_id``."""
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, orjson.dumps(fields), record_id.encode())
        return _FORMAT + nonce + ct

    def open(self, record_id: str, blob: bytes) -> dict[str, Any]:
        """Decrypt what :meth:`seal` made for ``record_id``."""
        try:
            plain = self._aead.decrypt(blob[1:13], blob[13:], record_id.encode())
        except InvalidTag:
            raise ConfigurationError(
                "cannot decrypt sensitive fields: the hub's key differs from the one that "
                "encrypted them"
            ) from None
        fields: dict[str, Any] = orjson.loads(plain)
        return fields
