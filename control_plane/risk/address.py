"""The client's address: X-Forwarded-For is believed only from configured trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """CIDRs or single addresses; invalid entries raise ValueError at start-up."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


FORWARDED_FOR = "x-forwarded-for"


def forwarded_for(values: Iterable[str]) -> str | None:
    """Every ``X-Forwarded-For`` header line, in order, as one list (RFC 9110 §5.3).

    A proxy may append its own line instead of extending the client's (haproxy's
    ``option forwardfor`` does): reading the first line only let the client choose its
    own address behind such a proxy. The rightmost entries are the trusted ones.
    """
    return ",".join(values) or None


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """Walk X-Forwarded-For right to left through trusted proxies; the first untrusted hop
    is the client. A spoofed header from an untrusted peer is ignored entirely."""
    current = peer or "unknown"
    if not forwarded_for or not _is_trusted(current, trusted):
        return current
    hops = [h.strip() for h in forwarded_for.split(",")[-16:] if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return current
        current = hop
        if not _is_trusted(hop, trusted):
            return hop
    return current
