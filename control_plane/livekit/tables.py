"""LiveKit tables: webhook events (stored once), participations, remediation tasks and the
re-kick list.

Webhook bodies are retention class "webhook bodies" (``retention.webhook_body_seconds``),
purged on ``received_at``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel


class WebhookEvent(SQLModel, table=True):
    """A verified LiveKit webhook, stored before the 2xx; handling is recorded separately
    (``processed_at``), so a replay or a second delivery is a no-op."""

    __tablename__ = "livekit_webhook_event"
    __table_args__ = (
        Index("ix_livekit_webhook_event_pending", "processed_at", "received_at"),
        Index("ix_livekit_webhook_event_received", "received_at"),
    )

    id: str = Field(primary_key=True, max_length=64)  # LiveKit's event id ("EV_...")
    event: str = Field(max_length=48)
    room_name: str | None = Field(default=None, max_length=256)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # The verified body with room.turnPassword masked (a live credential we never need) and
    # client-chosen names stripped (webhook.strip_client_fields).
    body: str = Field(sa_column=Column(Text, nullable=False))
    processed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    outcome: str = Field(default="", max_length=32)
    attempts: int = Field(default=0)
    lease_owner: str | None = Field(default=None, max_length=32)
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_error: str = Field(default="", max_length=64)


class Participation(SQLModel, table=True):
    """One connection of a participant to a room (LiveKit participant sid), with the verdict
    of join auditing and, once closed, its duration and disconnect reason."""

    __tablename__ = "livekit_participation"
    __table_args__ = (
        Index("ix_livekit_participation_room_open", "room_name", "left_at"),
        Index("ix_livekit_participation_subject_open", "subject_id", "left_at"),
        Index("ix_livekit_participation_updated", "updated_at"),  # retention
    )

    sid: str = Field(primary_key=True, max_length=64)
    room_name: str = Field(max_length=256)
    session_id: str | None = Field(default=None, max_length=40)
    identity: str = Field(max_length=256)
    subject_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=16)
    token_id: str | None = Field(default=None, max_length=64)
    verdict: str = Field(max_length=16)  # explained | unexplained
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=16)  # webhook | reconciler
    granted_sources: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    joined_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    left_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    duration_ms: int | None = Field(default=None)
    disconnect_reason: str = Field(default="", max_length=32)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RemediationTask(SQLModel, table=True):
    """A durable action through the LiveKit server API, retried with backoff until done.

    ``kind`` names the steps (``EVICT`` = cut permissions, then remove); ``step`` is the
    next one to run, so a retry never repeats a step that succeeded.
    """

    __tablename__ = "livekit_remediation_task"
    __table_args__ = (
        Index("ix_livekit_remediation_due", "status", "next_attempt_at"),
        Index("ix_livekit_remediation_target", "room_name", "identity", "status"),
        Index("ix_livekit_remediation_created", "created_at"),  # retention
    )

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=24)
    room_name: str = Field(max_length=256)
    identity: str | None = Field(default=None, max_length=256)
    # The one connection to act on: a later connection with the same identity (a fresh,
    # legitimate join) is never removed by a task meant for an earlier one.
    sid: str | None = Field(default=None, max_length=64)
    subject_id: str | None = Field(default=None, max_length=64)
    session_id: str | None = Field(default=None, max_length=40)
    dispatch_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=128)
    anomaly_id: str | None = Field(default=None, max_length=40)
    status: str = Field(default="pending", max_length=16)  # pending | done | failed
    step: int = Field(default=0)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    lease_owner: str | None = Field(default=None, max_length=32)
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_error: str = Field(default="", max_length=64)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    done_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class Removal(SQLModel, table=True):
    """The re-kick list: an identity removed from a room (``*`` = every room).

    LiveKit's refreshed tokens stay valid ~10 min after RemoveParticipant and the OSS
    server keeps no revocation list (livekit.md §5.1, §5.2); until ``expires_at`` a join
    with a token minted before ``created_at`` is removed again on sight.
    """

    __tablename__ = "livekit_removal"
    __table_args__ = (
        Index("ix_livekit_removal_identity", "identity", "expires_at"),
        Index("ix_livekit_removal_expires", "expires_at"),  # retention
    )

    id: int | None = Field(default=None, primary_key=True)
    room_name: str = Field(max_length=256)
    identity: str = Field(max_length=256)
    reason: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
