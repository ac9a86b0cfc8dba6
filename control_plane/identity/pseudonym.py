"""Keyed pseudonyms for subjects (and, where needed, client addresses)."""

from __future__ import annotations

import hashlib
import hmac

from control_plane.identity.types import SubjectId


def pseudonymize_subject(key: bytes, *, issuer: str, subject: str) -> SubjectId:
    """HMAC-SHA256(issuer NUL subject): the same person always maps to the same id."""
    digest = hmac.new(key, f"{issuer}\x00{subject}".encode(), hashlib.sha256).hexdigest()
    return SubjectId(f"sub_{digest[:32]}")


def pseudonymize_address(key: bytes, address: str) -> str:
    """A keyed hash of a client address, for anomaly counters and logs."""
    digest = hmac.new(key, f"addr\x00{address}".encode(), hashlib.sha256).hexdigest()
    return f"addr_{digest[:16]}"
