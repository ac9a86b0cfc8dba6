"""The client's address: X-Forwarded-For believed only through trusted proxies, read
from every header line (haproxy's ``option forwardfor`` appends a line of its own)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from control_plane.risk.address import (
    FORWARDED_FOR,
    client_address,
    forwarded_for,
    parse_networks,
)

PROXIES = parse_networks(["10.0.0.0/8"])


def _request(peer: str, *lines: str) -> Request:
    headers = [(FORWARDED_FOR.encode(), line.encode()) for line in lines]
    return Request({"type": "http", "headers": headers, "client": (peer, 5000)})


def _address(peer: str, *lines: str) -> str:
    request = _request(peer, *lines)
    hops = forwarded_for(request.headers.getlist(FORWARDED_FOR))
    return client_address(request.client.host if request.client else None, hops, PROXIES)


def test_behind_haproxy_the_client_cannot_choose_its_address_with_its_own_line() -> None:
    # The client sends a line naming someone else; haproxy appends the real peer's.
    assert _address("10.0.0.5", "198.51.100.9", "203.0.113.7") == "203.0.113.7"


@pytest.mark.parametrize(
    ("peer", "lines", "client"),
    [
        ("10.0.0.5", ("198.51.100.9, 10.0.0.9", "10.0.0.8"), "198.51.100.9"),
        ("10.0.0.5", ("198.51.100.9, 203.0.113.7",), "203.0.113.7"),
        ("10.0.0.5", ("not-an-address", "203.0.113.7"), "203.0.113.7"),
        ("10.0.0.5", ("203.0.113.7", "garbage"), "10.0.0.5"),
        ("10.0.0.5", (), "10.0.0.5"),
        ("203.0.113.7", ("198.51.100.9",), "203.0.113.7"),  # untrusted peer: ignored
        ("203.0.113.7", ("10.0.0.1", "198.51.100.9"), "203.0.113.7"),
    ],
)
def test_every_line_is_walked_from_the_right_through_trusted_proxies(
    peer: str, lines: tuple[str, ...], client: str
) -> None:
    assert _address(peer, *lines) == client
