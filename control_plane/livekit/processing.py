"""Processing stored webhook events, asynchronously and exactly once in effect.

A stored event is handled in one unit of work together with ``processed_at``: either its
effects (participation, audit records, anomalies, remediation tasks) and the mark commit
together, or neither does and the event is retried. Events are claimed with a row lease,
so the replica that stored an event handles it at once (in-process queue) and any replica
picks up what a crashed one left behind once its lease lapses.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf.json_format import Parse, ParseError
from livekit import api
from sqlalchemy import bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.clock import Clock, as_utc
from control_plane.livekit.client import LiveKitRooms, participant_view
from control_plane.livekit.errors import LiveKitNotFound, LiveKitUnavailable
from control_plane.livekit.join_facts import DispatchJobs
from control_plane.livekit.participation import (
    AuditSettings,
    ParticipationUnknown,
    audit_join,
    audit_track,
    close_participation,
)
from control_plane.livekit.remediation import Wake, backoff, claim_token
from control_plane.livekit.tables import WebhookEvent
from control_plane.logs import get_logger
from control_plane.sessions.lifecycle import end_session_for_room
from control_plane.sessions.tenancy import is_own_room_name, record_for_room
from control_plane.store.uow import unit_of_work

_log = get_logger("control_plane.livekit.processing")
WAKE_WEBHOOKS = "livekit.webhooks"
CLAIM_BATCH = 100
BUSY_CLAIM_BATCH = 8  # while deliveries arrive: a claim must not hold the loop for long
PARTICIPANT_EVENTS = frozenset(
    {"participant_joined", "participant_left", "participant_connection_aborted"}
)


_EVENTS = WebhookEvent.__table__  # type: ignore[attr-defined]
_MARK_PROCESSED = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("event_id"))
    .where(_EVENTS.c.lease_owner == bindparam("claim"))
    .where(_EVENTS.c.processed_at.is_(None))
    .values(
        processed_at=bindparam("processed_at"),
        outcome=bindparam("outcome"),
        lease_owner=None,
        lease_until=None,
        attempts=bindparam("attempts"),
    )
)


async def _yield() -> None:
    await asyncio.sleep(0)


class LeaseLost(Exception):
    """Our lease on an event lapsed and another replica claimed it: undo, move on."""


class Deferred(Exception):
    """Not now: a dependency (LiveKit's dispatch list) is unavailable; retry later."""


# The LiveKit room is created inside the session's transaction, so room_started (and, in
# principle, anything else about the room) can be delivered before the session row is
# visible. Handled then, its records would be platform-wide: out of the tenant auditors'
# sight and in everyone else's (T-TEN-2). An event about a room named like ours with no
# session yet waits this long for the commit; after it, the room is not ours after all
# (the creating request rolled back) and its records are platform-wide.
ROOM_COMMIT_GRACE = timedelta(seconds=30)


class SessionPending(Deferred):
    """The event's room is named like ours but its session is not visible yet."""


def is_session_pending(
    room: str, session: object | None, *, created_at: datetime, now: datetime
) -> bool:
    """True while an event about an own-named room may still see its session commit."""
    return session is None and is_own_room_name(room) and now - created_at < ROOM_COMMIT_GRACE


@dataclass(frozen=True)
class ProcessingPolicy:
    lease: timedelta
    grace: timedelta
    max_attempts: int
    max_backoff: timedelta


def _ts_ms(ms: int, seconds: int, fallback: datetime) -> datetime:
    if ms > 0:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    if seconds > 0:
        return datetime.fromtimestamp(seconds, tz=UTC)
    return fallback


# A JSON-escaped NUL (an odd run of backslashes before u0000): protobuf takes it into a
# string, PostgreSQL then refuses every row it reaches (an event retried to exhaustion).
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def parse_stored(body: str) -> api.WebhookEvent:
    """The stored (already verified) body as LiveKit's WebhookEvent; ``ParseError`` for a
    body protobuf refuses (a lone surrogate among them) or one carrying a NUL."""
    if _ESCAPED_NUL.search(body):
        raise ParseError("NUL in a string")
    return Parse(body, api.WebhookEvent(), ignore_unknown_fields=True)


async def _audit_other(
    tx: AsyncSession, message: api.WebhookEvent, *, event_id: str, outcome: str, now: datetime
) -> str:
    room = message.room.name if message.HasField("room") else ""
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.WEBHOOK_EVENT,
            outcome=Outcome.SUCCESS,
            actor="livekit",
            target=room[:256] or None,
            reason=f"{message.event}: {outcome}",
            details={"kind": message.event[:48], "event_id": event_id, "outcome": outcome},
        ),
        now=now,
    )
    return outcome


async def handle_event(
    tx: AsyncSession,
    message: api.WebhookEvent,
    *,
    event_id: str,
    created_at: datetime,
    dispatch_jobs: DispatchJobs | None,
    settings: AuditSettings,
    now: datetime,
    final: bool = False,
) -> str:
    """Apply one event; returns a short outcome. Every event leaves an audit record, its
    room's tenant's (one unit of work per event)."""
    kind = message.event
    room = message.room.name if message.HasField("room") else ""
    session = await record_for_room(tx, room)
    if not final and is_session_pending(room, session, created_at=created_at, now=now):
        raise SessionPending(room)
    if kind in PARTICIPANT_EVENTS and message.HasField("participant"):
        info = message.participant
        view = participant_view(info)
        joined_at = _ts_ms(int(info.joined_at_ms), int(info.joined_at), created_at)
        if kind == "participant_joined":
            row = await audit_join(
                tx,
                room=room,
                session=session,
                participant=view,
                joined_at=joined_at,
                source="webhook",
                event_id=event_id,
                connected=True,
                dispatch_jobs=dispatch_jobs,
                settings=settings,
                now=now,
            )
            if row is None:
                return await _audit_other(
                    tx, message, event_id=event_id, outcome="already_audited", now=now
                )
            return row.verdict
        outcome = await close_participation(
            tx,
            room=room,
            session=session,
            participant=view,
            joined_at=joined_at,
            left_at=created_at,
            disconnect_reason=api.DisconnectReason.Name(info.disconnect_reason),
            event_kind=kind,
            event_id=event_id,
            dispatch_jobs=dispatch_jobs,
            settings=settings,
            now=now,
        )
        if outcome != "closed":
            await _audit_other(tx, message, event_id=event_id, outcome=outcome, now=now)
        return outcome
    if kind == "track_published" and message.HasField("participant"):
        source = api.TrackSource.Name(message.track.source).lower()
        try:
            return await audit_track(
                tx,
                room=room,
                sid=message.participant.sid,
                source=source,
                track_sid=message.track.sid,
                event_id=event_id,
                settings=settings,
                now=now,
            )
        except ParticipationUnknown:
            if not final:
                raise
            return await _audit_other(
                tx, message, event_id=event_id, outcome="track_of_unknown_participant", now=now
            )
    if kind == "room_finished" and room:
        ended = await end_session_for_room(
            tx, room=room, reason="room finished", now=now, wake=settings.wake
        )
        outcome = "session_ended" if ended else "recorded"
        return await _audit_other(tx, message, event_id=event_id, outcome=outcome, now=now)
    return await _audit_other(tx, message, event_id=event_id, outcome="recorded", now=now)


async def claim_events(
    engine: AsyncEngine,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    ids: Sequence[str] | None = None,
    received_before: datetime | None = None,
    limit: int = CLAIM_BATCH,
) -> list[WebhookEvent]:
    """Lease unprocessed events (the given ids, or any received before a time), oldest
    first. The lease condition is re-checked by the UPDATE, so two replicas never both
    win a row."""
    available = col(WebhookEvent.processed_at).is_(None) & or_(
        col(WebhookEvent.lease_until).is_(None), col(WebhookEvent.lease_until) < now
    )
    query = select(WebhookEvent.id).where(available)
    if ids is not None:
        query = query.where(col(WebhookEvent.id).in_(list(ids)))
    if received_before is not None:
        query = query.where(col(WebhookEvent.received_at) < received_before)
    async with unit_of_work(engine) as tx:
        candidates = (
            await tx.exec(query.order_by(col(WebhookEvent.received_at)).limit(limit))
        ).all()
        if not candidates:
            return []
        await tx.exec(
            update(WebhookEvent)
            .where(col(WebhookEvent.id).in_(candidates))
            .where(available)
            .values(lease_owner=owner, lease_until=now + lease)
        )
        return list(
            (
                await tx.exec(
                    select(WebhookEvent)
                    .where(col(WebhookEvent.id).in_(candidates))
                    .where(WebhookEvent.lease_owner == owner)
                    .order_by(col(WebhookEvent.received_at), col(WebhookEvent.id))
                )
            ).all()
        )


class WebhookProcessor:
    """Owned by the lifespan. ``enqueue`` is the in-process queue (fed by the intake after
    commit); ``step`` is the job: fresh ids first, then a sweep of older leftovers."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        livekit: LiveKitRooms,
        settings: AuditSettings,
        policy: ProcessingPolicy,
        clock: Clock,
        owner: str,
        wake: Wake,
        pace: Callable[[], Awaitable[None]] | None = None,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self._engine = engine
        self._pace = pace or _yield
        self._busy = busy or (lambda: False)
        self._livekit = livekit
        self._settings = settings
        self._policy = policy
        self._clock = clock
        self._owner = owner
        self._wake = wake
        self._fresh: deque[str] = deque()

    def enqueue(self, ids: Sequence[str]) -> None:
        """Announce committed events to this replica's processor."""
        self._fresh.extend(ids)
        self._wake(WAKE_WEBHOOKS)

    async def step(self) -> int:
        """Process fresh events, then sweep; returns how many were handled."""
        handled = 0
        while self._fresh:
            size = min(len(self._fresh), self._batch_size())
            ids = [self._fresh.popleft() for _ in range(size)]
            handled += await self._claim_and_process(ids=ids, limit=size)
        while True:
            now = self._clock()
            size = self._batch_size()
            done = await self._claim_and_process(
                received_before=now - self._policy.grace, limit=size
            )
            handled += done
            if done < size or self._fresh:
                break
        return handled

    def _batch_size(self) -> int:
        return BUSY_CLAIM_BATCH if self._busy() else CLAIM_BATCH

    async def _claim_and_process(
        self,
        *,
        ids: Sequence[str] | None = None,
        received_before: datetime | None = None,
        limit: int = CLAIM_BATCH,
    ) -> int:
        claim = claim_token(self._owner)
        rows = await claim_events(
            self._engine,
            owner=claim,
            now=self._clock(),
            lease=self._policy.lease,
            ids=ids,
            received_before=received_before,
            limit=limit,
        )
        for row in rows:
            await self._process(row, claim=claim)
            await self._pace()  # the intake goes first: a 2xx never waits on processing
        return len(rows)

    async def _dispatch_jobs(self, message: api.WebhookEvent) -> DispatchJobs | None:
        """LiveKit's dispatch jobs for an agent's room (network; outside any transaction)."""
        if not (message.HasField("participant") and message.event in PARTICIPANT_EVENTS):
            return None
        if participant_view(message.participant).kind != "AGENT":
            return None
        try:
            dispatches = await self._livekit.list_dispatches(room=message.room.name)
        except LiveKitNotFound:
            return {}
        except LiveKitUnavailable as exc:
            raise Deferred("dispatch list unavailable") from exc
        return {d.id: d for d in dispatches}

    async def _process(self, row: WebhookEvent, *, claim: str) -> None:
        final = row.attempts + 1 >= self._policy.max_attempts
        try:
            message = parse_stored(row.body)
        except ParseError:
            await self._finish_failed(row, claim=claim, error="unparseable")
            return
        try:
            try:
                jobs = await self._dispatch_jobs(message)
            except Deferred:
                if not final:
                    raise
                jobs = {}
            async with unit_of_work(self._engine) as tx:
                now = self._clock()
                outcome = await handle_event(
                    tx,
                    message,
                    event_id=row.id,
                    created_at=as_utc(row.created_at),
                    dispatch_jobs=jobs,
                    settings=self._settings,
                    now=now,
                    final=final,
                )
                # Marked in the same transaction as the effects, and only while we still
                # hold the lease: otherwise everything above rolls back.
                # A Core update: the ORM's version evaluates its criteria against the
                # session's objects first, which cost more than the statement, per event.
                connection = await tx.connection()
                marked = await connection.execute(
                    _MARK_PROCESSED,
                    {
                        "event_id": row.id,
                        "claim": claim,
                        "processed_at": now,
                        "outcome": outcome[:32],
                        "attempts": row.attempts + 1,
                    },
                )
                if marked.rowcount != 1:
                    raise LeaseLost(row.id)
        except LeaseLost:
            return  # another replica took the event over after our lease lapsed
        except (Deferred, ParticipationUnknown) as exc:
            await self._retry_later(row, claim=claim, error=type(exc).__name__)
        except Exception as exc:  # a bug or a store error on one event must not stop others
            _log.error(
                "livekit.webhook_processing_failed",
                event_id=row.id,
                error_code=type(exc).__name__,
            )
            if final:
                await self._finish_failed(row, claim=claim, error=type(exc).__name__)
            else:
                await self._retry_later(row, claim=claim, error=type(exc).__name__)

    async def _retry_later(self, row: WebhookEvent, *, claim: str, error: str) -> None:
        now = self._clock()
        async with unit_of_work(self._engine) as tx:
            stored = await tx.get(WebhookEvent, row.id)
            if stored is None or stored.processed_at or stored.lease_owner != claim:
                return
            stored.attempts = row.attempts + 1
            stored.last_error = error[:64]
            stored.lease_owner = None
            # lease_until doubles as "not before" for the next claim.
            stored.lease_until = now + backoff(stored.attempts, cap=self._policy.max_backoff)
            tx.add(stored)

    async def _finish_failed(self, row: WebhookEvent, *, claim: str, error: str) -> None:
        now = self._clock()
        async with unit_of_work(self._engine) as tx:
            stored = await tx.get(WebhookEvent, row.id)
            if stored is None or stored.processed_at or stored.lease_owner != claim:
                return
            stored.processed_at = now
            stored.outcome = "failed"
            stored.last_error = error[:64]
            stored.attempts = row.attempts + 1
            stored.lease_owner = None
            stored.lease_until = None
            tx.add(stored)
            await record_for_room(tx, row.room_name or "")  # the failure is the room's tenant's
            await append_audit(
                tx,
                event=AuditEvent(
                    type=AuditEventType.WEBHOOK_EVENT,
                    outcome=Outcome.FAILURE,
                    actor="livekit",
                    target=(row.room_name or "")[:256] or None,
                    reason=f"{row.event}: processing failed ({error})",
                    details={"kind": row.event, "event_id": row.id, "attempts": stored.attempts},
                ),
                now=now,
            )
