"""``Content-Digest`` (RFC 9530): the digest of the message content, always recomputed from the
body received and compared; the header's value is never believed on its own.

Tongxin signs with ``sha-256``; a verifier also accepts ``sha-512``. Other algorithms listed
next to them are ignored; a header with no algorithm we know is ``digest-missing``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from tongxin.schemas import problems

from ._errors import SignatureError
from ._sfv import Item, parse_dictionary

__all__ = ["check_content_digest", "content_digest"]

_ALGORITHMS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """The ``Content-Digest`` header value for ``body``: ``sha-256=:<base64>:``."""
    digest = _ALGORITHMS[algorithm](body).digest()
    return f"{algorithm}=:{base64.b64encode(digest).decode('ascii')}:"


def check_content_digest(header: str | None, body: bytes) -> None:
    """Raise :class:`SignatureError` unless every known digest in ``header`` matches ``body``."""
    if not header:
        raise _missing()
    try:
        members = parse_dictionary(header)
    except ValueError as error:
        raise SignatureError(
            problems.DIGEST_MISMATCH,
            f"Content-Digest is malformed: {error}",
            "Content-Digest 格式错误",
        ) from None
    known = {
        name: m.value
        for name, m in members.items()
        if name in _ALGORITHMS and isinstance(m, Item) and isinstance(m.value, bytes)
    }
    if not known:
        raise _missing()
    for name, claimed in known.items():
        assert isinstance(claimed, bytes)
        if not hmac.compare_digest(claimed, _ALGORITHMS[name](body).digest()):
            raise SignatureError(
                problems.DIGEST_MISMATCH,
                f"the body's {name} digest differs from Content-Digest: the body was altered",
                f"消息正文的 {name} 摘要与 Content-Digest 不符：正文已被改动",
            )


def _missing() -> SignatureError:
    return SignatureError(
        problems.DIGEST_MISSING,
        "Content-Digest with sha-256 or sha-512 is required",
        "缺少 sha-256 或 sha-512 的 Content-Digest",
    )
