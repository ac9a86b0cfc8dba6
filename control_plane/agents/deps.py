"""Agent dependencies: the worker process behind a heartbeat, and dispatch services."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.credential_store import authenticate_credential
from control_plane.agents.credentials import InvalidWorkerCredential
from control_plane.agents.dispatch import DispatchServices
from control_plane.agents.types import CredentialKind, WorkerClaims
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.deps import RequestId, State, Tx
from control_plane.identity.pseudonym import pseudonymize_address
from control_plane.privacy.errors import WorkerAuthenticationFailed
from control_plane.risk.deps import get_client_address
from control_plane.risk.service import audit_rejection
from control_plane.state import AppState


async def authenticate_worker_bearer(
    request: Request,
    state: AppState,
    tx: AsyncSession,
    request_id: str,
    *,
    kind: CredentialKind,
) -> WorkerClaims:
    """The internal-API credential of ``kind`` in the Authorization header.

    Identity tokens, LiveKit tokens, cookies and the other kind of worker credential never
    qualify. Every failure is the same 401; the exact reason is audited.
    """
    authorization = request.headers.get("authorization") or ""
    scheme, _, token = authorization.partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidWorkerCredential("credential rejected: no bearer credential")
        return await authenticate_credential(
            tx,
            key=state.keys.worker_credential_key,
            token=token.strip(),
            kind=kind,
            now=state.clock(),
        )
    except InvalidWorkerCredential as exc:
        address_key = pseudonymize_address(
            state.keys.pseudonym_key, await get_client_address(request, state)
        )
        await audit_rejection(
            tx,
            state.limiter,
            limit=state.settings.risk.rejection_audit_limit,
            scope="worker-rejected",
            address_key=address_key,
            event=AuditEvent(
                type=AuditEventType.BEARER_REJECTED,
                outcome=Outcome.FAILURE,
                reason=exc.message[:200],
                request_id=request_id,
                details={
                    "path": request.url.path[:128],
                    "credential": f"worker-{kind.value}",
                    "address": address_key,
                },
            ),
            now=state.clock(),
        )
        raise WorkerAuthenticationFailed() from None


async def get_process_worker(
    request: Request, state: State, tx: Tx, request_id: RequestId
) -> WorkerClaims:
    """A worker process holding a valid, recorded, unrevoked WORKER credential."""
    return await authenticate_worker_bearer(
        request, state, tx, request_id, kind=CredentialKind.WORKER
    )


ProcessWorker = Annotated[WorkerClaims, Depends(get_process_worker)]


async def get_dispatch_services(state: State) -> DispatchServices:
    """LiveKit (the control plane's key: dispatch needs room admin), the key ring and the
    agent name workers register under."""
    return DispatchServices(
        livekit=state.livekit, keys=state.keys, agent_name=state.settings.agents.agent_name
    )


Dispatch = Annotated[DispatchServices, Depends(get_dispatch_services)]
