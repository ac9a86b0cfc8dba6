"""Wire contract of the risk endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from control_plane.audit.schemas import as_utc
from control_plane.risk.types import DetectorRule

MAX_PAGE = 500


class AnomalyQuery(BaseModel):
    """Filters; every bad value is a 422."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: DetectorRule | None = None
    subject: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")
    since: datetime | None = None
    before: datetime | None = Field(default=None, description="cursor: created_at < before")
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)

    @field_validator("since", "before")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)


class AnomalyOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    rule: str
    severity: str
    response: str
    subject_id: str | None
    tenant: str | None
    session_id: str | None
    evidence: dict[str, object]
    created_at: datetime
    alerted_at: datetime | None
    alert_attempts: int

    @field_validator("created_at", "alerted_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)


class AnomalyPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[AnomalyOut]
    next_before: datetime | None = Field(description="pass as `before` for the next page")
