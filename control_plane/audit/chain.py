"""Pure hash-chain functions: canonical encoding, record hashes, checkpoint signatures."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

# Any: a record is a plain dict or a database row mapping (keyed by name); values are JSON.
Fields = Mapping[Any, object]

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
OPTIONAL_HASHED_FIELDS = ("tenant",)
"""Hashed only when set, so records written before the field existed keep their hashes."""


def canonical_ts(ts: datetime) -> str:
    """UTC, microsecond precision, the same on SQLite and PostgreSQL."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(fields: Fields) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8, timestamps canonicalised."""
    body = {name: fields[name] for name in HASHED_FIELDS}
    for name in OPTIONAL_HASHED_FIELDS:
        if fields.get(name) is not None:
            body[name] = fields[name]
    ts = body["ts"]
    if isinstance(ts, datetime):
        body["ts"] = canonical_ts(ts)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(fields: Fields) -> str:
    """SHA-256 over the canonical encoding, which includes the previous record's hash."""
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first bad record: its sequence number and what is wrong with it."""

    seq: int
    reason: str


def find_break(
    records: Iterable[Fields], *, start_hash: str, start_seq: int | None = None
) -> ChainBreak | None:
    """The first record whose position, link or hash is wrong, walking in sequence order.

    ``start_seq``/``start_hash`` describe the record just before the first one given (its
    sequence number and hash), so a walk can continue across batches.
    """
    prev_hash = start_hash
    prev_seq = start_seq
    for fields in records:
        seq = int(str(fields["seq"]))
        if prev_seq is not None and seq != prev_seq + 1:
            missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}..{seq - 1}"
            return ChainBreak(prev_seq + 1, f"record {missing} missing (deleted from the chain)")
        if fields["prev_hash"] != prev_hash:
            return ChainBreak(seq, "prev_hash does not match the previous record's hash")
        if record_hash(fields) != fields["hash"]:
            return ChainBreak(seq, "record content does not match its hash (altered)")
        prev_hash = str(fields["hash"])
        prev_seq = seq
    return None


@dataclass(frozen=True)
class CheckpointClaim:
    """What a checkpoint signs: where the kept chain started and where it ended, at ``ts``.

    Signing the start as well as the head is what lets retention purge a prefix without
    opening a hole: a later verifier accepts a chain that starts after seq 1 only where a
    signed checkpoint (or a chained ``retention.purged`` record) vouches for that start.
    """

    first_seq: int
    first_prev_hash: str
    head_seq: int
    head_hash: str
    ts: datetime


def checkpoint_message(claim: CheckpointClaim) -> bytes:
    return (
        f"cp-audit-checkpoint:v2:{claim.first_seq}:{claim.first_prev_hash}:"
        f"{claim.head_seq}:{claim.head_hash}:{canonical_ts(claim.ts)}"
    ).encode()


def sign_checkpoint(key: Ed25519PrivateKey, claim: CheckpointClaim) -> str:
    return key.sign(checkpoint_message(claim)).hex()


def is_checkpoint_valid(key: Ed25519PublicKey, claim: CheckpointClaim, signature: str) -> bool:
    try:
        key.verify(bytes.fromhex(signature), checkpoint_message(claim))
    except (InvalidSignature, ValueError):
        return False
    return True
