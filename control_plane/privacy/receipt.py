"""Signed deletion receipts: pure construction, signing and verification (Ed25519).

A receipt is a JSON object; ``signature`` is Ed25519 over the canonical encoding of every
other field (sorted keys, no insignificant whitespace, UTF-8). ``key_id`` names the receipt
public key (``crypto.keyring.public_key_id``), so a verifier can tell a receipt signed by a
retired key from a forged one. Only pseudonyms, timestamps and counts: no content.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from control_plane.audit.chain import canonical_ts
from control_plane.crypto.keyring import public_key_id

RECEIPT_VERSION = "cp-erasure-receipt/1"
ALGORITHM = "Ed25519"


def canonical_receipt(fields: Mapping[str, object]) -> bytes:
    """The signed bytes: every field but ``signature``, canonical JSON."""
    body = {k: v for k, v in fields.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def build_receipt(
    *,
    erasure_id: str,
    request_id: str,
    subject_id: str,
    requested_by: str,
    requested_at: datetime,
    completed_at: datetime,
    counts: Mapping[str, int],
    key_destroyed: bool,
    live: Mapping[str, int],
    audit_seq: int,
    signing_key: Ed25519PrivateKey,
) -> dict[str, object]:
    """A signed receipt for one completed erasure."""
    fields: dict[str, object] = {
        "version": RECEIPT_VERSION,
        "erasure_id": erasure_id,
        "request_id": request_id,
        "subject": subject_id,
        "requested_by": requested_by,
        "requested_at": canonical_ts(requested_at),
        "completed_at": canonical_ts(completed_at),
        "counts": dict(sorted(counts.items())),
        "key_destroyed": key_destroyed,
        "live_participation": dict(sorted(live.items())),
        "audit_seq": audit_seq,
        "algorithm": ALGORITHM,
        "key_id": public_key_id(signing_key.public_key()),
    }
    fields["signature"] = _b64(signing_key.sign(canonical_receipt(fields)))
    return fields


def verify_receipt(receipt: Mapping[str, object], public_key: Ed25519PublicKey) -> str | None:
    """None if the receipt is authentic and well formed; otherwise why not (one line)."""
    if receipt.get("version") != RECEIPT_VERSION:
        return "unknown receipt version"
    if receipt.get("algorithm") != ALGORITHM:
        return "unknown signature algorithm"
    if receipt.get("key_id") != public_key_id(public_key):
        return "signed by a different key"
    signature = receipt.get("signature")
    if not isinstance(signature, str):
        return "missing signature"
    try:
        public_key.verify(_unb64(signature), canonical_receipt(receipt))
    except (InvalidSignature, ValueError):
        return "signature does not match the receipt"
    if receipt.get("key_destroyed") is not True:
        return "the receipt does not attest that the data key was destroyed"
    return None


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    """The raw public key, base64url (for `GET /v1/privacy/receipt-key`)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return _b64(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key from its base64url raw form (as published by the endpoint)."""
    return Ed25519PublicKey.from_public_bytes(_unb64(text.strip()))
