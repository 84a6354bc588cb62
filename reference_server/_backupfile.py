"""The encrypted backup file: a passphrase-derived key (scrypt) and AES-256-GCM in chunks.

Layout (``docs/operations.md`` describes it for operators)::

    MAGIC (16 bytes) | header length (4, big-endian) | header (JSON) | check (32 bytes)
    then chunks:  final flag (1) | ciphertext length (4, big-endian) | ciphertext + tag

The header holds no personal data: the format, the scrypt parameters and salt, the nonce prefix
and the chunk size. scrypt derives 64 bytes from the passphrase: an AES-256-GCM key and a check
key; ``check`` is HMAC-SHA-256(check key, header), so a wrong passphrase is told apart from a
damaged file before any chunk is opened. Each chunk is sealed with the nonce prefix + its
64-bit counter and the associated data SHA-256(header) ‖ counter ‖ final flag: chunks cannot be
reordered, dropped, duplicated or cut off at the end (the last one carries the final flag) without
the authentication failing. The plaintext is an uncompressed POSIX tar stream, written and read
in streaming mode, so a large database never sits in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import struct
from typing import IO, Any, BinaryIO

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

__all__ = [
    "MIN_PASSPHRASE",
    "BackupError",
    "OpeningReader",
    "SealingWriter",
    "open_stream",
]

MAGIC = b"TONGXIN-BACKUP\x00\x01"
FORMAT = "tongxin-backup/1"
CHUNK = 1 << 20
MIN_PASSPHRASE = 12
#: scrypt cost (OWASP: N=2^17, r=8, p=1 — 128 MiB, about a second).
_N, _R, _P = 1 << 17, 8, 1
#: The largest costs a file may ask for (a crafted header must not exhaust the machine).
_MAX_N, _MAX_R, _MAX_P = 1 << 20, 16, 4
_MAX_HEADER = 4096


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is bilingual (zh-CN first)."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh

    def __str__(self) -> str:
        return f"{self.zh}\n{self.en}"


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    key = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase.encode())
    return key[:32], key[32:]


def _aad(header_hash: bytes, counter: int, final: bool) -> bytes:
    return header_hash + struct.pack(">QB", counter, final)


class SealingWriter(io.RawIOBase):
    """A write-only stream that encrypts what is written to ``out`` in sealed chunks."""

    def __init__(self, out: IO[bytes], passphrase: str) -> None:
        super().__init__()
        salt, prefix = os.urandom(16), os.urandom(4)
        header = orjson.dumps(
            {
                "format": FORMAT,
                "kdf": {"name": "scrypt", "n": _N, "r": _R, "p": _P, "salt": salt.hex()},
                "cipher": "AES-256-GCM",
                "noncePrefix": prefix.hex(),
                "chunk": CHUNK,
            }
        )
        key, check_key = _derive(passphrase, salt, _N, _R, _P)
        self._aead, self._prefix = AESGCM(key), prefix
        self._hash = hashlib.sha256(header).digest()
        self._out, self._buffer, self._counter = out, bytearray(), 0
        out.write(MAGIC + struct.pack(">I", len(header)) + header)
        out.write(hmac.new(check_key, header, hashlib.sha256).digest())

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = bytes(data)
        self._buffer += view
        while len(self._buffer) > CHUNK:
            self._emit(bytes(self._buffer[:CHUNK]), final=False)
            del self._buffer[:CHUNK]
        return len(view)

    def _emit(self, plain: bytes, *, final: bool) -> None:
        nonce = self._prefix + struct.pack(">Q", self._counter)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._hash, self._counter, final))
        self._out.write(struct.pack(">BI", final, len(sealed)) + sealed)
        self._counter += 1

    def finish(self) -> None:
        """Seal the last chunk (with the final flag); the stream is complete after this."""
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()


class OpeningReader(io.RawIOBase):
    """A read-only stream of the plaintext; every chunk is authenticated before it is used."""

    def __init__(self, source: BinaryIO, aead: AESGCM, prefix: bytes, header_hash: bytes) -> None:
        super().__init__()
        self._source, self._aead, self._prefix, self._hash = source, aead, prefix, header_hash
        self._buffer, self._counter, self._done = b"", 0, False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._done:
            self._next()
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def _next(self) -> None:
        head = self._source.read(5)
        if len(head) < 5:
            raise _damaged(
                "the file ends before its last chunk (cut off)",
                "文件在最后一块之前就结束了（被截断）",
            )
        final, size = struct.unpack(">BI", head)
        if final not in (0, 1) or size > CHUNK + 16:
            raise _damaged(
                f"chunk {self._counter} has a bad frame", f"第 {self._counter} 块的格式错误"
            )
        sealed = self._source.read(size)
        nonce = self._prefix + struct.pack(">Q", self._counter)
        try:
            self._buffer = self._aead.decrypt(
                nonce, sealed, _aad(self._hash, self._counter, bool(final))
            )
        except InvalidTag:
            raise _damaged(
                f"chunk {self._counter} fails authentication: the file was altered or is damaged",
                f"第 {self._counter} 块未通过认证：文件已被篡改或已损坏",
            ) from None
        self._counter += 1
        if final:
            self._done = True
            if self._source.read(1):
                raise _damaged("data follows the last chunk", "最后一块之后还有多余数据")

    def drain(self) -> None:
        """Read (and authenticate) to the end: a tar reader may stop before the last chunk."""
        while not self._done:
            self._next()
        self._buffer = b""


def _damaged(en: str, zh: str) -> BackupError:
    return BackupError(f"the backup is damaged: {en}", f"备份文件已损坏：{zh}")


def open_stream(source: BinaryIO, passphrase: str) -> OpeningReader:
    """Check the header and the passphrase of a backup file; the reader of its plaintext."""
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError("this is not a Tongxin backup file", "这不是同心备份文件")
    (length,) = struct.unpack(">I", source.read(4).rjust(4, b"\xff"))
    if length > _MAX_HEADER:
        raise _damaged("the header is too long", "文件头过长")
    header = source.read(length)
    try:
        meta = orjson.loads(header)
        kdf = meta["kdf"]
        n, r, p, salt = int(kdf["n"]), int(kdf["r"]), int(kdf["p"]), bytes.fromhex(kdf["salt"])
        prefix = bytes.fromhex(meta["noncePrefix"])
        ok = (
            meta["format"] == FORMAT
            and kdf["name"] == "scrypt"
            and meta["cipher"] == "AES-256-GCM"
            and len(prefix) == 4
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise _damaged("the header is not readable", "文件头无法读取")
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= _MAX_R and 0 < p <= _MAX_P):
        raise _damaged(
            "the header asks for unreasonable key-derivation costs", "文件头的密钥派生参数不合理"
        )
    key, check_key = _derive(passphrase, salt, n, r, p)
    if not hmac.compare_digest(
        source.read(32), hmac.new(check_key, header, hashlib.sha256).digest()
    ):
        raise BackupError(
            "wrong passphrase (or the file header was altered): the backup cannot be opened",
            "口令错误（或文件头已被篡改）：无法打开该备份",
        )
    return OpeningReader(source, AESGCM(key), prefix, hashlib.sha256(header).digest())
