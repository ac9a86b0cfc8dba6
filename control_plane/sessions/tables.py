"""Voice sessions (one LiveKit room each) and who was invited into them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index
from sqlmodel import Field, SQLModel


class VoiceSession(SQLModel, table=True):
    __tablename__ = "voice_session"
    __table_args__ = (
        Index("ix_voice_session_owner", "owner_subject_id"),
        Index("ix_voice_session_status", "status"),
        Index("ix_voice_session_finalized", "finalized_at"),  # retention
    )

    id: str = Field(primary_key=True, max_length=40)
    room_name: str = Field(max_length=64, unique=True)
    tenant: str = Field(max_length=128)
    owner_subject_id: str = Field(max_length=64)
    status: str = Field(default="active", max_length=16)  # SessionStatus
    retention_class: str = Field(default="standard", max_length=32)
    storage_mode: str = Field(default="standard", max_length=16)  # standard | no_storage
    allow_video: bool = Field(default=False)
    agent_requested: bool = Field(default=False)
    legal_hold: bool = Field(default=False)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ended_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    end_reason: str = Field(default="", max_length=128)
    finalized_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class SessionMember(SQLModel, table=True):
    """A subject invited into a session (the owner is one too)."""

    __tablename__ = "session_member"

    session_id: str = Field(primary_key=True, max_length=40, foreign_key="voice_session.id")
    subject_id: str = Field(primary_key=True, max_length=64)
    role: str = Field(default="participant", max_length=16)  # owner | participant
    added_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SessionInvite(SQLModel, table=True):
    """A single-use invitation into a session; the code is stored only as its SHA-256."""

    __tablename__ = "session_invite"

    code_hash: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(max_length=40, foreign_key="voice_session.id")
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used_by: str | None = Field(default=None, max_length=64)
    used_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
