"""Anomaly alerts to an outbound webhook, signed so the receiver can trust them.

Signature (like Stripe's): ``X-CP-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 under ``webhooks.alert_secret`` over ``"<t>." + body``. A receiver recomputes
it over the raw body, compares in constant time and refuses a ``t`` outside its tolerance
(``verify_alert_signature``). ``X-CP-Delivery`` is the anomaly id: delivery is at least
once, so receivers de-duplicate on it.

Delivery runs as a job on every replica: one step claims due anomalies under a lease
(pushing ``next_alert_at`` ahead, counting the attempt), posts them outside any
transaction, then records each outcome; failures back off exponentially until
``risk.alert_max_attempts``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, or_, select

from control_plane.clock import as_utc
from control_plane.logs import get_logger
from control_plane.risk.tables import Anomaly
from control_plane.store.engine import try_lease
from control_plane.store.uow import unit_of_work

SIGNATURE_HEADER = "X-CP-Signature"
DELIVERY_HEADER = "X-CP-Delivery"
ALERT_LEASE_KEY = 0x63705F616C7274  # "cp_alrt"
CLAIM_SECONDS = 60
BATCH = 20
MAX_BACKOFF = timedelta(hours=1)
DEFAULT_TOLERANCE_SECONDS = 300
_log = get_logger("control_plane.risk")


def sign_alert(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``X-CP-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_alert_signature(
    secret: bytes,
    body: bytes,
    header: str,
    *,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver runs: constant-time check of ``v1`` and freshness of ``t``."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = sign_alert(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def alert_body(anomaly: Anomaly) -> bytes:
    """The alert JSON: pseudonymous ids, rule, severity, response and evidence."""
    payload = {
        "type": "anomaly",
        "id": anomaly.id,
        "rule": anomaly.rule,
        "severity": anomaly.severity,
        "response": anomaly.response,
        "subject": anomaly.subject_id,
        "tenant": anomaly.tenant,
        "session": anomaly.session_id,
        "evidence": anomaly.evidence,
        "created_at": as_utc(anomaly.created_at).isoformat(),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def next_attempt_delay(attempts: int, interval_seconds: float) -> timedelta:
    """Exponential back-off after ``attempts`` failed deliveries, capped at an hour."""
    delay = timedelta(seconds=interval_seconds * (2 ** min(attempts, 20)))
    return min(delay, MAX_BACKOFF)


@dataclass(frozen=True)
class AlertTarget:
    url: str
    secret: bytes = field(repr=False)
    max_attempts: int
    interval_seconds: float


async def _claim(engine: AsyncEngine, target: AlertTarget, now: datetime) -> list[Anomaly]:
    async with unit_of_work(engine) as tx:
        if not await try_lease(await tx.connection(), ALERT_LEASE_KEY):
            return []
        due = (
            await tx.exec(
                select(Anomaly)
                .where(col(Anomaly.alerted_at).is_(None))
                .where(col(Anomaly.alert_attempts) < target.max_attempts)
                .where(or_(col(Anomaly.next_alert_at).is_(None), col(Anomaly.next_alert_at) <= now))
                .order_by(col(Anomaly.created_at))
                .limit(BATCH)
            )
        ).all()
        for anomaly in due:
            anomaly.alert_attempts += 1
            anomaly.next_alert_at = now + timedelta(seconds=CLAIM_SECONDS)
            tx.add(anomaly)
        return list(due)


async def _post(http: httpx.AsyncClient, target: AlertTarget, anomaly: Anomaly, now: int) -> bool:
    body = alert_body(anomaly)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_alert(target.secret, body, now),
        DELIVERY_HEADER: anomaly.id,
    }
    try:
        response = await http.post(target.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        _log.warning("risk.alert_failed", event_id=anomaly.id, error_code=type(exc).__name__)
        return False
    if 200 <= response.status_code < 300:
        return True
    _log.warning("risk.alert_failed", event_id=anomaly.id, status_code=response.status_code)
    return False


async def _record(
    engine: AsyncEngine,
    target: AlertTarget,
    outcomes: Sequence[tuple[Anomaly, bool]],
    now: datetime,
) -> None:
    async with unit_of_work(engine) as tx:
        for claimed, delivered in outcomes:
            anomaly = await tx.get(Anomaly, claimed.id)
            if anomaly is None:
                continue
            if delivered:
                anomaly.alerted_at = now
                anomaly.next_alert_at = None
            else:
                anomaly.next_alert_at = now + next_attempt_delay(
                    anomaly.alert_attempts, target.interval_seconds
                )
                if anomaly.alert_attempts >= target.max_attempts:
                    _log.error("risk.alert_undeliverable", event_id=anomaly.id)
            tx.add(anomaly)


async def deliver_alerts_step(
    engine: AsyncEngine,
    http: httpx.AsyncClient,
    target: AlertTarget,
    *,
    clock: Callable[[], datetime],
) -> int:
    """One job step: claim due anomalies, post them, record the outcomes; how many were
    delivered."""
    now = clock()
    claimed = await _claim(engine, target, now)
    outcomes = [(a, await _post(http, target, a, int(clock().timestamp()))) for a in claimed]
    if outcomes:
        await _record(engine, target, outcomes, clock())
    return sum(1 for _, delivered in outcomes if delivered)
