"""Value types for agent workers and their credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CredentialKind(StrEnum):
    WORKER = "worker"  # issued by the supervisor to a worker process; no session
    SESSION = "session"  # issued at dispatch, bound to one session; travels in job metadata


@dataclass(frozen=True)
class WorkerClaims:
    """A verified internal-API credential."""

    jti: str
    kind: CredentialKind
    worker_id: str
    session_id: str | None
    issued_at: datetime
    expires_at: datetime
