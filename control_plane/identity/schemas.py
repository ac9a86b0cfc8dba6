"""Wire contract of the identity endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class WhoAmI(_Out):
    subject_id: str
    tenant: str
    groups: list[str]
    email_verified: bool
    method: str
    csrf_token: str | None = None


class BrowserSessionOut(_Out):
    handle: str
    created_at: datetime
    last_seen_at: datetime
    absolute_expires_at: datetime
    current: bool


class LogoutResponse(_Out):
    logout_url: str | None
