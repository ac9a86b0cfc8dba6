"""Which rate-limit storage URLs we accept (pure: checked by the settings at start-up)."""

from __future__ import annotations

from urllib.parse import urlsplit

SCHEMES = ("memory", "redis", "rediss", "redis+sentinel")


def storage_url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable rate-limit storage URL, or None if it is.

    ``memory://`` (embedded), ``redis://`` / ``rediss://`` (one Redis), or
    ``redis+sentinel://[:password@]host:port[,host:port...]/service_name`` (Redis behind
    Sentinel, as ``limits`` takes it: the password, if any, is sent to the sentinels and
    to the primary).
    """
    scheme, _, rest = url.partition("://")
    if scheme not in SCHEMES or not _:
        return f"unsupported scheme (use one of {', '.join(s + '://' for s in SCHEMES)})"
    if scheme == "memory":
        return None
    if scheme != "redis+sentinel":
        return None if urlsplit(url).hostname else "no host"
    authority, _, service = rest.partition("/")
    locations = authority.rpartition("@")[2]
    if not locations:
        return "no sentinel host"
    for location in locations.split(","):
        host, _, port = location.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            return "each sentinel needs host:port"
    if not service.strip("/") or "/" in service.strip("/"):
        return "no service name (redis+sentinel://host:port/service_name)"
    return None
