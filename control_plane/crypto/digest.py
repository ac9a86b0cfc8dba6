"""Stored lookup keys for high-entropy secrets."""

from __future__ import annotations

import hashlib


def secret_digest(value: str) -> str:
    """SHA-256 hex of a random secret (a browser session id, login state, an invite code):
    what the database keeps and looks up by, so a read of the table yields no usable
    secret. Only for values with >= 128 bits of entropy; never for passwords."""
    return hashlib.sha256(value.encode()).hexdigest()
