"""A session's placeholder numbering that survives between requests and replicas.

The redaction engine's :class:`PlaceholderMap` lives in one process; a session's segments
arrive in many requests, possibly on different replicas. This subclass keeps the same
contract (``placeholder_for``; keyed digests of a canonical form, never the raw values) and
serialises to JSON, which the transcript store keeps encrypted under the session owner's
data key: after the key is destroyed, not even the digests can be linked.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading

from control_plane.privacy.redaction import EntityType, PlaceholderMap
from control_plane.privacy.redaction.placeholder import canonical_value

MAX_VALUES = 10_000


class SessionPlaceholders(PlaceholderMap):
    """Per-session ``<TYPE_n>`` numbering; load with :meth:`loads`, save with :meth:`dumps`."""

    def __init__(
        self,
        *,
        key: bytes | None = None,
        ids: dict[str, dict[str, int]] | None = None,
        max_values: int = MAX_VALUES,
    ) -> None:
        super().__init__(max_values=max_values)
        self._session_key = key or secrets.token_bytes(32)
        self._limit = max_values
        self._numbers: dict[str, dict[str, int]] = {t: dict(m) for t, m in (ids or {}).items()}
        self._guard = threading.Lock()
        self.changed = False

    def placeholder_for(self, entity_type: EntityType, value: str) -> str:
        """``<TYPE_n>`` for this value; new values are numbered in order of appearance."""
        digest = hashlib.blake2b(
            canonical_value(entity_type, value).encode(), key=self._session_key, digest_size=16
        ).hexdigest()
        with self._guard:
            numbers = self._numbers.setdefault(entity_type.value, {})
            number = numbers.get(digest)
            if number is None:
                if sum(len(m) for m in self._numbers.values()) >= self._limit:
                    return f"<{entity_type.value}>"
                number = len(numbers) + 1
                numbers[digest] = number
                self.changed = True
        return f"<{entity_type.value}_{number}>"

    def __len__(self) -> int:
        with self._guard:
            return sum(len(m) for m in self._numbers.values())

    def dumps(self) -> bytes:
        """The map as JSON bytes (to be encrypted before it is stored)."""
        with self._guard:
            body = {"v": 1, "key": self._session_key.hex(), "ids": self._numbers}
            return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, data: bytes) -> SessionPlaceholders:
        """Rebuild a map saved by :meth:`dumps`."""
        body = json.loads(data)
        if body.get("v") != 1:
            raise ValueError("unknown placeholder map version")
        ids = {str(t): {str(d): int(n) for d, n in m.items()} for t, m in body["ids"].items()}
        return cls(key=bytes.fromhex(body["key"]), ids=ids)
