"""The mint ledger: one row per LiveKit token we minted, the basis of join auditing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel


class MintLedger(SQLModel, table=True):
    __tablename__ = "mint_ledger"
    __table_args__ = (
        Index("ix_mint_ledger_identity_room", "identity", "room_name"),
        Index("ix_mint_ledger_subject", "subject_id"),
        Index("ix_mint_ledger_session", "session_id"),
        Index("ix_mint_ledger_expires", "expires_at"),  # retention
    )

    id: str = Field(primary_key=True, max_length=40)  # the cp.tid attribute
    subject_id: str = Field(max_length=64)
    session_id: str = Field(max_length=40)
    room_name: str = Field(max_length=64)
    identity: str = Field(max_length=128)
    grants: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    decision_id: str = Field(max_length=64)
    policy_version: str = Field(max_length=80)
    client_address: str = Field(default="", max_length=64)
