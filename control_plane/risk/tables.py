"""Anomalies: what was detected, with severity, evidence and the response taken."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel


class Anomaly(SQLModel, table=True):
    __tablename__ = "anomaly"
    __table_args__ = (
        Index("ix_anomaly_subject_created", "subject_id", "created_at"),
        Index("ix_anomaly_created", "created_at"),
        Index("ix_anomaly_tenant_created", "tenant", "created_at"),
        Index("ix_anomaly_pending_alert", "alerted_at", "next_alert_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    rule: str = Field(max_length=64)
    severity: str = Field(max_length=16)
    subject_id: str | None = Field(default=None, max_length=64)
    tenant: str | None = Field(default=None, max_length=128)  # None: platform-wide
    session_id: str | None = Field(default=None, max_length=40)
    evidence: dict[str, object] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    response: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    alerted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    alert_attempts: int = Field(default=0)
    next_alert_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
