"""Text from outside that a store, a log line or the audit chain can take as it is (pure)."""

from __future__ import annotations

import re

# C0 and C1 control characters (NUL among them: PostgreSQL refuses it in text) and UTF-16
# surrogates (no UTF-8 encoder takes a lone one).
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def has_unsafe_chars(value: str) -> bool:
    """Whether ``value`` holds a control character or a surrogate."""
    return _UNSAFE_CHARS.search(value) is not None
