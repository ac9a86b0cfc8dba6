"""Recording and checking internal-API credentials against their rows.

Both kinds (WORKER for a process, SESSION for one session) count only while their row
exists, matches the signed claims and is neither revoked nor expired, so revocation is
immediate on every replica. One implementation for both, so the two checks cannot drift.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.credentials import InvalidWorkerCredential, verify_credential
from control_plane.agents.tables import WorkerCredential
from control_plane.agents.types import CredentialKind, WorkerClaims
from control_plane.clock import as_utc


async def record_credential(tx: AsyncSession, *, claims: WorkerClaims) -> None:
    """Store the credential's row so it can be checked and revoked."""
    tx.add(
        WorkerCredential(
            jti=claims.jti,
            kind=claims.kind.value,
            worker_id=claims.worker_id,
            session_id=claims.session_id,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
        )
    )
    await tx.flush()


async def authenticate_credential(
    tx: AsyncSession, *, key: bytes, token: str, kind: CredentialKind, now: datetime
) -> WorkerClaims:
    """A valid credential of ``kind`` whose row matches it and is live; else one 401.

    The exception carries the exact reason (wrong kind, unknown, revoked, expired) for the
    audit log; the client sees the same message for all of them.
    """
    claims = verify_credential(key, token, now=now)
    bound = claims.session_id is not None
    if claims.kind is not kind or bound != (kind is CredentialKind.SESSION):
        raise InvalidWorkerCredential(f"credential rejected: not a {kind.value} credential")
    row = await tx.get(WorkerCredential, claims.jti)
    if (
        row is None
        or row.kind != kind.value
        or row.worker_id != claims.worker_id
        or row.session_id != claims.session_id
    ):
        raise InvalidWorkerCredential("credential rejected: unknown")
    if row.revoked_at is not None:
        raise InvalidWorkerCredential("credential rejected: revoked")
    if as_utc(row.expires_at) <= now:
        raise InvalidWorkerCredential("credential rejected: expired")
    return claims
