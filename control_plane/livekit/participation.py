"""Join auditing I/O: gather the facts, apply ``correlation``, record the participation,
audit, raise anomalies and schedule remediation, all in the caller's transaction.

Used by webhook processing and by the reconciler alike; a participation is keyed on the
LiveKit participant sid, so whichever sees a connection first audits it exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import RowMapping
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.clock import as_utc
from control_plane.livekit.correlation import (
    AGENT_NAME_ATTRIBUTE,
    ANOMALY_PLANS,
    TOKEN_ID_ATTRIBUTE,
    AnomalyPlan,
    AnomalyRule,
    JoinVerdict,
    Remedy,
    explain_join,
    is_duplicate_identity,
    track_allowed,
)
from control_plane.livekit.facts import (
    JoinFacts,
)
from control_plane.livekit.join_facts import DispatchJobs, gather_join_facts
from control_plane.livekit.remediation import (
    RemediationKind,
    Wake,
    record_removal,
    schedule_remediation,
)
from control_plane.livekit.tables import Participation
from control_plane.livekit.types import ParticipantView, storable
from control_plane.risk.anomaly import raise_anomaly
from control_plane.store.engine import insert_new

if TYPE_CHECKING:
    pass

TRACK_NOT_GRANTED = "track_source_not_granted"


@dataclass(frozen=True)
class AuditSettings:
    """What join auditing needs besides the transaction."""

    rekick: timedelta
    remediate_unknown_rooms: bool
    wake: Wake | None


class ParticipationUnknown(Exception):
    """A track event for a connection not audited yet (its join is still queued)."""


# livekit-server lists an agent in the room before ListDispatch shows the job that put it
# there (0.2-5 s seen on v1.13.5, longer on a busy host); judged at once, an agent we
# dispatched would be called unexplained and removed.
AGENT_JOB_GRACE = timedelta(seconds=20)


class JoinPending(ParticipationUnknown):
    """An agent under the name of one of our live dispatches whose job LiveKit does not
    list yet: audit it later (webhook retry, next reconciler pass), at the latest when
    ``AGENT_JOB_GRACE`` after its join has passed."""


def is_agent_job_pending(facts: JoinFacts, *, now: datetime) -> bool:
    """True while LiveKit may not have listed the job of an agent we dispatched (pure)."""
    participant = facts.participant
    if participant.kind != "AGENT" or now - facts.joined_at >= AGENT_JOB_GRACE:
        return False
    name = participant.attributes.get(AGENT_NAME_ATTRIBUTE, "")
    return any(
        name and d.agent_name == name and d.deleted_at is None and not d.job_identities
        for d in facts.dispatches
    )


def _join_event(
    row: Participation, verdict: JoinVerdict, *, event_id: str | None, actor: str | None
) -> AuditEvent:
    return AuditEvent(
        type=(
            AuditEventType.JOIN_EXPLAINED if verdict.explained else AuditEventType.JOIN_UNEXPLAINED
        ),
        outcome=Outcome.SUCCESS if verdict.explained else Outcome.DENIED,
        actor=actor,
        target=row.session_id or row.room_name[:256],
        reason="explained by " + ("a dispatch" if row.kind == "AGENT" else "a minted token")
        if verdict.explained
        else "unexplained: " + ", ".join(verdict.reasons),
        details={
            "sid": row.sid,
            "room": row.room_name[:256],
            "identity": row.identity[:128],
            "kind": row.kind,
            "token_id": row.token_id,
            "reasons": list(verdict.reasons),
            "source": row.source,
            "event_id": event_id,
        },
    )


async def _respond(
    tx: AsyncSession,
    *,
    row: Participation,
    plan: AnomalyPlan | None,
    remedy: Remedy,
    reasons: list[str],
    connected: bool,
    settings: AuditSettings,
    now: datetime,
) -> None:
    """Anomaly, re-kick entry and remediation for an unexplained participant."""
    anomaly_id: str | None = None
    if plan is not None:
        anomaly = await raise_anomaly(
            tx,
            rule=plan.rule.value,
            severity=plan.severity,
            response=plan.response,
            subject_id=row.subject_id,
            session_id=row.session_id,
            evidence={
                "sid": row.sid,
                "room": row.room_name[:256],
                "identity": row.identity[:128],
                "kind": row.kind,
                "token_id": row.token_id,
                "reasons": reasons,
            },
            now=now,
        )
        anomaly_id = anomaly.id
    if remedy is Remedy.EVICT:
        await record_removal(
            tx,
            room=row.room_name,
            identity=row.identity,
            reason=plan.rule.value if plan else "evicted",
            now=now,
            ttl=settings.rekick,
        )
    if connected and remedy is not Remedy.NONE:
        await schedule_remediation(
            tx,
            kind=RemediationKind.EVICT if remedy is Remedy.EVICT else RemediationKind.REMOVE,
            room=row.room_name,
            identity=row.identity,
            sid=row.sid,
            subject_id=row.subject_id,
            session_id=row.session_id,
            reason=plan.rule.value if plan else ", ".join(reasons)[:128],
            anomaly_id=anomaly_id,
            now=now,
            wake=settings.wake,
        )


async def audit_join(
    tx: AsyncSession,
    *,
    room: str,
    session: RowMapping | None,
    participant: ParticipantView,
    joined_at: datetime,
    source: str,
    event_id: str | None,
    connected: bool,
    dispatch_jobs: DispatchJobs | None,
    settings: AuditSettings,
    now: datetime,
    live_rivals: tuple[str, ...] = (),
) -> Participation | None:
    """Audit one connection once: the new participation, or None if it was already known.

    ``live_rivals``: other sids LiveKit lists right now with the same ``cp.tid`` that
    joined earlier (the reconciler's listing). Raises ``JoinPending`` (nothing written)
    for a dispatched agent LiveKit lists no job for yet."""
    facts = await gather_join_facts(
        tx,
        room=room,
        session=session,
        participant=participant,
        joined_at=joined_at,
        dispatch_jobs=dispatch_jobs,
        live_rivals=live_rivals,
        now=now,
    )
    if is_agent_job_pending(facts, now=now):
        raise JoinPending()
    verdict = explain_join(facts, now=now)
    # The exact identity's subject, if it is one: a derived or look-alike identity is no
    # one's, so an impersonation never raises its victim's risk.
    subject_id = verdict.subject_id or (
        participant.identity[:64] if facts.subject_status is not None else None
    )
    values: dict[str, object] = {
        "sid": participant.sid[:64],
        "room_name": room[:256],
        "session_id": verdict.session_id,
        "identity": storable(participant.identity)[:256],
        "subject_id": subject_id,
        "kind": participant.kind[:16],
        "token_id": verdict.token_id
        or storable(participant.attributes.get(TOKEN_ID_ATTRIBUTE) or "")[:64]
        or None,
        "verdict": "explained" if verdict.explained else "unexplained",
        "reasons": [r.value for r in verdict.reasons],
        "source": source,
        "granted_sources": list(verdict.granted_sources),
        "joined_at": joined_at,
        "created_at": now,
        "updated_at": now,
    }
    inserted = await insert_new(
        await tx.connection(),
        Participation.__table__,  # type: ignore[attr-defined]
        [values],
        key="sid",
    )
    if not inserted:
        return None
    row = Participation.model_validate(values)
    event = _join_event(row, verdict, event_id=event_id, actor=subject_id)
    await append_audit(tx, event=event, now=now)
    if verdict.explained:
        return row
    if verdict.session_id is None and not settings.remediate_unknown_rooms:
        return row
    await _respond(
        tx,
        row=row,
        plan=verdict.anomaly,
        remedy=verdict.remedy,
        reasons=[r.value for r in verdict.reasons],
        connected=connected,
        settings=settings,
        now=now,
    )
    return row


async def find_participation(tx: AsyncSession, sid: str) -> Participation | None:
    """The audited connection with this sid, if any."""
    return await tx.get(Participation, sid[:64])


async def close_participation(
    tx: AsyncSession,
    *,
    room: str,
    session: RowMapping | None,
    participant: ParticipantView,
    joined_at: datetime,
    left_at: datetime,
    disconnect_reason: str,
    event_kind: str,
    event_id: str | None,
    dispatch_jobs: DispatchJobs | None,
    settings: AuditSettings,
    now: datetime,
) -> str:
    """Close a connection (duration, disconnect reason); audit its join first if unseen
    (``participant_left`` may come without ``participant_joined``, livekit#2399)."""
    row = await find_participation(tx, participant.sid)
    if row is None:
        await audit_join(
            tx,
            room=room,
            session=session,
            participant=participant,
            joined_at=joined_at,
            source="webhook",
            event_id=event_id,
            connected=False,
            dispatch_jobs=dispatch_jobs,
            settings=settings,
            now=now,
        )
        row = await find_participation(tx, participant.sid)
    if row is None or row.left_at is not None:
        return "already_closed"
    started = as_utc(row.joined_at) if row.joined_at else joined_at
    row.left_at = left_at
    row.duration_ms = max(0, int((left_at - started).total_seconds() * 1000))
    row.disconnect_reason = disconnect_reason[:32]
    row.updated_at = now
    tx.add(row)
    await tx.flush()
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.PARTICIPATION_CLOSED,
            outcome=Outcome.SUCCESS,
            actor=row.subject_id,
            target=row.session_id or row.room_name[:256],
            reason=f"{event_kind}: {disconnect_reason or 'unknown'}",
            details={
                "sid": row.sid,
                "room": row.room_name[:256],
                "identity": row.identity[:128],
                "duration_ms": row.duration_ms,
                "disconnect_reason": row.disconnect_reason,
                "event_id": event_id,
            },
        ),
        now=now,
    )
    if is_duplicate_identity(disconnect_reason):
        plan = ANOMALY_PLANS[AnomalyRule.DUPLICATE_IDENTITY]
        await raise_anomaly(
            tx,
            rule=plan.rule.value,
            severity=plan.severity,
            response=plan.response,
            subject_id=row.subject_id,
            session_id=row.session_id,
            evidence={"sid": row.sid, "room": row.room_name[:256], "token_id": row.token_id},
            now=now,
        )
    return "closed"


async def audit_track(
    tx: AsyncSession,
    *,
    room: str,
    sid: str,
    source: str,
    track_sid: str,
    event_id: str | None,
    settings: AuditSettings,
    now: datetime,
) -> str:
    """A published track must use a granted source; otherwise the participant is evicted.

    Raises ``ParticipationUnknown`` when the connection has not been audited yet.
    """
    row = await find_participation(tx, sid)
    if row is None:
        raise ParticipationUnknown(sid)
    details: dict[str, object] = {
        "kind": "track_published",
        "sid": row.sid,
        "track_sid": track_sid[:64],
        "source": source,
        "event_id": event_id,
    }
    if row.verdict != "explained" or track_allowed(source, tuple(row.granted_sources)):
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.WEBHOOK_EVENT,
                outcome=Outcome.SUCCESS,
                actor=row.subject_id,
                target=row.session_id or row.room_name[:256],
                reason="track source granted"
                if row.verdict == "explained"
                else "track of an unexplained participant (already remediated)",
                details=details,
            ),
            now=now,
        )
        return "track_ok" if row.verdict == "explained" else "track_ignored"
    row.verdict = "unexplained"
    row.reasons = [*row.reasons, TRACK_NOT_GRANTED]
    row.updated_at = now
    tx.add(row)
    await tx.flush()
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.TRACK_UNEXPLAINED,
            outcome=Outcome.DENIED,
            actor=row.subject_id,
            target=row.session_id or row.room_name[:256],
            reason=f"track source {source} not granted",
            details={**details, "granted": list(row.granted_sources)},
        ),
        now=now,
    )
    await _respond(
        tx,
        row=row,
        plan=ANOMALY_PLANS[AnomalyRule.OVER_GRANT],
        remedy=Remedy.EVICT,
        reasons=[TRACK_NOT_GRANTED],
        connected=True,
        settings=settings,
        now=now,
    )
    return "track_not_granted"
