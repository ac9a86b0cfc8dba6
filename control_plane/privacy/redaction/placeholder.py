"""Per-session consistent placeholders: the same value always becomes the same ``<TYPE_n>``.

The map never holds the raw values: it keys on a keyed BLAKE2b digest of a canonical form
(digits only for numbers, letters and digits for names and e-mail addresses), with a random
key per map, so a dump of a session's map reveals nothing and two sessions' digests cannot be
joined. Spoken and written forms of one value share a placeholder ("five five five one two one
two" and "555-1212"; "J O H N" and "John"; "john dot smith at gmail dot com" and
"john.smith@gmail.com").
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading

from control_plane.privacy.redaction.normalise import normalise
from control_plane.privacy.redaction.types import EntityType

_NUMERIC = frozenset(
    {
        EntityType.PHONE_NUMBER,
        EntityType.CREDIT_CARD,
        EntityType.US_SSN,
        EntityType.BANK_ACCOUNT,
        EntityType.DATE_OF_BIRTH,
        EntityType.IP_ADDRESS,
    }
)
_SPOKEN_SYMBOLS = re.compile(r"(?i)\b(?:dot|period|at|underscore|dash|hyphen)\b")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def canonical_value(entity_type: EntityType, value: str) -> str:
    """The form two mentions of one value share, whether spoken or written."""
    text = normalise(value).text.lower()
    if entity_type in _NUMERIC:
        return re.sub(r"\D+", "", text) or _NOT_ALNUM.sub("", text)
    if entity_type is EntityType.EMAIL_ADDRESS:
        text = _SPOKEN_SYMBOLS.sub(" ", text)
    return _NOT_ALNUM.sub("", text)


class PlaceholderMap:
    """One session's placeholder numbering; create one per session and keep it with it."""

    def __init__(self, *, max_values: int = 10_000) -> None:
        self._key = secrets.token_bytes(32)
        self._max_values = max_values
        self._ids: dict[tuple[EntityType, bytes], int] = {}
        self._next: dict[EntityType, int] = {}
        self._lock = threading.Lock()

    def placeholder_for(self, entity_type: EntityType, value: str) -> str:
        """Return ``<TYPE_n>`` for this value, numbering new values in order of appearance.

        Past ``max_values`` distinct values a new value gets the bare ``<TYPE>``: still
        redacted, only no longer linkable, so a hostile stream cannot grow the map unbounded.
        """
        digest = hashlib.blake2b(
            canonical_value(entity_type, value).encode(), key=self._key, digest_size=16
        ).digest()
        with self._lock:
            number = self._ids.get((entity_type, digest))
            if number is None:
                if len(self._ids) >= self._max_values:
                    return f"<{entity_type.value}>"
                number = self._next.get(entity_type, 0) + 1
                self._next[entity_type] = number
                self._ids[(entity_type, digest)] = number
        return f"<{entity_type.value}_{number}>"

    def __len__(self) -> int:
        """How many distinct values have a placeholder."""
        with self._lock:
            return len(self._ids)
