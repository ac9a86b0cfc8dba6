"""Audit tables: the append-only hash chain and its signed checkpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer
from sqlmodel import Field, SQLModel

# Sequence numbers are 64-bit: cursors accept up to 2**62 and the chain must not stop at
# 2**31 records. On SQLite the column stays INTEGER, its 64-bit rowid alias.
SEQ = BigInteger().with_variant(Integer(), "sqlite")


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_record"
    __table_args__ = (
        Index("ix_audit_record_ts", "ts"),
        Index("ix_audit_record_actor", "actor"),
        Index("ix_audit_record_type", "event_type"),
        Index("ix_audit_record_tenant_seq", "tenant", "seq"),
    )

    seq: int = Field(sa_column=Column(SEQ, primary_key=True, autoincrement=False))
    id: str = Field(max_length=32, unique=True)
    ts: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    event_type: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    actor: str | None = Field(default=None, max_length=128)
    target: str | None = Field(default=None, max_length=256)
    reason: str = Field(default="", max_length=512)
    decision_id: str | None = Field(default=None, max_length=64)
    policy_version: str | None = Field(default=None, max_length=80)
    request_id: str | None = Field(default=None, max_length=64)
    details: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # None: a platform-wide record (visible to platform auditors only, never to a tenant's).
    tenant: str | None = Field(default=None, max_length=128)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """A signed claim over the chain (see ``chain.CheckpointClaim``)."""

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    ts: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    first_seq: int = Field(sa_column=Column(SEQ, nullable=False))
    first_prev_hash: str = Field(max_length=64)
    head_seq: int = Field(sa_column=Column(SEQ, nullable=False, index=True))
    head_hash: str = Field(max_length=64)
    key_id: str = Field(max_length=32)
    signature: str = Field(max_length=128)
