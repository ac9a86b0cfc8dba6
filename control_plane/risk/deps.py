"""Risk dependencies: the client's address and rate limits keyed on it or on the subject."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from control_plane.deps import RequestId, State, Tx
from control_plane.identity.pseudonym import pseudonymize_address
from control_plane.risk.address import FORWARDED_FOR, client_address, forwarded_for
from control_plane.risk.service import enforce_limit
from control_plane.state import AppState


def address_of(request: Request, state: AppState) -> str:
    """The client address, believing X-Forwarded-For only from trusted proxies."""
    peer = request.client.host if request.client else None
    hops = forwarded_for(request.headers.getlist(FORWARDED_FOR))
    return client_address(peer, hops, state.trusted_proxies)


async def get_client_address(request: Request, state: State) -> str:
    """The client address, believing X-Forwarded-For only from trusted proxies."""
    return address_of(request, state)


ClientAddress = Annotated[str, Depends(get_client_address)]


async def limit_auth(state: State, tx: Tx, address: ClientAddress, request_id: RequestId) -> None:
    """Per-address limit on the login endpoints (ASVS 2.4.1)."""
    await enforce_limit(
        tx,
        state.limiter,
        limit=state.settings.risk.auth_limit,
        scope="auth-address",
        key=pseudonymize_address(state.keys.pseudonym_key, address),
        actor=None,
        request_id=request_id,
        now=state.clock(),
        audit_limit=state.settings.risk.refusal_audit_limit,
    )


AuthRateLimit = Depends(limit_auth)
