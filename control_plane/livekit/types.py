"""What the control plane needs to know about LiveKit rooms, participants and dispatches."""

from __future__ import annotations

from dataclasses import dataclass, field

NUL_STAND_IN = "\ufffd"


def storable(value: str) -> str:
    """``value`` as the store keeps it: livekit-server accepts any string as an identity or
    attribute, a NUL included, which PostgreSQL text cannot hold (pure). A stored value
    with the stand-in may not be the live one: remediation resolves it by sid."""
    return value.replace("\x00", NUL_STAND_IN)


@dataclass(frozen=True)
class ParticipantPermissionView:
    can_subscribe: bool
    can_publish: bool
    can_publish_data: bool
    can_publish_sources: tuple[str, ...]
    hidden: bool
    can_update_metadata: bool
    agent: bool
    recorder: bool
    can_subscribe_metrics: bool = False
    can_manage_agent_session: bool = False


@dataclass(frozen=True)
class ParticipantView:
    """A participant as LiveKit reports it (webhook or ListParticipants)."""

    sid: str
    identity: str
    kind: str  # STANDARD | AGENT | SIP | ...
    joined_at: int
    attributes: dict[str, str] = field(default_factory=dict)
    permission: ParticipantPermissionView | None = None
    track_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class DispatchView:
    id: str
    room: str
    agent_name: str
    metadata: str
    job_participant_identities: tuple[str, ...]
    # (identity, ended_at unix seconds) of the jobs that have ended: an ended job's
    # identity explains no later join (T-JOIN-7).
    ended_jobs: tuple[tuple[str, int], ...] = ()
