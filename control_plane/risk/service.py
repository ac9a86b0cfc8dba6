"""Rate-limit enforcement: every limit hit is refused with Retry-After and audited."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.errors import RateLimited
from control_plane.risk.limiter import LimiterUnavailable, RateLimiter


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
) -> None:
    """Count a hit; over the limit raises RateLimited (429) after an audit record."""
    outcome = await limiter.hit(limit, scope, key)
    if outcome.allowed:
        return
    await append_audit(
        tx,
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


async def is_within_audit_budget(limiter: RateLimiter, *, limit: str, scope: str, key: str) -> bool:
    """Whether a rejection from ``key`` may still be audited in this window.

    An unreachable limiter store counts as "yes": when in doubt, record.
    """
    try:
        outcome = await limiter.hit(limit, scope, key)
    except LimiterUnavailable:
        return True
    return outcome.allowed
