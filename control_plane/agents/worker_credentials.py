"""Process-bound worker credentials: issued by the supervisor to one worker process, used for
heartbeats only, rotated before expiry and revoked when the process exits.

A WORKER credential names no session, so it can write nothing about any session (the
transcript and metrics endpoints accept SESSION credentials only); a SESSION credential
cannot heartbeat. Like session credentials, a WORKER credential counts only while its row
exists and is not revoked, so revocation is immediate on every replica.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.credential_store import record_credential
from control_plane.agents.credentials import issue_credential
from control_plane.agents.tables import WorkerCredential
from control_plane.agents.types import CredentialKind, WorkerClaims


async def issue_worker_credential(
    tx: AsyncSession, *, key: bytes, worker_id: str, ttl: timedelta, now: datetime
) -> tuple[str, WorkerClaims]:
    """Sign a credential for one worker process (no session) and record it."""
    token, claims = issue_credential(
        key, kind=CredentialKind.WORKER, worker_id=worker_id, session_id=None, ttl=ttl, now=now
    )
    await record_credential(tx, claims=claims)
    return token, claims


async def revoke_worker_credential(tx: AsyncSession, *, jti: str, now: datetime) -> bool:
    """Revoke one process credential (superseded or its process gone); idempotent."""
    result = await tx.exec(
        update(WorkerCredential)
        .where(col(WorkerCredential.jti) == jti)
        .where(col(WorkerCredential.kind) == CredentialKind.WORKER.value)
        .where(col(WorkerCredential.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)
