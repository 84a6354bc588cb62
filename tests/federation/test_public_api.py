"""The public API of ``tongxin.federation`` is locked: changing it is a deliberate act."""

from __future__ import annotations

import ast
import pathlib

import tongxin.federation

FEDERATION_API = {
    "ApplyResult", "CHINA", "Certificate", "Change", "Decision", "Entry", "Expire", "FeedPage",
    "FederationError", "FieldAction", "HttpMessage", "Issue", "KeyResolver", "KeySet",
    "KeyStatus", "KeyStore", "KeyStoreError", "Letter", "LetterError", "LetterIssued",
    "LocalSigner",
    "MemoryNonceCache", "NonceCache", "Outcome", "PeerPolicy", "PublicKey", "Receipt",
    "ReceiptArrived", "RelationError", "ReplicaReadOnlyError", "SignatureError", "Signer",
    "SigningAuth", "Step",
    "TransferState", "TransferStatus", "TransitionError", "TrustError", "VerifiedSignature",
    "Withdrawal", "WithdrawalArrived", "advance", "apply_changes", "authoritative", "canonical",
    "certify_child",
    "check_content_digest", "check_writable", "china_today", "citizen_id_check", "citizen_id_hmac",
    "content_digest", "decide", "document_digest", "fingerprint", "from_problem", "hub_of_kid",
    "issue_letter", "key_store_path", "letter_from_qr", "letter_qr_text", "make_receipt",
    "make_withdrawal", "minimise",
    "normalise_fingerprint", "open_document", "parse_key_set", "sign_document",
    "signature_headers", "trust_sibling", "verify_certificate", "verify_key_set",
    "verify_letter", "verify_message", "verify_receipt", "verify_withdrawal",
}  # fmt: skip
FORBIDDEN = ("tongxin.server", "tongxin.cli", "tongxin.adapters", "fastapi", "sqlalchemy")


def test_federation_exports() -> None:
    assert set(tongxin.federation.__all__) == FEDERATION_API
    assert all(hasattr(tongxin.federation, name) for name in FEDERATION_API)


def test_federation_depends_only_on_schemas() -> None:
    """Dependency direction: federation imports schemas, never the hub, the CLI or a web
    framework."""
    root = pathlib.Path(tongxin.federation.__file__).parent
    for module in root.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{module.name} imports {name}"
