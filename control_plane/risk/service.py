"""Rate-limit enforcement: every limit hit is refused with Retry-After and audited."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.errors import RateLimited
from control_plane.logs import get_logger
from control_plane.risk.limiter import LimiterUnavailable, RateLimiter

_log = get_logger("control_plane.risk")


async def enforce_limit(
    tx: AsyncSession,
    limiter: RateLimiter,
    *,
    limit: str,
    scope: str,
    key: str,
    actor: str | None,
    request_id: str | None,
    now: datetime,
    audit_limit: str,
) -> None:
    """Count a hit; over the limit raises RateLimited (429), audited within the key's
    refusal budget (``audit_limit``, T-DOS-3): a client hammering a limit is refused every
    time, but it cannot append to, and serialise on, the audit chain every time."""
    outcome = await limiter.hit(limit, scope, key)
    if outcome.allowed:
        return
    await audit_rejection(
        tx,
        limiter,
        limit=audit_limit,
        scope=f"refused-{scope}",
        address_key=key,
        event=AuditEvent(
            type=AuditEventType.RATE_LIMITED,
            outcome=Outcome.DENIED,
            actor=actor,
            reason=f"{scope} limit {limit} exceeded",
            request_id=request_id,
            details={"limit": limit, "scope": scope, "key": key if actor is None else actor},
        ),
        now=now,
    )
    raise RateLimited(retry_after=outcome.retry_after)


async def within_rejection_budget(
    limiter: RateLimiter, *, limit: str, scope: str, address_key: str, reason: str
) -> bool:
    """Whether a rejection from this sender (``address_key``, a keyed hash of its
    address) may still be audited under ``limit`` for ``scope``: a flood of forgeries
    must not flood, and serialise on, the audit chain. Past the budget only a log line is
    left (reason and address hash; never the credential). An unreachable limiter store
    counts as within budget: when in doubt, record."""
    try:
        allowed = (await limiter.hit(limit, scope, address_key)).allowed
    except LimiterUnavailable:
        allowed = True
    if not allowed:
        _log.info(
            "risk.rejection_over_budget", scope=scope, reason=reason, address_hash=address_key
        )
    return allowed


async def audit_rejection(
    tx: AsyncSession,
    limiter: RateLimiter,
    *,
    limit: str,
    scope: str,
    address_key: str,
    event: AuditEvent,
    now: datetime,
) -> bool:
    """Audit a rejected credential or delivery with its exact reason, within the sender's
    rejection budget (``within_rejection_budget``); whether the record was written."""
    allowed = await within_rejection_budget(
        limiter, limit=limit, scope=scope, address_key=address_key, reason=event.reason
    )
    if allowed:
        await append_audit(tx, event=event, now=now)
    return allowed
