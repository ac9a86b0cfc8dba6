"""Wire contract of the privacy endpoints (transcript intake, export, erasure, holds)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_SEGMENTS = 50
MAX_SEGMENT_BYTES = 4096
MAX_OFFSET_MS = 24 * 3600 * 1000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SegmentIn(_Strict):
    role: Literal["user", "agent"]
    text: str = Field(min_length=1, max_length=MAX_SEGMENT_BYTES)
    start_ms: int = Field(ge=0, le=MAX_OFFSET_MS)
    end_ms: int = Field(ge=0, le=MAX_OFFSET_MS)
    final: bool

    def __repr__(self) -> str:  # never print transcript text
        return f"SegmentIn(role={self.role!r}, text=<{len(self.text)} chars>)"

    @field_validator("text")
    @classmethod
    def _utf8_and_size(cls, value: str) -> str:
        # A JSON \ud800 escape yields a lone surrogate: not UTF-8, refuse it here (422)
        # rather than fail later while encrypting (500). The message never echoes the text.
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("text is not valid UTF-8") from None
        if size > MAX_SEGMENT_BYTES:
            raise ValueError(f"text is larger than {MAX_SEGMENT_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> SegmentIn:
        if self.end_ms < self.start_ms:
            raise ValueError("end_ms is before start_ms")
        return self


class TranscriptIn(_Strict):
    segments: list[SegmentIn] = Field(min_length=1, max_length=MAX_SEGMENTS)


class TranscriptAcceptedOut(_Strict):
    session_id: str
    received: int
    stored: int
    ignored_non_final: int
    text_stored: bool
    entity_counts: dict[str, int]


class ReceiptOut(BaseModel):
    """A signed deletion receipt; verify with `control-plane privacy verify-receipt FILE`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    erasure_id: str
    request_id: str
    subject: str
    requested_by: str
    requested_at: str
    completed_at: str
    counts: dict[str, int]
    key_destroyed: bool
    live_participation: dict[str, int]
    audit_seq: int
    algorithm: str
    key_id: str
    signature: str


class ReceiptKeyOut(_Strict):
    algorithm: str
    key_id: str
    public_key: str  # raw Ed25519 public key, base64url


class SegmentOut(BaseModel):
    seq: int
    role: str
    start_ms: int
    end_ms: int
    text: str
    entity_counts: dict[str, int]
    stored_at: str | None


class SessionExportOut(BaseModel):
    id: str
    role: str
    status: str
    storage_mode: str
    retention_class: str
    created_at: str | None
    ended_at: str | None
    finalized_at: str | None
    entity_counts: dict[str, int] = Field(default_factory=dict)
    transcript: list[SegmentOut] = Field(default_factory=list)


class SubjectExportOut(BaseModel):
    id: str
    tenant: str
    status: str
    legal_hold: bool
    created_at: str | None
    last_seen_at: str | None


class DecisionOut(BaseModel):
    seq: int
    ts: str | None
    event_type: str
    outcome: str
    target: str | None
    reason: str
    decision_id: str | None
    policy_version: str | None
    details: dict[str, object]


class ExportOut(BaseModel):
    version: str
    subject: SubjectExportOut | None
    sessions: list[SessionExportOut]
    decisions: list[DecisionOut]
    decisions_truncated: bool
    next_audit_after: int
    exported_at: str


class ErasureOut(BaseModel):
    """An erasure request as security auditors see it: who (pseudonyms), when, status."""

    id: str
    subject_id: str
    requested_by: str
    status: str
    reason: str
    requested_at: str
    completed_at: str | None
    counts: dict[str, int]
    receipt_key_id: str | None


class LegalHoldOut(_Strict):
    kind: str
    id: str
    legal_hold: bool
