"""Wire contract of the audit endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from control_plane.audit.types import MAX_SEQ, AuditEventType

MAX_PAGE = 500
_PSEUDONYM = r"^[A-Za-z0-9_.:\-]{1,128}$"


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError) as exc:  # e.g. 9999-12-31T23:59+(-14:00)
        raise ValueError("timestamp out of range") from exc


class AuditQuery(BaseModel):
    """Search filters; every bad value is a 422, never a 5xx."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: Annotated[str | None, Field(pattern=_PSEUDONYM, description="subject pseudonym")] = None
    event_type: AuditEventType | None = None
    since: datetime | None = Field(default=None, description="ts >= since (UTC if no offset)")
    until: datetime | None = Field(default=None, description="ts < until (UTC if no offset)")
    after_seq: int = Field(default=0, ge=0, le=MAX_SEQ, description="cursor: seq > after_seq")
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)

    @field_validator("since", "until")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> AuditQuery:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after: int = Field(default=0, ge=0, le=MAX_SEQ, description="cursor: seq > after")
    limit: int = Field(default=10_000, ge=1, le=100_000)


class AuditRecordOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    seq: int
    id: str
    ts: datetime
    event_type: str
    outcome: str
    actor: str | None
    target: str | None
    reason: str
    decision_id: str | None
    policy_version: str | None
    request_id: str | None
    tenant: str | None
    details: dict[str, object]
    prev_hash: str
    hash: str

    @field_validator("ts")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class AuditPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[AuditRecordOut]
    next_after_seq: int | None = Field(description="pass as after_seq for the next page")


class ChainBreakOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    reason: str


class CheckpointProblemOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    checkpoint_id: int
    head_seq: int
    reason: str


class WitnessProblemOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: int
    checkpoint_id: int | None
    reason: str


class VerifyOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    intact: bool
    records_checked: int
    checkpoints_checked: int
    first_seq: int | None
    head_seq: int | None
    anchor: str
    chain_break: ChainBreakOut | None
    checkpoint_problem: CheckpointProblemOut | None
    witnessed_checked: int
    witness_problem: WitnessProblemOut | None
