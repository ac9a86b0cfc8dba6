"""Session-bound worker credentials: issued at dispatch, checked on every internal call,
revoked when the session is finalised.

The signed JWT alone is not enough: a credential is accepted only while its row exists and
is not revoked, so revocation is immediate on every replica (no cache).
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
from control_plane.crypto.keyring import KeyRing


async def issue_session_credential(
    tx: AsyncSession,
    *,
    keys: KeyRing,
    session_id: str,
    dispatch_id: str,
    ttl: timedelta,
    now: datetime,
) -> str:
    """Sign a credential bound to one session (``sid``) and record it for revocation."""
    token, _ = await issue_session_credential_claims(
        tx, keys=keys, session_id=session_id, dispatch_id=dispatch_id, ttl=ttl, now=now
    )
    return token


async def issue_session_credential_claims(
    tx: AsyncSession,
    *,
    keys: KeyRing,
    session_id: str,
    dispatch_id: str,
    ttl: timedelta,
    now: datetime,
) -> tuple[str, WorkerClaims]:
    """``issue_session_credential`` that also returns the claims (the jti a dispatch row
    records, so revoking a dispatch can name its credential)."""
    token, claims = issue_credential(
        keys.worker_credential_key,
        kind=CredentialKind.SESSION,
        worker_id=dispatch_id,
        session_id=session_id,
        ttl=ttl,
        now=now,
    )
    await record_credential(tx, claims=claims)
    return token, claims


async def revoke_session_credentials(tx: AsyncSession, *, session_id: str, now: datetime) -> int:
    """Revoke every live credential bound to the session; returns how many."""
    result = await tx.exec(
        update(WorkerCredential)
        .where(col(WorkerCredential.session_id) == session_id)
        .where(col(WorkerCredential.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)
