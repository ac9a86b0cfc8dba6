"""Verification of LiveKit webhooks: value in, verified event (or a reason) out. No I/O.

LiveKit signs each delivery with a JWT in ``Authorization`` (no ``Bearer`` prefix) whose
``sha256`` claim binds the exact body (livekit.md §2). livekit-api's ``WebhookReceiver``
checks the signature (HS256, ``iss`` = our webhook key), ``exp`` and the body hash. It
does no freshness or replay check, so a captured delivery would replay for ~6 min: we
reject a stale or future ``createdAt`` here and dedupe on the event id when storing
(threat T-WH-2). We also insist on ``exp`` ourselves: LiveKit v1.13.5 itself accepts
tokens without one (protocol#1706), and a receiver must not depend on the SDK version.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from google.protobuf.json_format import ParseError
from livekit import api

MAX_AUTHORIZATION_CHARS = 4096
MAX_EVENT_ID_CHARS = 64
_TURN_PASSWORD = re.compile(r'"turnPassword"\s*:\s*"(?:[^"\\]|\\.)*"')
_MASKED_TURN_PASSWORD = '"turnPassword":"[masked]"'  # noqa: S105 - the mask itself


class RejectReason(StrEnum):
    """Why a delivery was refused; audited, never shown to the caller."""

    TOO_LARGE = "too_large"
    MISSING_AUTHORIZATION = "missing_authorization"
    NOT_CONFIGURED = "not_configured"  # no webhook key pair: every delivery is refused
    MALFORMED_TOKEN = "malformed_token"  # noqa: S105 - a reason name
    MISSING_EXP = "missing_exp"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED_TOKEN = "expired_token"  # noqa: S105 - a reason name
    WRONG_ISSUER = "wrong_issuer"
    BODY_HASH_MISMATCH = "body_hash_mismatch"
    NOT_UTF8 = "not_utf8"
    MALFORMED_BODY = "malformed_body"
    MISSING_ID = "missing_id"
    STALE = "stale"
    FROM_THE_FUTURE = "from_the_future"


# 401: the sender is not LiveKit (or the body is not what LiveKit signed); 400: LiveKit
# signed it but we will not act on it; 413: too large to read. LiveKit retries only 5xx
# (and transport errors), so every rejection is final for it.
STATUS_BY_REASON: dict[RejectReason, int] = {
    RejectReason.TOO_LARGE: 413,
    RejectReason.MISSING_AUTHORIZATION: 401,
    RejectReason.NOT_CONFIGURED: 401,
    RejectReason.MALFORMED_TOKEN: 401,
    RejectReason.MISSING_EXP: 401,
    RejectReason.BAD_SIGNATURE: 401,
    RejectReason.EXPIRED_TOKEN: 401,
    RejectReason.WRONG_ISSUER: 401,
    RejectReason.BODY_HASH_MISMATCH: 401,
    RejectReason.NOT_UTF8: 400,
    RejectReason.MALFORMED_BODY: 400,
    RejectReason.MISSING_ID: 400,
    RejectReason.STALE: 400,
    RejectReason.FROM_THE_FUTURE: 400,
}


class WebhookVerificationError(Exception):
    """A delivery that must not be stored; ``reason`` goes to the audit log only."""

    def __init__(self, reason: RejectReason, *, event_id: str | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.status = STATUS_BY_REASON[reason]
        self.event_id = event_id


@dataclass(frozen=True)
class VerifiedWebhook:
    """A delivery that passed every check, ready to be stored once."""

    id: str
    event: str
    room_name: str | None
    created_at: datetime
    stored_body: str


@dataclass(frozen=True)
class WebhookPolicy:
    """What the receiver accepts: the webhook key pair and the freshness window."""

    api_key: str
    api_secret: str
    freshness: timedelta
    future_skew: timedelta
    max_body_bytes: int
    receiver: api.WebhookReceiver | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # livekit-api's verifier for this key pair, built once (not per delivery). None
        # without a key pair: TokenVerifier would fall back to LIVEKIT_API_KEY/SECRET from
        # the environment, i.e. accept webhooks signed with some other key.
        receiver = None
        if self.api_key and self.api_secret:
            receiver = api.WebhookReceiver(api.TokenVerifier(self.api_key, self.api_secret))
        object.__setattr__(self, "receiver", receiver)


def _classify_token_error(exc: Exception) -> RejectReason:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return RejectReason.MISSING_EXP if exc.claim == "exp" else RejectReason.MALFORMED_TOKEN
    if isinstance(exc, jwt.ExpiredSignatureError | jwt.ImmatureSignatureError):
        return RejectReason.EXPIRED_TOKEN
    if isinstance(exc, jwt.InvalidIssuerError):
        return RejectReason.WRONG_ISSUER
    if isinstance(exc, jwt.InvalidSignatureError):
        return RejectReason.BAD_SIGNATURE
    if isinstance(exc, jwt.DecodeError):
        return RejectReason.MALFORMED_TOKEN
    if isinstance(exc, jwt.InvalidTokenError):
        return RejectReason.BAD_SIGNATURE
    return RejectReason.MALFORMED_TOKEN


def _require_exp(token: str) -> None:
    """Refuse a token without a numeric ``exp`` before anything else looks at it.

    Only the payload segment is decoded (the signature is checked next, by the receiver);
    a full unverified JWT decode would cost as much as the verification itself.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise WebhookVerificationError(RejectReason.MALFORMED_TOKEN)
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise WebhookVerificationError(RejectReason.MALFORMED_TOKEN) from exc
    exp = payload.get("exp") if isinstance(payload, dict) else None
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise WebhookVerificationError(RejectReason.MISSING_EXP)


def mask_body(body: str) -> str:
    """The body to store: LiveKit's per-room TURN password masked (we never need it)."""
    return _TURN_PASSWORD.sub(_MASKED_TURN_PASSWORD, body)


def verify_webhook(
    body: bytes, authorization: str | None, *, policy: WebhookPolicy, now: datetime
) -> VerifiedWebhook:
    """Verify one delivery: size, signature over the exact body, ``exp``, id, freshness.

    Raises ``WebhookVerificationError`` naming the first failed check.
    """
    if len(body) > policy.max_body_bytes:
        raise WebhookVerificationError(RejectReason.TOO_LARGE)
    token = (authorization or "").strip()
    if not token:
        raise WebhookVerificationError(RejectReason.MISSING_AUTHORIZATION)
    if len(token) > MAX_AUTHORIZATION_CHARS:
        raise WebhookVerificationError(RejectReason.MALFORMED_TOKEN)
    _require_exp(token)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookVerificationError(RejectReason.NOT_UTF8) from exc
    if policy.receiver is None:
        raise WebhookVerificationError(RejectReason.NOT_CONFIGURED)
    try:
        message = policy.receiver.receive(text, token)
    except ParseError as exc:
        raise WebhookVerificationError(RejectReason.MALFORMED_BODY) from exc
    except jwt.PyJWTError as exc:
        raise WebhookVerificationError(_classify_token_error(exc)) from exc
    except Exception as exc:  # livekit-api raises bare Exception for hash problems
        reason = RejectReason.BODY_HASH_MISMATCH
        if not str(exc).startswith(("hash mismatch", "sha256")):
            reason = RejectReason.MALFORMED_BODY
        raise WebhookVerificationError(reason) from exc
    return _accept(message, text, policy=policy, now=now)


def _accept(
    message: api.WebhookEvent, text: str, *, policy: WebhookPolicy, now: datetime
) -> VerifiedWebhook:
    event_id = message.id
    if not event_id or len(event_id) > MAX_EVENT_ID_CHARS or not message.event:
        raise WebhookVerificationError(RejectReason.MISSING_ID)
    # Compare integers first: a signed but absurd createdAt must not overflow datetime.
    created = int(message.created_at)
    if created < (now - policy.freshness).timestamp():
        raise WebhookVerificationError(RejectReason.STALE, event_id=event_id)
    if created > (now + policy.future_skew).timestamp():
        raise WebhookVerificationError(RejectReason.FROM_THE_FUTURE, event_id=event_id)
    created_at = datetime.fromtimestamp(created, tz=UTC)
    room = message.room.name if message.HasField("room") and message.room.name else None
    return VerifiedWebhook(
        id=event_id,
        event=message.event[:48],
        room_name=room,
        created_at=created_at,
        stored_body=mask_body(text),
    )
