"""Crypto tables: each subject's data key, wrapped by the key-encryption key.

Destroying a subject's row is crypto-shredding: every ciphertext encrypted under that data
key (in any table, replica or backup taken after the last KEK rotation) becomes unreadable.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, LargeBinary
from sqlmodel import Field, SQLModel


class SubjectDataKey(SQLModel, table=True):
    __tablename__ = "subject_data_key"
    __table_args__ = (Index("ix_subject_data_key_kek", "kek_id"),)

    subject_id: str = Field(primary_key=True, max_length=64)
    wrapped_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    kek_id: str = Field(max_length=32)  # which KEK wrapped it, so rotation finds old wraps
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    rewrapped_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
