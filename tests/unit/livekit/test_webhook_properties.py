"""Properties of the webhook parser on arbitrary input (Hypothesis): it refuses with a
reason and never raises anything else, and what it accepts round-trips (issue 13)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from control_plane.livekit.webhook import (
    MAX_EVENT_ID_CHARS,
    RejectReason,
    VerifiedWebhook,
    WebhookPolicy,
    WebhookVerificationError,
    strip_client_fields,
    verify_webhook,
)
from tests.support.properties import JSON_VALUES, PROPERTY
from tests.support.webhooks import webhook_token

KEY = "cp-webhook"
SECRET = "w" * 40
POLICY = WebhookPolicy(
    api_key=KEY,
    api_secret=SECRET,
    freshness=timedelta(seconds=300),
    future_skew=timedelta(seconds=60),
    max_body_bytes=8192,
)
# What an id, event kind or room name may hold: no control characters or lone surrogates
# (those are refused as malformed, see test_signed_arbitrary_json...).
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a fixed clock: no wall time in the tests
_FIELDS = st.sampled_from(["id", "event", "createdAt", "created_at", "room", "participant"])


def _signed(body: bytes) -> str:
    return webhook_token(body, key=KEY, secret=SECRET, now=NOW.timestamp())


def _verify(body: bytes, authorization: str | None) -> VerifiedWebhook | RejectReason:
    try:
        return verify_webhook(body, authorization, policy=POLICY, now=NOW)
    except WebhookVerificationError as exc:  # the only error the parser may raise
        return RejectReason(exc.reason)


@PROPERTY
@given(body=st.binary(max_size=10_000), authorization=st.none() | st.text(max_size=5000))
def test_unsigned_deliveries_are_refused_with_a_reason(
    body: bytes, authorization: str | None
) -> None:
    assert isinstance(_verify(body, authorization), RejectReason)


@PROPERTY
@given(
    document=st.dictionaries(_FIELDS | st.text(max_size=8), JSON_VALUES, max_size=6) | JSON_VALUES
)
def test_signed_arbitrary_json_is_accepted_or_refused_with_a_reason(document: Any) -> None:
    # Any: arbitrary JSON. Signed, so every check past the signature sees it.
    body = json.dumps(document).encode()
    result = _verify(body, _signed(body))
    if isinstance(result, VerifiedWebhook):
        assert isinstance(document, dict)
        assert result.id == document["id"]
        assert 0 < len(result.id) <= MAX_EVENT_ID_CHARS
        assert result.event == document["event"][:48]
        assert NOW - POLICY.freshness <= result.created_at <= NOW + POLICY.future_skew
        # Only what processing reads is stored: client-chosen names and metadata go.
        assert json.loads(result.stored_body) == strip_client_fields(document)


@PROPERTY
@given(
    event_id=st.text(PRINTABLE, min_size=1, max_size=MAX_EVENT_ID_CHARS),
    kind=st.text(PRINTABLE, min_size=1, max_size=80),
    age=st.integers(min_value=-60, max_value=300),
    as_string=st.booleans(),
    room=st.text(PRINTABLE, max_size=40),
    password=st.text(max_size=40),
    extra=JSON_VALUES,
)
def test_well_formed_events_round_trip_with_the_turn_password_masked(
    event_id: str, kind: str, age: int, as_string: bool, room: str, password: str, extra: Any
) -> None:
    created = int(NOW.timestamp()) - age
    document = {
        "id": event_id,
        "event": kind,
        "createdAt": str(created) if as_string else created,
        "room": {"name": room, "turnPassword": password},
        "participant": {"metadata": extra},
    }
    body = json.dumps(document).encode()

    result = _verify(body, _signed(body))

    assert isinstance(result, VerifiedWebhook), result
    assert (result.id, result.event) == (event_id, kind[:48])
    assert result.created_at == datetime.fromtimestamp(created, UTC)
    assert result.room_name == (room or None)
    stored = json.loads(result.stored_body)
    assert stored["room"]["turnPassword"] == "[masked]"
    assert "metadata" not in stored["participant"]  # client-chosen: never stored
    assert {**stored, "room": {"name": room, "turnPassword": password}} == {
        **document,
        "participant": {},
    }


@PROPERTY
@given(body=st.binary(max_size=2000), tamper=st.binary(min_size=1, max_size=8))
def test_a_body_changed_after_signing_is_refused(body: bytes, tamper: bytes) -> None:
    assert _verify(body + tamper, _signed(body)) == RejectReason.BODY_HASH_MISMATCH


@pytest.mark.parametrize("size", [POLICY.max_body_bytes + 1, 10 * POLICY.max_body_bytes])
def test_oversized_bodies_are_refused_before_the_signature(size: int) -> None:
    assert _verify(b"x" * size, None) == RejectReason.TOO_LARGE
