"""Privacy dependencies: the session-bound worker behind an internal call, and services."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from control_plane.agents.credentials import InvalidWorkerCredential
from control_plane.agents.session_credentials import authenticate_session_credential
from control_plane.agents.types import WorkerClaims
from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.deps import RequestId, State, Tx
from control_plane.privacy.erasure import ErasureServices
from control_plane.privacy.errors import WorkerAuthenticationFailed
from control_plane.privacy.types import PrivacyServices


async def get_session_worker(
    request: Request, state: State, tx: Tx, request_id: RequestId
) -> WorkerClaims:
    """A worker holding a valid, recorded, unrevoked session-bound credential.

    Identity tokens, LiveKit tokens and browser cookies never qualify (the credential has
    its own ``typ``, audience and key). Every failure is the same 401; the exact reason is
    audited.
    """
    authorization = request.headers.get("authorization") or ""
    scheme, _, token = authorization.partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidWorkerCredential("credential rejected: no bearer credential")
        return await authenticate_session_credential(
            tx, keys=state.keys, token=token.strip(), now=state.clock()
        )
    except InvalidWorkerCredential as exc:
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.BEARER_REJECTED,
                outcome=Outcome.FAILURE,
                reason=exc.message[:200],
                request_id=request_id,
                details={"path": request.url.path[:128], "credential": "worker"},
            ),
            now=state.clock(),
        )
        raise WorkerAuthenticationFailed() from None


SessionWorker = Annotated[WorkerClaims, Depends(get_session_worker)]


def get_privacy_services(state: State) -> PrivacyServices:
    """Keys, the redaction engine and the current policy snapshot (503 when none)."""
    return PrivacyServices(
        keys=state.keys,
        redactor=state.redactor,
        policies=state.policies.current,
        retention=state.settings.retention,
        privacy=state.settings.privacy,
    )


PrivacyDeps = Annotated[PrivacyServices, Depends(get_privacy_services)]


def get_erasure_services(state: State) -> ErasureServices:
    """Keys, the current policy snapshot and the remediation wake-up (LiveKit side)."""
    return ErasureServices(
        keys=state.keys,
        policies=state.policies.current,
        rekick=timedelta(seconds=state.settings.webhooks.rekick_seconds),
        wake=state.jobs.wake,
    )


ErasureDeps = Annotated[ErasureServices, Depends(get_erasure_services)]
