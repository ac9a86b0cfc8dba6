"""Where a login may land: same-origin relative paths only, never an open redirect.

A ``return_to`` is accepted only as an absolute path on this origin: printable ASCII (no
spaces, control characters or non-ASCII that a browser might normalise into something
else, no CR/LF for header injection), starting with one ``/`` and never ``//`` or a
backslash (both of which browsers resolve as another host), without ``.``/``..``
segments (percent-encoded or not), and with no scheme or authority. Anything else is
refused, not corrected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_RETURN_TO_CHARS = 512


def is_safe_return_to(value: str) -> bool:
    """Whether ``value`` is a same-origin absolute path (see the module docstring)."""
    if not value or len(value) > MAX_RETURN_TO_CHARS:
        return False
    if any(not ("!" <= c <= "~") for c in value) or "\\" in value:
        return False
    if not value.startswith("/") or value.startswith("//"):
        return False
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return False
    # "%2e" is a dot to a browser's URL parser, so "/%2e%2e/" is a ".." segment too.
    segments = (s.lower().replace("%2e", ".") for s in parts.path.split("/"))
    return not any(segment in {".", ".."} for segment in segments)
