"""Erasure (GDPR Art. 17): real, fast and provable.

One transaction, in this order, holding the subject's row lock throughout:
1. Cedar ``delete_subject_data`` on ``Subject(target)`` (self: ``subject-delete-own-data``;
   someone else: admin with MFA); the decision is recorded;
2. a legal hold on the subject or one of its sessions blocks it: 409, ``erasure_blocked``
   audited and the request recorded as ``blocked`` (both survive the rollback);
3. the subject is marked ``erasing`` (treated as locked by Cedar: no new mint can pass);
   a locked subject leaves a suppression record (pseudonym, tenant, reason code) so that
   it is locked again when it next logs in (``identity.suppression``);
4. live participation ends through LiveKit: owned live sessions are ended (room deleted)
   and the subject is evicted from every other room, as durable remediation tasks that
   run as soon as this commits; the re-kick list refuses its earlier tokens meanwhile, and
   a rejoin with an old token has no ledger row any more (join auditing removes it);
5. the subject's data key is destroyed (crypto-shredding: every ciphertext under it, in
   any copy taken after the last KEK rotation, is now unreadable);
6. its rows are deleted (``erasure_map``), owned sessions with all their rows;
7. the request is recorded ``completed``, ``privacy.erased`` is appended to the audit chain
   (pseudonyms and counts only) and a signed receipt is returned.

If anything fails the transaction rolls back as a whole and the request is recorded as
``failed`` (a survivor write), so a retry starts from a consistent state.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, true
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit, append_audit_now
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.authz.engine import PolicySnapshot
from control_plane.authz.errors import AccessDenied
from control_plane.authz.recording import record_decisions
from control_plane.authz.service import decide
from control_plane.authz.types import (
    Action,
    AuthzRequest,
    PrincipalRef,
    SubjectResource,
    TenantId,
)
from control_plane.crypto.keyring import KeyRing
from control_plane.crypto.service import destroy_data_key
from control_plane.identity.errors import SubjectNotFound
from control_plane.identity.subjects import change_subject_status, is_active
from control_plane.identity.suppression import LOCKED_BEFORE_ERASURE, suppress_subject
from control_plane.identity.tables import Subject
from control_plane.identity.types import Principal, SubjectId, SubjectStatus
from control_plane.livekit.remediation import Wake
from control_plane.logs import get_logger
from control_plane.privacy.erasure_map import SUBJECT_ROWS, SUBJECT_TEXT
from control_plane.privacy.errors import ErasureBlocked
from control_plane.privacy.receipt import build_receipt
from control_plane.privacy.retention import delete_session_rows
from control_plane.privacy.tables import ErasureRequest
from control_plane.sessions.lifecycle import end_session_record, list_owned_active_sessions
from control_plane.sessions.revocation import evict_subject_everywhere
from control_plane.sessions.tables import VoiceSession
from control_plane.store.metadata import load_metadata
from control_plane.store.uow import keep_on_rollback

_log = get_logger("control_plane.privacy.erasure")


@dataclass(frozen=True)
class ErasureServices:
    keys: KeyRing
    policies: PolicySnapshot
    rekick: timedelta
    wake: Wake | None


def cedar_user(principal: Principal, subject: Subject | None) -> PrincipalRef:
    """The Cedar view of a human caller; a subject that is not active is locked."""
    return PrincipalRef(
        subject_id=SubjectId(principal.subject_id),
        tenant=TenantId(principal.tenant),
        groups=principal.groups,
        email_verified=principal.email_verified,
        locked=subject is not None and not is_active(subject.status),
        amr=frozenset(principal.amr),
        acr=principal.acr or "",
    )


class _Record:
    """The request row written if the transaction rolls back (blocked or failed)."""

    def __init__(self, row: ErasureRequest) -> None:
        self.row = row
        self.status = "failed"
        self.reason = "erasure failed; nothing was deleted"

    async def write(self, session: AsyncSession) -> None:
        row = ErasureRequest.model_validate(
            {**self.row.model_dump(), "status": self.status, "reason": self.reason}
        )
        session.add(row)
        if self.status == "failed":
            await append_audit_now(
                session,
                event=AuditEvent(
                    type=AuditEventType.DATA_ERASED,
                    outcome=Outcome.FAILURE,
                    actor=row.requested_by,
                    target=row.subject_id,
                    reason=self.reason,
                    request_id=row.request_id,
                    details={"erasure_id": row.id},
                ),
                now=row.requested_at,
            )


async def _held_sessions(tx: AsyncSession, subject_id: str) -> int:
    rows = (
        await tx.exec(
            select(VoiceSession.id)
            .where(VoiceSession.owner_subject_id == subject_id)
            .where(col(VoiceSession.legal_hold) == true())
        )
    ).all()
    return len(rows)


async def end_live_participation(
    tx: AsyncSession, *, services: ErasureServices, subject_id: str, actor: str, now: datetime
) -> dict[str, int]:
    """End the subject's live sessions and evict it from every other room.

    Durable: LiveKit calls run as remediation tasks right after this commits, retried until
    done; the re-kick list refuses the subject's earlier tokens meanwhile (LiveKit keeps
    refreshing a removed participant's token for ~10 minutes).
    """
    ended = 0
    for session in await list_owned_active_sessions(tx, subject_id=subject_id):
        if await end_session_record(
            tx,
            session=session,
            reason="subject erased",
            actor=actor,
            now=now,
            wake=services.wake,
        ):
            ended += 1
    rooms = await evict_subject_everywhere(
        tx,
        subject_id=subject_id,
        reason="subject erased",
        now=now,
        rekick=services.rekick,
        wake=services.wake,
    )
    return {"sessions_ended": ended, "rooms_evicted": rooms}


async def delete_subject_rows(tx: AsyncSession, *, subject_id: str) -> dict[str, int]:
    """Delete the subject's owned sessions (whole) and every row mapped to the subject."""
    conn = await tx.connection()
    owned = list(
        (
            await tx.exec(
                select(VoiceSession.id).where(VoiceSession.owner_subject_id == subject_id)
            )
        ).all()
    )
    counts: dict[str, int] = {}
    if owned:
        counts.update(await delete_session_rows(conn, owned))
    tables = load_metadata().tables
    for name, column in SUBJECT_ROWS:
        table = tables.get(name)
        if table is None or column not in table.c:
            continue
        result = await conn.execute(delete(table).where(table.c[column] == subject_id))
        if result.rowcount:
            counts[name] = counts.get(name, 0) + int(result.rowcount)
    needle = f'"identity":"{subject_id}'
    for name, column in SUBJECT_TEXT:
        table = tables.get(name)
        if table is None or column not in table.c:
            continue
        stored = table.c[column]
        result = await conn.execute(
            delete(table).where(
                or_(
                    stored.contains(f'{needle}"', autoescape=True),
                    stored.contains(f"{needle}#", autoescape=True),
                )
            )
        )
        if result.rowcount:
            counts[name] = counts.get(name, 0) + int(result.rowcount)
    subject = tables["subject"]
    result = await conn.execute(delete(subject).where(subject.c.id == subject_id))
    counts["subject"] = int(result.rowcount or 0)
    return {k: v for k, v in sorted(counts.items()) if v}


async def _block(tx: AsyncSession, record: _Record, *, reason: str, now: datetime) -> None:
    record.status, record.reason = "blocked", reason
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.ERASURE_BLOCKED,
            outcome=Outcome.DENIED,
            actor=record.row.requested_by,
            target=record.row.subject_id,
            reason=reason,
            request_id=record.row.request_id,
            details={"erasure_id": record.row.id},
        ),
        now=now,
    )
    raise ErasureBlocked()


async def erase_subject(
    tx: AsyncSession,
    *,
    services: ErasureServices,
    requester: Principal,
    subject_id: str,
    request_id: str,
    now: datetime,
) -> dict[str, object]:
    """Erase a subject's data (see the module docstring); returns the signed receipt."""
    target = (
        await tx.exec(select(Subject).where(Subject.id == subject_id).with_for_update())
    ).first()
    is_self = subject_id == requester.subject_id
    if target is None and not is_self:
        raise SubjectNotFound()
    tenant = target.tenant if target is not None else requester.tenant
    requester_row = target if is_self else await tx.get(Subject, requester.subject_id)
    decision = decide(
        services.policies,
        AuthzRequest(
            cedar_user(requester, requester_row),
            Action.DELETE_SUBJECT_DATA,
            SubjectResource(SubjectId(subject_id), TenantId(tenant)),
        ),
    )
    await record_decisions(
        tx,
        decisions=[decision],
        actor=requester.subject_id,
        target=subject_id,
        request_id=request_id,
        now=now,
    )
    if not decision.allowed:
        raise AccessDenied(decision_id=decision.id)
    record = _Record(
        ErasureRequest(
            id=f"era_{secrets.token_hex(12)}",
            tenant=tenant,
            subject_id=subject_id,
            requested_by=requester.subject_id,
            request_id=request_id[:64],
            status="received",
            requested_at=now,
        )
    )
    keep_on_rollback(tx, record.write)
    if target is not None and target.legal_hold:
        await _block(tx, record, reason="subject under legal hold", now=now)
    if await _held_sessions(tx, subject_id):
        await _block(tx, record, reason="a session of the subject is under legal hold", now=now)
    if target is not None and target.status == SubjectStatus.LOCKED:
        await suppress_subject(
            tx, subject_id=subject_id, tenant=tenant, reason_code=LOCKED_BEFORE_ERASURE, now=now
        )
    if target is not None:
        await change_subject_status(tx, target, to=SubjectStatus.ERASING, reason="erasure", now=now)
    live = await end_live_participation(
        tx, services=services, subject_id=subject_id, actor=requester.subject_id, now=now
    )
    key_existed = await destroy_data_key(tx, subject_id=subject_id)
    counts = await delete_subject_rows(tx, subject_id=subject_id)
    if key_existed:
        counts["subject_data_key"] = 1
    audit = await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.DATA_ERASED,
            outcome=Outcome.SUCCESS,
            actor=requester.subject_id,
            target=subject_id,
            reason="erased on request" + ("" if is_self else " (by an administrator)"),
            decision_id=decision.id,
            policy_version=decision.policy_version,
            request_id=request_id,
            details={
                "erasure_id": record.row.id,
                "counts": dict(sorted(counts.items())),
                "key_destroyed": True,
                "live_participation": live,
            },
        ),
        now=now,
    )
    receipt = build_receipt(
        erasure_id=record.row.id,
        request_id=request_id,
        subject_id=subject_id,
        requested_by=requester.subject_id,
        requested_at=now,
        completed_at=now,
        counts=counts,
        key_destroyed=True,
        live=live,
        audit_seq=audit.seq,
        signing_key=services.keys.receipt_signing_key,
    )
    row = record.row
    row.status, row.reason, row.completed_at = "completed", "erased", now
    row.counts, row.receipt, row.audit_seq = dict(counts), receipt, audit.seq
    tx.add(row)
    await tx.flush()
    _log.info("privacy.erased", subject=subject_id, count=sum(counts.values()))
    return receipt


async def list_erasures(
    tx: AsyncSession, *, tenant: str, limit: int = 100, before: datetime | None = None
) -> Sequence[ErasureRequest]:
    """A tenant's erasure requests, newest first (status and counts; never content)."""
    query = select(ErasureRequest).where(ErasureRequest.tenant == tenant)
    if before is not None:
        query = query.where(col(ErasureRequest.requested_at) < before)
    return (
        await tx.exec(query.order_by(col(ErasureRequest.requested_at).desc()).limit(limit))
    ).all()
