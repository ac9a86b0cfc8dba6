"""Agent tables: internal-API credentials (for revocation) and dispatches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index
from sqlmodel import Field, SQLModel


class WorkerCredential(SQLModel, table=True):
    __tablename__ = "worker_credential"
    __table_args__ = (Index("ix_worker_credential_session", "session_id"),)

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
