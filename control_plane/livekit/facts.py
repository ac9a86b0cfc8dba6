"""The facts join auditing decides on (``correlation``), as the thin callers gather them
(``participation``, ``reconcile``): frozen values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from control_plane.livekit.types import ParticipantView


@dataclass(frozen=True)
class LedgerFact:
    """A minted token (mint ledger row)."""

    token_id: str
    identity: str
    room: str
    subject_id: str
    session_id: str
    sources: tuple[str, ...]
    can_publish_data: bool
    can_subscribe: bool
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class SessionFact:
    session_id: str
    room: str
    is_active: bool
    expires_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class DispatchFact:
    """A dispatch we created, with the job identities LiveKit lists for it."""

    dispatch_id: str
    agent_name: str
    deleted_at: datetime | None
    job_identities: tuple[str, ...]
    ended_jobs: tuple[tuple[str, datetime], ...] = ()  # (identity, ended at) of ended jobs


@dataclass(frozen=True)
class ConnectionFact:
    """Another connection (participant sid) of this room already explained by the same
    mint: what binds one mint to one live connection at a time."""

    sid: str
    identity: str
    left_at: datetime | None


@dataclass(frozen=True)
class RemovalFact:
    """A re-kick entry: tokens minted before ``created_at`` are refused until it expires."""

    room: str  # "*" for every room
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class JoinFacts:
    room: str
    participant: ParticipantView
    joined_at: datetime
    session: SessionFact | None
    ledger: tuple[LedgerFact, ...]  # the row the participant's cp.tid names, if any
    subject_status: str | None  # the exact identity's; None: no such subject
    removals: tuple[RemovalFact, ...] = ()
    dispatches: tuple[DispatchFact, ...] = ()
    mint_connections: tuple[ConnectionFact, ...] = ()
    # Other sids LiveKit lists right now with the same cp.tid that joined before this one
    # (the reconciler's listing; a webhook carries no such view).
    live_rivals: tuple[str, ...] = ()
