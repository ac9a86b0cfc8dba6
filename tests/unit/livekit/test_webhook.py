"""Webhook verification, value in and value out: every way a delivery is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from livekit import api

from control_plane.livekit.webhook import (
    RejectReason,
    WebhookPolicy,
    WebhookVerificationError,
    strip_client_fields,
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


def test_the_turn_password_is_masked_whatever_it_holds() -> None:
    event = json.loads('{"room":{"turnPassword":"a\\"b\\\\c","name":"r"}}')
    assert strip_client_fields(event) == {"room": {"turnPassword": "[masked]", "name": "r"}}


def _signed(claims: dict[str, object]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _sha256_claim(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


# Claims relative to the verifier's clock, resolved inside the test: a wall-clock value
# computed at collection goes stale while the suite runs (a "future" nbf 600 s ahead is
# no longer in the future once collection and earlier tests took longer than that).
@dataclass(frozen=True)
class _FromNow:
    seconds: float


@pytest.mark.parametrize(
    ("case", "extra", "reason"),
    [
        ("exp NaN never expires: refused", {"exp": float("nan")}, RejectReason.MISSING_EXP),
        ("exp Infinity: refused", {"exp": float("inf")}, RejectReason.MISSING_EXP),
        ("exp a string", {"exp": "9999999999"}, RejectReason.MISSING_EXP),
        ("exp beyond any float", {"exp": 10**400}, RejectReason.MISSING_EXP),
        ("exp a boolean", {"exp": True}, RejectReason.MISSING_EXP),
        ("nbf in the future", {"nbf": _FromNow(600)}, RejectReason.EXPIRED_TOKEN),
        ("nbf a string", {"nbf": "0"}, RejectReason.MALFORMED_TOKEN),
        ("issued in the future", {"iat": _FromNow(600)}, RejectReason.EXPIRED_TOKEN),
        ("iat a string", {"iat": "now"}, RejectReason.MALFORMED_TOKEN),
        ("issuer missing", {"iss": None}, RejectReason.WRONG_ISSUER),
        ("sha256 not base64", {"sha256": "%%%"}, RejectReason.BODY_HASH_MISMATCH),
        ("sha256 a number", {"sha256": 5}, RejectReason.BODY_HASH_MISMATCH),
    ],
)
def test_token_claims_are_checked_after_the_signature(
    case: str, extra: dict[str, object], reason: RejectReason
) -> None:
    now = _now()
    body = _joined()
    resolved = {
        name: now.timestamp() + value.seconds if isinstance(value, _FromNow) else value
        for name, value in extra.items()
    }
    claims: dict[str, object] = {
        "iss": KEY,
        "exp": int(now.timestamp()) + 60,
        "sha256": _sha256_claim(body),
        **resolved,
    }
    if claims["iss"] is None:
        del claims["iss"]
    assert _reason(body, _signed(claims), now=now) is reason, case


def test_a_signed_payload_that_is_not_a_json_object_is_a_malformed_token() -> None:
    body = _joined()
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    for payload in (b"[1, 2]", b"not json"):
        segment = base64.urlsafe_b64encode(payload).rstrip(b"=")
        signing_input = header + b"." + segment
        signature = base64.urlsafe_b64encode(
            hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest()
        ).rstrip(b"=")
        token = (signing_input + b"." + signature).decode()
        assert _reason(body, token) is RejectReason.MALFORMED_TOKEN, payload


@pytest.mark.parametrize(
    ("case", "document", "reason"),
    [
        ("a JSON array", [1, 2], RejectReason.MALFORMED_BODY),
        ("createdAt not a number", {"createdAt": "soon"}, RejectReason.MALFORMED_BODY),
        ("createdAt a boolean", {"createdAt": True}, RejectReason.MALFORMED_BODY),
        ("createdAt a float", {"createdAt": 1.5}, RejectReason.MALFORMED_BODY),
        ("room not an object", {"room": "cp-test-room"}, RejectReason.MALFORMED_BODY),
        ("room name a number", {"room": {"name": 7}}, RejectReason.MALFORMED_BODY),
        ("id a number", {"id": 7}, RejectReason.MALFORMED_BODY),
        ("empty event", {"event": ""}, RejectReason.MISSING_ID),
        ("no createdAt: the epoch, stale", {"createdAt": None}, RejectReason.STALE),
    ],
)
def test_the_fields_intake_stores_are_type_checked(
    case: str, document: object, reason: RejectReason
) -> None:
    base = json.loads(_joined())
    if isinstance(document, dict):
        base.update(document)
        base = {k: v for k, v in base.items() if v is not None}
    else:
        base = document
    body = json.dumps(base).encode()
    assert _reason(body, webhook_token(body, key=KEY, secret=SECRET)) is reason, case


@pytest.mark.parametrize(
    "document",
    [
        {"event": "room_started", "id": "EV_a", "room": {"name": "r1"}},
        {"event": "participant_left", "id": "EV_b", "room": {"sid": "RM_1"}},
        {"event": "egress_ended", "id": "EV_c"},
        {"event": "track_published", "id": "EV_d", "room": {"name": "r2"}, "extra": {"x": 1}},
    ],
)
@pytest.mark.parametrize("created_as", ["camel string", "camel number", "proto name"])
def test_it_reads_what_livekit_apis_receiver_reads(
    document: dict[str, object], created_as: str
) -> None:
    """The SDK's receiver (signature, body hash, protobuf parse) and ours agree on every
    field intake keeps, for each JSON spelling protobuf accepts."""
    created = int(_now().timestamp())
    spelled: dict[str, object] = {
        "camel string": {"createdAt": str(created)},
        "camel number": {"createdAt": created},
        "proto name": {"created_at": created},
    }[created_as]  # type: ignore[assignment]
    body = json.dumps({**document, **spelled}).encode()
    token = webhook_token(body, key=KEY, secret=SECRET)
    ours = verify_webhook(body, token, policy=POLICY, now=_now())
    sdk = api.WebhookReceiver(api.TokenVerifier(KEY, SECRET)).receive(body.decode(), token)
    assert (ours.id, ours.event, ours.room_name, int(ours.created_at.timestamp())) == (
        sdk.id,
        sdk.event,
        sdk.room.name or None,
        sdk.created_at,
    )


def test_the_policy_never_shows_its_secret() -> None:
    assert SECRET not in repr(POLICY)
    assert SECRET not in str(POLICY)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("case", "document"),
    [
        ("nested 50,000 deep (past json's recursion limit)", None),
        ("nested one past the bound", "deep"),
        ("NUL in the id", {"id": "EV_\u0000"}),
        ("lone surrogate in the id", {"id": "EV_\ud800"}),
        ("control character in the event kind", {"event": "participant_joined\u001b"}),
        ("NUL in the room name", {"room": {"name": "cp-room\u0000"}}),
        ("lone surrogate in the room name", {"room": {"name": "\udfffcp-room"}}),
    ],
)
def test_a_signed_body_the_intake_cannot_store_is_refused_as_malformed(
    case: str, document: dict[str, object] | str | None
) -> None:
    base = json.loads(_joined())
    if document is None:
        body = json.dumps(base).encode()[:-1] + b', "pad": ' + _nested(50_000).encode() + b"}"
    elif document == "deep":
        base["pad"] = json.loads(_nested(32))  # with the event object: 33 levels
        body = json.dumps(base).encode()
    else:
        assert isinstance(document, dict)
        body = json.dumps({**base, **document}).encode()
    policy = WebhookPolicy(
        api_key=KEY,
        api_secret=SECRET,
        freshness=timedelta(seconds=300),
        future_skew=timedelta(seconds=60),
        max_body_bytes=len(body),
    )
    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook(body, webhook_token(body, key=KEY, secret=SECRET), policy=policy, now=_now())
    assert refused.value.reason is RejectReason.MALFORMED_BODY, case
    assert refused.value.status == 400
    assert refused.value.event_id is None  # nothing unstorable reaches the audit record


def test_a_body_nested_to_the_bound_with_many_brackets_is_accepted() -> None:
    base = json.loads(_joined(event_id="EV_deep_ok"))
    base["pad"] = json.loads(_nested(31))  # 32 levels with the event object
    base["many"] = [[1], [2], [3]] * 20  # more brackets than the bound: the walk runs
    body = json.dumps(base).encode()
    policy = WebhookPolicy(
        api_key=KEY,
        api_secret=SECRET,
        freshness=timedelta(seconds=300),
        future_skew=timedelta(seconds=60),
        max_body_bytes=len(body),
    )
    verified = verify_webhook(
        body, webhook_token(body, key=KEY, secret=SECRET), policy=policy, now=_now()
    )
    assert verified.id == "EV_deep_ok"


def test_the_stored_body_keeps_what_processing_reads_and_no_client_chosen_text() -> None:
    """T-PRIV-5: names, metadata, non-audit attributes, track and stream names, ingress
    and egress details are never stored; ids, kinds, sources and our attributes are."""
    participant = participant_json(
        sid="PA_1", identity="sub_1", attributes={"cp.tid": "tok_1", "lk.agent_name": "a", "x": "N"}
    )
    participant.update({"name": "Zebulon", "metadata": "card 4111"})
    document = json.loads(
        event_body(
            "track_published",
            participant=participant,
            track={"sid": "TR_1", "name": "Zebulon mic", "stream": "4111", "source": "MICROPHONE"},
        )
    )
    document["room"]["metadata"] = "Zebulon's room"
    document["ingressInfo"] = {"name": "Zebulon", "streamKey": "secret"}
    body = json.dumps(document).encode()
    now = datetime.fromtimestamp(int(document["createdAt"]), tz=UTC)
    verified = verify_webhook(
        body, webhook_token(body, key=KEY, secret=SECRET), policy=POLICY, now=now
    )
    stored = json.loads(verified.stored_body)
    assert "Zebulon" not in verified.stored_body
    assert "4111" not in verified.stored_body
    assert "ingressInfo" not in stored
    assert stored["participant"]["attributes"] == {"cp.tid": "tok_1", "lk.agent_name": "a"}
    assert stored["participant"]["identity"] == "sub_1"
    assert stored["track"] == {"sid": "TR_1", "source": "MICROPHONE"}
    assert stored["room"] == {"sid": "RM_test", "name": "cp-test-room", "turnPassword": "[masked]"}
