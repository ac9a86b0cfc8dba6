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

from control_plane.agents.credentials import (
    InvalidWorkerCredential,
    issue_credential,
    verify_credential,
)
from control_plane.agents.tables import WorkerCredential
from control_plane.agents.types import CredentialKind, WorkerClaims
from control_plane.clock import as_utc
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
    tx.add(
        WorkerCredential(
            jti=claims.jti,
            kind=claims.kind.value,
            worker_id=claims.worker_id,
            session_id=session_id,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
        )
    )
    await tx.flush()
    return token, claims


async def authenticate_session_credential(
    tx: AsyncSession, *, keys: KeyRing, token: str, now: datetime
) -> WorkerClaims:
    """A valid, recorded, unrevoked, unexpired session-bound credential; else one 401.

    The reason (wrong type, expired, revoked, unknown) is in the exception for the audit
    log; the client sees the same message for all of them.
    """
    claims = verify_credential(keys.worker_credential_key, token, now=now)
    if claims.kind is not CredentialKind.SESSION or claims.session_id is None:
        raise InvalidWorkerCredential("credential rejected: not session-bound")
    row = await tx.get(WorkerCredential, claims.jti)
    if row is None or row.session_id != claims.session_id:
        raise InvalidWorkerCredential("credential rejected: unknown")
    if row.revoked_at is not None:
        raise InvalidWorkerCredential("credential rejected: revoked")
    if as_utc(row.expires_at) <= now:
        raise InvalidWorkerCredential("credential rejected: expired")
    return claims


async def revoke_session_credentials(tx: AsyncSession, *, session_id: str, now: datetime) -> int:
    """Revoke every live credential bound to the session; returns how many."""
    result = await tx.exec(
        update(WorkerCredential)
        .where(col(WorkerCredential.session_id) == session_id)
        .where(col(WorkerCredential.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)
