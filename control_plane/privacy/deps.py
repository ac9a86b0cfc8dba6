"""Privacy dependencies: the session-bound worker behind an internal call, and services."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from control_plane.agents.deps import authenticate_worker_bearer
from control_plane.agents.types import CredentialKind, WorkerClaims
from control_plane.deps import RequestId, State, Tx
from control_plane.privacy.erasure import ErasureServices
from control_plane.privacy.types import PrivacyServices


async def get_session_worker(
    request: Request, state: State, tx: Tx, request_id: RequestId
) -> WorkerClaims:
    """A worker holding a valid, recorded, unrevoked session-bound credential."""
    return await authenticate_worker_bearer(
        request, state, tx, request_id, kind=CredentialKind.SESSION
    )


SessionWorker = Annotated[WorkerClaims, Depends(get_session_worker)]


async def get_privacy_services(state: State) -> PrivacyServices:
    """Keys, the redaction engine and the current policy snapshot (503 when none)."""
    return PrivacyServices(
        keys=state.keys,
        redactor=state.redactor,
        policies=state.policies.current,
        retention=state.settings.retention,
        privacy=state.settings.privacy,
        limiter=state.limiter,
        rejection_audit_limit=state.settings.risk.rejection_audit_limit,
    )


PrivacyDeps = Annotated[PrivacyServices, Depends(get_privacy_services)]


async def get_erasure_services(state: State) -> ErasureServices:
    """Keys, the current policy snapshot and the remediation wake-up (LiveKit side)."""
    return ErasureServices(
        keys=state.keys,
        policies=state.policies.current,
        rekick=timedelta(seconds=state.settings.webhooks.rekick_seconds),
        wake=state.jobs.wake,
    )


ErasureDeps = Annotated[ErasureServices, Depends(get_erasure_services)]
