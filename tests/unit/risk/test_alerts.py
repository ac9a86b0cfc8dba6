"""Alert signatures: what the control plane sends is what a receiver can verify."""

from __future__ import annotations

from datetime import timedelta

import pytest

from control_plane.risk.alerts import next_attempt_delay, sign_alert, verify_alert_signature

SECRET = b"s" * 32
BODY = b'{"id":"an_1","type":"anomaly"}'


def test_signature_verifies_and_binds_body_time_and_secret() -> None:
    header = sign_alert(SECRET, BODY, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify_alert_signature(SECRET, BODY, header, now=1_700_000_010)
    assert not verify_alert_signature(SECRET, BODY + b" ", header, now=1_700_000_010)
    assert not verify_alert_signature(b"x" * 32, BODY, header, now=1_700_000_010)
    forged_time = header.replace("t=1700000000", "t=1700000001")
    assert not verify_alert_signature(SECRET, BODY, forged_time, now=1_700_000_010)


@pytest.mark.parametrize(
    "header",
    ["", "t=abc,v1=00", "v1=00", "t=1700000000", "t=1700000000,v1=", "garbage"],
)
def test_malformed_headers_are_refused(header: str) -> None:
    assert not verify_alert_signature(SECRET, BODY, header, now=1_700_000_000)


def test_stale_or_future_signatures_are_refused() -> None:
    header = sign_alert(SECRET, BODY, 1_700_000_000)
    assert not verify_alert_signature(SECRET, BODY, header, now=1_700_000_301)
    assert not verify_alert_signature(SECRET, BODY, header, now=1_699_999_699)


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 10), (2, 20), (3, 40), (20, 3600), (50, 3600)]
)
def test_backoff_doubles_up_to_an_hour(attempts: int, seconds: int) -> None:
    assert next_attempt_delay(attempts, 5.0) == timedelta(seconds=seconds)
