"""Who may read which audit records: Cedar decides, the decision is itself audited.

A reader asks for ``read_audit`` (or ``export_audit``) on their own tenant and on the
platform. Security auditors get their tenant's records; admins get only platform-wide
records (tenant None); anyone else is refused (403). Both decisions go into one audit
record tagged with the reader's tenant, so a tenant's auditors see who read their log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit, list_audit, set_audit_tenant
from control_plane.audit.tables import AuditRecord
from control_plane.audit.types import AuditEvent, AuditEventType, AuditScope, Outcome
from control_plane.audit.verify import Pace, VerifyReport, yield_once
from control_plane.audit.witness import verify_witnessed
from control_plane.authz.engine import PolicySnapshot
from control_plane.authz.errors import AccessDenied
from control_plane.authz.principals import cedar_principal
from control_plane.authz.service import decide_many
from control_plane.authz.types import (
    Action,
    AuthzRequest,
    PlatformResource,
    TenantId,
    TenantResource,
)
from control_plane.identity.subjects import ensure_subject
from control_plane.identity.types import Principal
from control_plane.risk.limiter import RateLimiter
from control_plane.risk.service import enforce_limit
from control_plane.store.uow import unit_of_work


async def authorize_audit_scope(
    tx: AsyncSession,
    *,
    principal: Principal,
    action: Action,
    snapshot: PolicySnapshot,
    request_id: str,
    now: datetime,
) -> AuditScope:
    """The records ``principal`` may read with ``action``; raises AccessDenied for none."""
    subject = await ensure_subject(tx, principal=principal, now=now)
    who = cedar_principal(principal, subject_status=subject.status)
    tenant, platform = decide_many(
        snapshot,
        [
            AuthzRequest(who, action, TenantResource(TenantId(principal.tenant))),
            AuthzRequest(who, action, PlatformResource()),
        ],
    )
    allowed = [d for d in (tenant, platform) if d.allowed]
    first = allowed[0] if allowed else tenant
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.DECISION,
            outcome=Outcome.SUCCESS if allowed else Outcome.DENIED,
            actor=principal.subject_id,
            reason=(
                f"{action.value}: tenant {'allowed' if tenant.allowed else 'denied'}, "
                f"platform {'allowed' if platform.allowed else 'denied'}"
            ),
            decision_id=first.id,
            policy_version=first.policy_version,
            request_id=request_id,
            details={
                "action": action.value,
                "decisions": [
                    {
                        "id": d.id,
                        "resource": scope,
                        "allowed": d.allowed,
                        "policies": list(d.determining_policies),
                        "errors": list(d.errors),
                    }
                    for scope, d in (("tenant", tenant), ("platform", platform))
                ],
                "input": tenant.masked_input,
            },
            tenant=principal.tenant,
        ),
        now=now,
    )
    if not allowed:
        raise AccessDenied(decision_id=tenant.id)
    return AuditScope(
        tenants=frozenset({principal.tenant}) if tenant.allowed else frozenset(),
        platform=platform.allowed,
    )


async def search_audit(
    tx: AsyncSession,
    *,
    principal: Principal,
    snapshot: PolicySnapshot,
    request_id: str,
    now: datetime,
    after_seq: int,
    limit: int,
    actor: str | None,
    event_type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Sequence[AuditRecord]:
    """One page of the records the caller may read (Cedar read_audit), in chain order."""
    scope = await authorize_audit_scope(
        tx,
        principal=principal,
        action=Action.READ_AUDIT,
        snapshot=snapshot,
        request_id=request_id,
        now=now,
    )
    return await list_audit(
        tx,
        scope=scope,
        after_seq=after_seq,
        limit=limit,
        actor=actor,
        event_type=event_type,
        since=since,
        until=until,
    )


async def verify_as(
    engine: AsyncEngine,
    *,
    principal: Principal,
    snapshot: PolicySnapshot,
    public_keys: Sequence[Ed25519PublicKey],
    witness_file: Path | None,
    limiter: RateLimiter,
    limit: str,
    audit_limit: str,
    request_id: str,
    now: datetime,
    pace: Pace = yield_once,
) -> VerifyReport:
    """The integrity report of the whole chain for any audit reader (it names sequence
    numbers and reasons only, never record contents). A full walk is costly: limited per
    reader (``audit.verify_limit``). ``public_keys``: the trusted audit signing keys, oldest
    first, the current one last (``KeyRing.audit_verification_keys``); every checkpoint in
    ``witness_file`` is checked too (audit/witness.py)."""
    async with unit_of_work(engine) as tx:  # committed before the walk: its reads are short
        set_audit_tenant(tx, principal.tenant)
        await enforce_limit(
            tx,
            limiter,
            limit=limit,
            scope="audit-verify",
            key=principal.subject_id,
            actor=principal.subject_id,
            request_id=request_id,
            now=now,
            audit_limit=audit_limit,
        )
        await authorize_audit_scope(
            tx,
            principal=principal,
            action=Action.READ_AUDIT,
            snapshot=snapshot,
            request_id=request_id,
            now=now,
        )
    return await verify_witnessed(
        engine, public_keys=public_keys, witness_file=witness_file, pace=pace
    )
