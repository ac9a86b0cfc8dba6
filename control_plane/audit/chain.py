"""Pure hash-chain functions: canonical encoding, record hashes, checkpoint signatures."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq",
    "id",
    "ts",
    "event_type",
    "outcome",
    "actor",
    "target",
    "reason",
    "decision_id",
    "policy_version",
    "request_id",
    "details",
    "prev_hash",
)


def canonical_ts(ts: datetime) -> str:
    """UTC, microsecond precision, the same on SQLite and PostgreSQL."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(fields: Mapping[str, object]) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8, timestamps canonicalised."""
    body = {name: fields[name] for name in HASHED_FIELDS}
    ts = body["ts"]
    if isinstance(ts, datetime):
        body["ts"] = canonical_ts(ts)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(fields: Mapping[str, object]) -> str:
    """SHA-256 over the canonical encoding, which includes the previous record's hash."""
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def find_break(records: Iterable[Mapping[str, object]], *, start_hash: str) -> ChainBreak | None:
    """The first record whose link or hash is wrong, walking in sequence order."""
    prev_hash = start_hash
    prev_seq: int | None = None
    for fields in records:
        seq = int(str(fields["seq"]))
        if prev_seq is not None and seq != prev_seq + 1:
            return ChainBreak(seq, f"gap after record {prev_seq}")
        if fields["prev_hash"] != prev_hash:
            return ChainBreak(seq, "prev_hash does not match the previous record")
        if record_hash(fields) != fields["hash"]:
            return ChainBreak(seq, "record content does not match its hash")
        prev_hash = str(fields["hash"])
        prev_seq = seq
    return None


def checkpoint_message(head_seq: int, head_hash: str, ts: datetime) -> bytes:
    return f"cp-audit-checkpoint:v1:{head_seq}:{head_hash}:{canonical_ts(ts)}".encode()


def sign_checkpoint(key: Ed25519PrivateKey, head_seq: int, head_hash: str, ts: datetime) -> str:
    return key.sign(checkpoint_message(head_seq, head_hash, ts)).hex()


def is_checkpoint_valid(
    key: Ed25519PublicKey, head_seq: int, head_hash: str, ts: datetime, signature: str
) -> bool:
    try:
        key.verify(bytes.fromhex(signature), checkpoint_message(head_seq, head_hash, ts))
    except (InvalidSignature, ValueError):
        return False
    return True
