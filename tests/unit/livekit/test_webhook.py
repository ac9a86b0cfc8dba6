"""Webhook verification, value in and value out: every way a delivery is refused."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from control_plane.livekit.webhook import (
    RejectReason,
    WebhookPolicy,
    WebhookVerificationError,
    mask_body,
    verify_webhook,
)
from tests.support.webhooks import event_body, participant_json, webhook_token

KEY = "cp-webhook"
SECRET = "w" * 40
POLICY = WebhookPolicy(
    api_key=KEY,
    api_secret=SECRET,
    freshness=timedelta(seconds=300),
    future_skew=timedelta(seconds=60),
    max_body_bytes=4096,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _joined(**kwargs: object) -> bytes:
    return event_body(
        "participant_joined",
        participant=participant_json(identity="sub_x"),
        **kwargs,  # type: ignore[arg-type]
    )


def _reason(body: bytes, authorization: str | None, *, now: datetime | None = None) -> RejectReason:
    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(body, authorization, policy=POLICY, now=now or _now())
    return refused.value.reason


def test_a_livekit_shaped_delivery_verifies_and_its_turn_password_is_masked() -> None:
    body = _joined(event_id="EV_ok")
    verified = verify_webhook(
        body, webhook_token(body, key=KEY, secret=SECRET), policy=POLICY, now=_now()
    )
    assert verified.id == "EV_ok"
    assert verified.event == "participant_joined"
    assert verified.room_name == "cp-test-room"
    assert "turn-secret" not in verified.stored_body
    assert json.loads(verified.stored_body)["room"]["turnPassword"] == "[masked]"


@pytest.mark.parametrize(
    ("case", "make", "reason", "status"),
    [
        ("missing header", lambda b: None, RejectReason.MISSING_AUTHORIZATION, 401),
        ("empty header", lambda b: "  ", RejectReason.MISSING_AUTHORIZATION, 401),
        ("garbage JWT", lambda b: "not.a.jwt", RejectReason.MALFORMED_TOKEN, 401),
        ("huge header", lambda b: "x" * 5000, RejectReason.MALFORMED_TOKEN, 401),
        (
            "Bearer-prefixed (LiveKit never sends one)",
            lambda b: "Bearer " + webhook_token(b, key=KEY, secret=SECRET),
            RejectReason.MALFORMED_TOKEN,
            401,
        ),
        (
            "wrong secret",
            lambda b: webhook_token(b, key=KEY, secret="z" * 40),
            RejectReason.BAD_SIGNATURE,
            401,
        ),
        (
            "another key (the API key pair)",
            lambda b: webhook_token(b, key="cp-api", secret=SECRET),
            RejectReason.WRONG_ISSUER,
            401,
        ),
        (
            "no exp claim",
            lambda b: webhook_token(b, key=KEY, secret=SECRET, exp=False),
            RejectReason.MISSING_EXP,
            401,
        ),
        (
            "expired token",
            lambda b: webhook_token(b, key=KEY, secret=SECRET, now=time.time() - 1000),
            RejectReason.EXPIRED_TOKEN,
            401,
        ),
        (
            "tampered body",
            lambda b: webhook_token(b.replace(b"sub_x", b"sub_y"), key=KEY, secret=SECRET),
            RejectReason.BODY_HASH_MISMATCH,
            401,
        ),
        (
            "alg none",
            lambda b: jwt.encode({"iss": KEY, "exp": time.time() + 60}, "", algorithm="none"),
            RejectReason.BAD_SIGNATURE,
            401,
        ),
    ],
)
def test_a_delivery_that_is_not_livekits_is_401(
    case: str, make: object, reason: RejectReason, status: int
) -> None:
    body = _joined()
    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(body, make(body), policy=POLICY, now=_now())  # type: ignore[operator]
    assert refused.value.reason is reason, case
    assert refused.value.status == status


def test_without_a_webhook_key_pair_nothing_verifies_not_even_the_environments_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # livekit-api's TokenVerifier falls back to LIVEKIT_API_KEY/SECRET when given none.
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    unconfigured = WebhookPolicy(
        api_key="",
        api_secret="",
        freshness=timedelta(seconds=300),
        future_skew=timedelta(seconds=60),
        max_body_bytes=4096,
    )
    body = _joined()
    assert verify_webhook(
        body, webhook_token(body, key=KEY, secret=SECRET), policy=POLICY, now=_now()
    )
    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(
            body, webhook_token(body, key=KEY, secret=SECRET), policy=unconfigured, now=_now()
        )
    assert refused.value.reason is RejectReason.NOT_CONFIGURED
    assert refused.value.status == 401


def test_no_sha256_claim_is_refused() -> None:
    body = _joined()
    token = jwt.encode({"iss": KEY, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    assert _reason(body, token) is RejectReason.BODY_HASH_MISMATCH


def test_oversized_body_is_413_before_any_parsing() -> None:
    body = b"{" + b" " * 5000 + b"}"
    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(body, "whatever", policy=POLICY, now=_now())
    assert refused.value.reason is RejectReason.TOO_LARGE
    assert refused.value.status == 413


@pytest.mark.parametrize(
    ("case", "body", "reason"),
    [
        ("malformed JSON", b'{"event": "participant_joined", ', RejectReason.MALFORMED_BODY),
        ("not JSON at all", b"\x00\x01binary", RejectReason.MALFORMED_BODY),
        ("not UTF-8", b'{"event": "\xff"}', RejectReason.NOT_UTF8),
        ("wrong field type", b'{"event": 5, "id": "EV_1"}', RejectReason.MALFORMED_BODY),
        ("no id", b'{"event": "room_started", "createdAt": "1"}', RejectReason.MISSING_ID),
        (
            "id too long",
            json.dumps({"event": "room_started", "id": "EV_" + "x" * 80}).encode(),
            RejectReason.MISSING_ID,
        ),
    ],
)
def test_signed_but_unusable_body_is_400(case: str, body: bytes, reason: RejectReason) -> None:
    token = webhook_token(body, key=KEY, secret=SECRET)
    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(body, token, policy=POLICY, now=_now())
    assert refused.value.reason is reason, case
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("age_seconds", "reason"),
    [
        (301, RejectReason.STALE),
        (10**9, RejectReason.STALE),
        (-61, RejectReason.FROM_THE_FUTURE),
        (-(10**12), RejectReason.FROM_THE_FUTURE),
    ],
)
def test_created_at_outside_the_freshness_window_is_400(
    age_seconds: int, reason: RejectReason
) -> None:
    now = _now()
    body = _joined(created_at=int(now.timestamp()) - age_seconds)
    assert _reason(body, webhook_token(body, key=KEY, secret=SECRET), now=now) is reason


@pytest.mark.parametrize("age_seconds", [0, 299, -59])
def test_created_at_inside_the_window_is_accepted(age_seconds: int) -> None:
    now = _now()
    body = _joined(created_at=int(now.timestamp()) - age_seconds)
    verify_webhook(body, webhook_token(body, key=KEY, secret=SECRET), policy=POLICY, now=now)


def test_mask_body_handles_escapes() -> None:
    masked = mask_body('{"room":{"turnPassword":"a\\"b\\\\c","name":"r"}}')
    assert json.loads(masked) == {"room": {"turnPassword": "[masked]", "name": "r"}}
