"""Agent tables: internal-API credentials (for revocation), dispatches, the supervised
worker fleet and per-turn latency metrics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel


class WorkerCredential(SQLModel, table=True):
    __tablename__ = "worker_credential"
    __table_args__ = (
        Index("ix_worker_credential_session", "session_id"),
        Index("ix_worker_credential_expires", "expires_at"),  # retention
    )

    jti: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=16)
    worker_id: str = Field(max_length=128)
    session_id: str | None = Field(default=None, max_length=40)
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class AgentDispatch(SQLModel, table=True):
    """A dispatch we created through LiveKit's agent dispatch API; explains agent joins."""

    __tablename__ = "agent_dispatch"
    __table_args__ = (Index("ix_agent_dispatch_room", "room_name"),)

    id: str = Field(primary_key=True, max_length=64)  # LiveKit dispatch id
    session_id: str = Field(max_length=40)
    room_name: str = Field(max_length=64)
    agent_name: str = Field(max_length=64)
    decision_id: str = Field(max_length=64)
    credential_jti: str = Field(max_length=40)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    deleted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class AgentWorker(SQLModel, table=True):
    """One supervised worker slot: what the supervisor knows (process, restarts) and what
    the worker reports (heartbeats). Shared through the store, so any API replica can show
    the fleet of a supervisor running elsewhere (``control-plane agents run``)."""

    __tablename__ = "agent_worker"
    __table_args__ = (
        Index("ix_agent_worker_supervisor", "supervisor_id"),
        Index("ix_agent_worker_stopped", "stopped_at"),  # retention
    )

    id: str = Field(primary_key=True, max_length=64)  # the worker id (CP_WORKER_ID)
    supervisor_id: str = Field(max_length=96)
    slot: int
    agent_name: str = Field(max_length=64)
    status: str = Field(max_length=16)  # starting | running | unhealthy | backoff | stopped
    pid: int | None = Field(default=None)
    process_alive: bool = Field(default=False)
    restarts: int = Field(default=0)
    last_exit_code: int | None = Field(default=None)
    active_jobs: int = Field(default=0)
    credential_jti: str | None = Field(default=None, max_length=40)
    credential_expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    started_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_heartbeat_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    stopped_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class TurnMetric(SQLModel, table=True):
    """Latency of one agent turn, as reported by the worker serving the session.

    Retention class "metrics" (``retention.metrics_seconds``) on ``created_at``. No text,
    no identities: durations, counts and the tool names the worker ran.
    """

    __tablename__ = "turn_metric"
    __table_args__ = (
        Index("ix_turn_metric_session", "session_id"),
        Index("ix_turn_metric_created", "created_at"),
    )

    # sha256(session id, turn id): a retried report inserts nothing new.
    id: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(max_length=40)
    turn_id: str = Field(max_length=128)
    agent: str = Field(max_length=128)  # the credential's worker id (the dispatch reference)
    eou_delay_ms: float | None = Field(default=None)
    llm_ttft_ms: float | None = Field(default=None)
    tts_ttfb_ms: float | None = Field(default=None)
    time_to_first_audio_ms: float | None = Field(default=None)
    e2e_response_ms: float | None = Field(default=None)
    # [{"name": str, "duration_ms": float}, ...], bounded by the intake schema.
    tool_calls: list[dict[str, object]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    interrupted: bool = Field(default=False)
    reconnects: int = Field(default=0)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
