"""Privacy tables: encrypted transcript segments, per-session transcript state, erasure
requests.

Text columns hold ciphertext only (AES-256-GCM under the session owner's data key, bound to
``subject | table.field | row id``); counts, roles and timings are not personal content.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


class TranscriptSegment(SQLModel, table=True):
    """One final transcript segment: redacted text, and raw text only when policy asks."""

    __tablename__ = "transcript_segment"
    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_transcript_segment_session_seq"),
        Index("ix_transcript_segment_subject", "subject_id"),
        Index("ix_transcript_segment_created", "created_at"),
        Index("ix_transcript_segment_finalized", "finalized_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    session_id: str = Field(max_length=40)
    subject_id: str = Field(max_length=64)  # the session owner, whose data key encrypts it
    seq: int
    role: str = Field(max_length=8)  # user | agent
    start_ms: int
    end_ms: int
    redacted_ct: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    raw_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    entity_counts: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # Set when the session is finalised: the redacted-transcript retention clock.
    finalized_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class TranscriptSession(SQLModel, table=True):
    """A session's transcript state: counts by entity type and the (encrypted) placeholder
    map that keeps ``<PERSON_1>`` the same person across segments. Its row lock serialises
    writers and finalisation of one session."""

    __tablename__ = "transcript_session"
    __table_args__ = (Index("ix_transcript_session_subject", "subject_id"),)

    session_id: str = Field(primary_key=True, max_length=40)
    subject_id: str = Field(max_length=64)
    storage_mode: str = Field(max_length=16)
    next_seq: int = Field(default=0)
    segments_received: int = Field(default=0)
    segments_stored: int = Field(default=0)
    non_final_ignored: int = Field(default=0)
    entity_counts: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    final_pass_counts: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    placeholder_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ErasureRequest(SQLModel, table=True):
    """A data-subject erasure request and its outcome; pseudonyms and counts only."""

    __tablename__ = "erasure_request"
    __table_args__ = (
        Index("ix_erasure_request_tenant", "tenant", "requested_at"),
        Index("ix_erasure_request_subject", "subject_id"),
        Index("ix_erasure_request_requested", "requested_at"),  # retention
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant: str = Field(max_length=128)
    subject_id: str = Field(max_length=64)
    requested_by: str = Field(max_length=64)
    request_id: str = Field(default="", max_length=64)
    status: str = Field(max_length=16)  # completed | blocked | failed
    reason: str = Field(default="", max_length=256)
    requested_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    completed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The signed receipt (pseudonyms, timestamps, counts: no content).
    receipt: dict[str, object] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The audit sequence at erasure: an export after a later login starts after it.
    # 64-bit, like audit_record.seq.
    audit_seq: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=True),
    )
