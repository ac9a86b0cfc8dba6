"""Verification of LiveKit webhooks: value in, verified event (or a reason) out. No I/O.

LiveKit signs each delivery with a JWT in ``Authorization`` (no ``Bearer`` prefix) whose
``sha256`` claim binds the exact body (livekit.md §2). We check what livekit-api's
``WebhookReceiver`` checks (HS256 signature, ``iss`` = our webhook key, ``exp``/``nbf``
with its 60 s leeway, the body hash) and more: it does no freshness or replay check, so a
captured delivery would replay for ~6 min; we reject a stale or future ``createdAt`` here
and dedupe on the event id when storing (threat T-WH-2). We insist on ``exp``: LiveKit
v1.13.5 itself accepts tokens without one (protocol#1706).

The receiver is not used on this path because of its cost (measured per delivery: 79 µs
to verify the token, 90 µs to parse the body into protobuf, out of ~460 µs in all). The
signature goes through PyJWT with the key checked once (``crypto.hs256``); the body is
read with ``json`` for the four fields intake stores and keys on, and parsed into
protobuf once, by processing, which records a body protobuf refuses as ``unparseable``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from control_plane.crypto.hs256 import Hs256Key
from control_plane.crypto.lifetime import LifetimeProblem, lifetime_problem
from control_plane.text import has_unsafe_chars

MAX_AUTHORIZATION_CHARS = 4096
MAX_EVENT_ID_CHARS = 64
TOKEN_LEEWAY_SECONDS = 60  # livekit-api's TokenVerifier default
# LiveKit's events nest about five deep; protobuf's JSON parser stops at 100. Past this a
# signed body is refused before anything else reads it (json's C parser raised
# RecursionError, a 500, and LiveKit retries a 5xx forever).
MAX_JSON_DEPTH = 32
_INTEGER = re.compile(r"-?[0-9]{1,20}")
# What the intake stores and keys on must be storable on both backends and printable in
# the audit log: no NUL (PostgreSQL refuses it), control characters or lone surrogates.


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
    api_secret: str = field(repr=False)  # never in a repr, a log line or a traceback
    freshness: timedelta
    future_skew: timedelta
    max_body_bytes: int
    key: Hs256Key | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The webhook secret, checked once (not per delivery). None without a key pair:
        # nothing verifies then, not even a key from the environment (livekit-api's
        # TokenVerifier would fall back to LIVEKIT_API_KEY/SECRET).
        key = Hs256Key(self.api_secret) if self.api_key and self.api_secret else None
        object.__setattr__(self, "key", key)


_LIFETIME_REASONS = {
    LifetimeProblem.MISSING_EXP: RejectReason.MISSING_EXP,
    LifetimeProblem.MALFORMED_TIME: RejectReason.MALFORMED_TOKEN,
    LifetimeProblem.EXPIRED: RejectReason.EXPIRED_TOKEN,
    LifetimeProblem.NOT_YET_VALID: RejectReason.EXPIRED_TOKEN,
    LifetimeProblem.ISSUED_IN_FUTURE: RejectReason.EXPIRED_TOKEN,
}


def _classify_token_error(exc: jwt.PyJWTError) -> RejectReason:
    if isinstance(exc, jwt.InvalidSignatureError | jwt.InvalidAlgorithmError):
        return RejectReason.BAD_SIGNATURE
    return RejectReason.MALFORMED_TOKEN


def _claims(token: str, key: Hs256Key, *, api_key: str, now: datetime) -> dict[str, Any]:
    """The verified claims of a webhook token; ``exp`` required, ``nbf`` honoured."""
    try:
        claims = json.loads(key.verify(token))
    except jwt.PyJWTError as exc:
        raise WebhookVerificationError(_classify_token_error(exc)) from exc
    except ValueError as exc:  # signed, but the payload is not JSON
        raise WebhookVerificationError(RejectReason.MALFORMED_TOKEN) from exc
    if not isinstance(claims, dict):
        raise WebhookVerificationError(RejectReason.MALFORMED_TOKEN)
    problem = lifetime_problem(claims, now=now.timestamp(), leeway=TOKEN_LEEWAY_SECONDS)
    if problem is not None:
        raise WebhookVerificationError(_LIFETIME_REASONS[problem])
    if claims.get("iss") != api_key:
        raise WebhookVerificationError(RejectReason.WRONG_ISSUER)
    return claims


def _check_body_hash(body: bytes, claims: dict[str, Any]) -> None:
    claimed = claims.get("sha256")
    if not isinstance(claimed, str) or not claimed:
        raise WebhookVerificationError(RejectReason.BODY_HASH_MISMATCH)
    try:
        expected = base64.b64decode(claimed, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise WebhookVerificationError(RejectReason.BODY_HASH_MISMATCH) from exc
    if not hmac.compare_digest(hashlib.sha256(body).digest(), expected):
        raise WebhookVerificationError(RejectReason.BODY_HASH_MISMATCH)


# What a stored body keeps of participant attributes: the ones join auditing reads (the
# token id we put there, the agent name LiveKit sets). Everything else a client or a token
# chose (names, metadata, attributes, track names, stream names, ingress/egress details)
# may be personal data that erasure cannot find inside a JSON body, and processing never
# reads it, so it is never stored (T-PRIV-5).
KEPT_ATTRIBUTES = frozenset({"cp.tid", "lk.agent_name"})
_CLIENT_FIELDS = {
    "room": ("metadata",),
    "participant": ("name", "metadata"),
    "track": ("name", "stream"),
}
_DROPPED_SECTIONS = ("ingressInfo", "ingress_info", "egressInfo", "egress_info")
_MASKED = "[masked]"


def strip_client_fields(event: dict[str, Any]) -> dict[str, Any]:
    """The event as it may be stored: client-chosen names and metadata removed, the TURN
    password masked (pure; the signature was checked over the original bytes)."""
    stored = dict(event)
    for section in _DROPPED_SECTIONS:
        stored.pop(section, None)
    for section, fields in _CLIENT_FIELDS.items():
        value = stored.get(section)
        if not isinstance(value, dict):
            continue
        kept = {k: v for k, v in value.items() if k not in fields}
        if "turnPassword" in kept or "turn_password" in kept:
            kept.pop("turn_password", None)
            kept["turnPassword"] = _MASKED
        attributes = kept.get("attributes")
        if isinstance(attributes, dict):
            kept["attributes"] = {k: v for k, v in attributes.items() if k in KEPT_ATTRIBUTES}
        stored[section] = kept
    return stored


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
    if policy.key is None:
        raise WebhookVerificationError(RejectReason.NOT_CONFIGURED)
    claims = _claims(token, policy.key, api_key=policy.api_key, now=now)
    _check_body_hash(body, claims)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookVerificationError(RejectReason.NOT_UTF8) from exc
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise WebhookVerificationError(RejectReason.MALFORMED_BODY) from exc
    if not isinstance(event, dict) or _too_deep(body, event):
        raise WebhookVerificationError(RejectReason.MALFORMED_BODY)
    return _accept(event, policy=policy, now=now)


def _too_deep(body: bytes, event: object) -> bool:
    """True if the parsed body nests deeper than ``MAX_JSON_DEPTH``. A body with fewer
    brackets than that cannot be (the common case: two byte counts, no walk)."""
    if body.count(b"{") + body.count(b"[") <= MAX_JSON_DEPTH:
        return False
    level: list[tuple[object, int]] = [(event, 1)]
    while level:
        value, depth = level.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        children: list[object] = (
            list(value.values())
            if isinstance(value, dict)
            else value
            if isinstance(value, list)
            else []
        )
        level.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _field(event: dict[str, Any], json_name: str, proto_name: str) -> object:
    """A field by its JSON name or its proto name (protobuf's JSON mapping takes both)."""
    return event[json_name] if json_name in event else event.get(proto_name)


def _string(value: object) -> str:
    """A protobuf string field the intake stores: absent is empty, anything but a
    printable string is refused."""
    if value is None:
        return ""
    if not isinstance(value, str) or has_unsafe_chars(value):
        raise WebhookVerificationError(RejectReason.MALFORMED_BODY)
    return value


def _int64(value: object) -> int:
    """A protobuf int64 field: a JSON integer or a decimal string; absent is 0."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise WebhookVerificationError(RejectReason.MALFORMED_BODY)


def _room_name(event: dict[str, Any]) -> str | None:
    room = event.get("room")
    if room is None:
        return None
    if not isinstance(room, dict):
        raise WebhookVerificationError(RejectReason.MALFORMED_BODY)
    return _string(room.get("name")) or None


def _accept(event: dict[str, Any], *, policy: WebhookPolicy, now: datetime) -> VerifiedWebhook:
    event_id = _string(event.get("id"))
    kind = _string(event.get("event"))
    created = _int64(_field(event, "createdAt", "created_at"))
    room = _room_name(event)
    if not event_id or len(event_id) > MAX_EVENT_ID_CHARS or not kind:
        raise WebhookVerificationError(RejectReason.MISSING_ID)
    # Compare integers first: a signed but absurd createdAt must not overflow datetime.
    if created < (now - policy.freshness).timestamp():
        raise WebhookVerificationError(RejectReason.STALE, event_id=event_id)
    if created > (now + policy.future_skew).timestamp():
        raise WebhookVerificationError(RejectReason.FROM_THE_FUTURE, event_id=event_id)
    return VerifiedWebhook(
        id=event_id,
        event=kind[:48],
        room_name=room,
        created_at=datetime.fromtimestamp(created, tz=UTC),
        stored_body=json.dumps(strip_client_fields(event), separators=(",", ":")),
    )
