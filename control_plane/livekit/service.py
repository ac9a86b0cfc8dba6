"""The livekit domain's public functions: webhook intake (verify, audit a rejection,
store once) and the participation queries other domains need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.clock import Clock
from control_plane.errors import ControlPlaneError
from control_plane.identity.pseudonym import pseudonymize_address
from control_plane.livekit.errors import WebhookNotAccepted, WebhookRejected, WebhookTooLarge
from control_plane.livekit.intake import StoreResult, WebhookIntake
from control_plane.livekit.tables import Participation
from control_plane.livekit.webhook import (
    WebhookPolicy,
    WebhookVerificationError,
    verify_webhook,
)
from control_plane.logs import get_logger
from control_plane.risk.address import Network, client_address
from control_plane.risk.limiter import RateLimiter
from control_plane.risk.service import within_rejection_budget
from control_plane.store.uow import unit_of_work

_log = get_logger("control_plane.livekit")


@dataclass(frozen=True)
class WebhookReceiver:
    """What the webhook endpoint needs: the policy, the intake, and (for rejections) the
    store and a limiter that bounds how many rejections are audited."""

    policy: WebhookPolicy
    intake: WebhookIntake
    engine: AsyncEngine
    limiter: RateLimiter
    rejection_audit_limit: str
    clock: Clock
    pseudonym_key: bytes = field(repr=False)
    trusted_proxies: tuple[Network, ...]

    def sender_hash(self, peer: str | None, forwarded_for: str | None) -> str:
        """A keyed hash of the sender's address (computed only for a rejection)."""
        address = client_address(peer, forwarded_for, self.trusted_proxies)
        return pseudonymize_address(self.pseudonym_key, address)


def _error_for(exc: WebhookVerificationError) -> ControlPlaneError:
    if exc.status == 413:
        return WebhookTooLarge()
    if exc.status == 400:
        return WebhookNotAccepted()
    return WebhookRejected()


async def _audit_rejection(
    receiver: WebhookReceiver,
    exc: WebhookVerificationError,
    *,
    address_hash: str,
    request_id: str,
    now: datetime,
) -> None:
    """Audit the exact reason, within this sender's rejection budget (checked before
    a transaction is opened: past it, a forged delivery costs no store work)."""
    if not await within_rejection_budget(
        receiver.limiter,
        limit=receiver.rejection_audit_limit,
        scope="webhook-rejected",
        address_key=address_hash,
        reason=exc.reason.value,
    ):
        return
    async with unit_of_work(receiver.engine) as tx:
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.WEBHOOK_REJECTED,
                outcome=Outcome.DENIED,
                actor=None,
                target=exc.event_id,
                reason=exc.reason.value,
                request_id=request_id,
                details={"status": exc.status, "address": address_hash},
            ),
            now=now,
        )


async def receive_webhook(
    receiver: WebhookReceiver,
    *,
    body: bytes,
    authorization: str | None,
    peer: str | None,
    forwarded_for: str | None,
    request_id: str,
    now: datetime,
) -> StoreResult:
    """Verify a delivery and store it once; the return means it is durable.

    A rejection is audited and raised as the generic 401/400/413 (no reason leaks to the
    sender); a replayed id is a success with no side effect (``is_new`` False).
    """
    try:
        verified = verify_webhook(body, authorization, policy=receiver.policy, now=now)
    except WebhookVerificationError as exc:
        try:
            await _audit_rejection(
                receiver,
                exc,
                address_hash=receiver.sender_hash(peer, forwarded_for),
                request_id=request_id,
                now=now,
            )
        except Exception as audit_exc:  # bad input is a 4xx even when the store is down
            _log.error(
                "livekit.webhook_rejection_unaudited",
                reason=exc.reason.value,
                error_code=type(audit_exc).__name__,
            )
        raise _error_for(exc) from None
    return await receiver.intake.store(verified, received_at=now)


async def list_open_participation_rooms(tx: AsyncSession, *, subject_id: str) -> Sequence[str]:
    """Rooms where the subject has a connection not seen closing yet."""
    rows = (
        await tx.exec(
            select(Participation.room_name)
            .where(Participation.subject_id == subject_id)
            .where(col(Participation.left_at).is_(None))
        )
    ).all()
    return sorted(set(rows))
