"""Join auditing reads: every fact ``correlation.explain_join`` needs, gathered in the
caller's transaction by the participant's exact identity and the exact ``cp.tid`` it
carries (T-JOIN-4). No decisions here; ``participation`` acts on the verdict."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import RowMapping
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.dispatches import list_room_dispatches
from control_plane.clock import as_utc
from control_plane.identity.subjects import subject_status
from control_plane.livekit.correlation import TOKEN_ID_ATTRIBUTE
from control_plane.livekit.facts import (
    ConnectionFact,
    DispatchFact,
    JoinFacts,
    LedgerFact,
    RemovalFact,
    SessionFact,
)
from control_plane.livekit.remediation import list_active_removals
from control_plane.livekit.tables import Participation
from control_plane.livekit.types import DispatchView, ParticipantView
from control_plane.sessions.types import SessionStatus
from control_plane.tokens.service import find_ledger_row

if TYPE_CHECKING:
    from control_plane.agents.tables import AgentDispatch

DispatchJobs = Mapping[str, DispatchView]
"""LiveKit's view of dispatches in a room, by dispatch id (its jobs' identities)."""


def _ledger_fact(row: RowMapping) -> LedgerFact:
    grants = row["grants"] if isinstance(row["grants"], Mapping) else {}
    sources = grants.get("can_publish_sources", [])
    return LedgerFact(
        token_id=str(row["id"]),
        identity=str(row["identity"]),
        room=str(row["room_name"]),
        subject_id=str(row["subject_id"]),
        session_id=str(row["session_id"]),
        sources=tuple(str(s) for s in sources) if isinstance(sources, list) else (),
        can_publish_data=grants.get("can_publish_data") is True,
        can_subscribe=grants.get("can_subscribe") is True,
        issued_at=as_utc(row["issued_at"]),
        expires_at=as_utc(row["expires_at"]),
    )


def _is_lookup_safe(value: str, limit: int = 128) -> bool:
    """An identity from outside that a mint could have produced, safe to look up (bounded,
    printable ASCII: PostgreSQL refuses a NUL in text). Anything else is no one's."""
    return 0 < len(value) <= limit and value.isascii() and value.isprintable()


async def _mint_connections(
    tx: AsyncSession, *, room: str, token_id: str, sid: str
) -> tuple[ConnectionFact, ...]:
    """The room's other connections explained by this mint (open and closed)."""
    rows = (
        await tx.exec(
            select(Participation.sid, Participation.identity, Participation.left_at)
            .where(Participation.room_name == room)
            .where(Participation.token_id == token_id)
            .where(Participation.verdict == "explained")
            .where(col(Participation.sid) != sid)
        )
    ).all()
    return tuple(
        ConnectionFact(sid=s, identity=i, left_at=as_utc(left) if left else None)
        for s, i, left in rows
    )


def _dispatch_fact(dispatch: AgentDispatch, view: DispatchView | None) -> DispatchFact:
    return DispatchFact(
        dispatch_id=dispatch.id,
        agent_name=dispatch.agent_name,
        deleted_at=as_utc(dispatch.deleted_at) if dispatch.deleted_at else None,
        job_identities=view.job_participant_identities if view else (),
        ended_jobs=tuple(
            (identity, datetime.fromtimestamp(at, tz=UTC)) for identity, at in view.ended_jobs
        )
        if view
        else (),
    )


async def gather_join_facts(
    tx: AsyncSession,
    *,
    room: str,
    session: RowMapping | None,
    participant: ParticipantView,
    joined_at: datetime,
    dispatch_jobs: DispatchJobs | None,
    live_rivals: tuple[str, ...] = (),
    now: datetime,
) -> JoinFacts:
    """Everything ``explain_join`` needs, read in the caller's transaction (Core reads:
    this runs for every join). ``session``: the room's, as ``record_for_room`` read it in
    this transaction. Every lookup uses the participant's exact identity and the exact
    ``cp.tid`` it carries (T-JOIN-4)."""
    identity = participant.identity if _is_lookup_safe(participant.identity) else ""
    token_id = participant.attributes.get(TOKEN_ID_ATTRIBUTE, "")
    session_fact = (
        SessionFact(
            session_id=str(session["id"]),
            room=str(session["room_name"]),
            is_active=session["status"] == SessionStatus.ACTIVE,
            expires_at=as_utc(session["expires_at"]),
            ended_at=as_utc(session["ended_at"]) if session["ended_at"] else None,
        )
        if session is not None
        else None
    )
    row = await find_ledger_row(tx, token_id=token_id) if token_id else None
    status = await subject_status(tx, identity) if identity else None
    removals = await list_active_removals(tx, identity=identity, now=now) if identity else ()
    connections = (
        await _mint_connections(tx, room=room, token_id=token_id, sid=participant.sid)
        if row is not None
        else ()
    )
    dispatches: tuple[DispatchFact, ...] = ()
    if participant.kind == "AGENT":
        jobs = dispatch_jobs or {}
        dispatches = tuple(
            _dispatch_fact(d, jobs.get(d.id)) for d in await list_room_dispatches(tx, room=room)
        )
    return JoinFacts(
        room=room,
        participant=participant,
        joined_at=joined_at,
        session=session_fact,
        ledger=(_ledger_fact(row),) if row is not None else (),
        subject_status=status,
        removals=tuple(
            RemovalFact(
                room=str(r["room_name"]),
                created_at=as_utc(r["created_at"]),
                expires_at=as_utc(r["expires_at"]),
            )
            for r in removals
        ),
        dispatches=dispatches,
        mint_connections=connections,
        live_rivals=live_rivals,
    )
