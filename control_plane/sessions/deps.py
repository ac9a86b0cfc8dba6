"""Session dependencies: a rate-limited caller and the services minting needs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.deps import RequestId, State, Tx, request_id_of, state_of
from control_plane.identity.deps import CurrentPrincipal, authenticate
from control_plane.identity.pseudonym import pseudonymize_address
from control_plane.identity.types import Principal
from control_plane.risk.anomaly import mfa_login_time, risk_score
from control_plane.risk.deps import ClientAddress, address_of
from control_plane.risk.service import enforce_limit
from control_plane.sessions.revocation import RevocationServices
from control_plane.sessions.types import Caller, JoinServices
from control_plane.state import AppState
from control_plane.store.uow import unit_of_work


async def limited_caller(
    state: AppState, tx: AsyncSession, principal: Principal, *, address: str, request_id: str
) -> Caller:
    """The caller of a mint endpoint, after the per-subject and per-address limits (no
    statement runs unless a limit is hit: the mint reads the caller's risk itself)."""
    now = state.clock()
    risk = state.settings.risk
    await enforce_limit(
        tx,
        state.limiter,
        limit=risk.mint_limit_per_subject,
        scope="mint-subject",
        key=principal.subject_id,
        actor=principal.subject_id,
        request_id=request_id,
        now=now,
        audit_limit=risk.refusal_audit_limit,
    )
    await enforce_limit(
        tx,
        state.limiter,
        limit=risk.mint_limit_per_address,
        scope="mint-address",
        key=pseudonymize_address(state.keys.pseudonym_key, address),
        actor=principal.subject_id,
        request_id=request_id,
        now=now,
        audit_limit=risk.refusal_audit_limit,
    )
    return Caller(principal=principal, address=address, request_id=request_id)


async def get_limited_caller(
    state: State,
    tx: Tx,
    principal: CurrentPrincipal,
    address: ClientAddress,
    request_id: RequestId,
) -> Caller:
    """The caller of a mint endpoint, after the per-subject and per-address limits."""
    return await limited_caller(state, tx, principal, address=address, request_id=request_id)


LimitedCaller = Annotated[Caller, Depends(get_limited_caller)]


async def get_mint_caller(caller: LimitedCaller, state: State, tx: Tx) -> Caller:
    """A limited caller with its risk: step-up/lock anomalies of the last hour (one indexed
    read); the high-risk forbids then refuse media until the subject logs in again with
    MFA."""
    principal = caller.principal
    score = await risk_score(
        tx, subject_id=principal.subject_id, now=state.clock(), mfa_since=mfa_login_time(principal)
    )
    return replace(caller, risk_score=score)


MintCaller = Annotated[Caller, Depends(get_mint_caller)]


def join_services(state: AppState) -> JoinServices:
    """The current policy snapshot (fails closed with 503 when none is loaded) and LiveKit."""
    return JoinServices(
        policies=state.policies.current,
        livekit=state.livekit,
        livekit_settings=state.settings.livekit,
        token_key=state.token_key,
        token_settings=state.settings.tokens,
        high_risk_score=state.settings.risk.high_risk_score,
        risk=state.risk,
    )


async def get_join_services(state: State) -> JoinServices:
    """The current policy snapshot (fails closed with 503 when none is loaded) and LiveKit."""
    return join_services(state)


Services = Annotated[JoinServices, Depends(get_join_services)]


@dataclass(frozen=True)
class Refresh:
    """Everything a token refresh needs, resolved by one dependency."""

    caller: Caller
    services: JoinServices
    state: AppState


async def get_refresh(request: Request) -> Refresh:
    """The limited caller, services and state of ``POST /v1/sessions/{id}/token``.

    The same steps as ``MintCaller`` + ``Services`` + ``State``, called directly: FastAPI
    solves every parameter's sub-dependencies again each time one appears (cached values
    included), and on the refresh path that tree cost about a third of the CPU (measured).
    Authentication and the limits run in their own unit of work, which writes only when
    they refuse (the audit record of the refusal) and is over before the mint begins.
    """
    state = state_of(request)
    request_id = request_id_of(request)
    address = address_of(request, state)
    async with unit_of_work(state.engine) as tx:
        principal = await authenticate(request, state, tx, request_id=request_id, address=address)
        caller = await limited_caller(state, tx, principal, address=address, request_id=request_id)
    return Refresh(caller=caller, services=join_services(state), state=state)


RefreshCall = Annotated[Refresh, Depends(get_refresh)]


async def get_caller(
    principal: CurrentPrincipal, address: ClientAddress, request_id: RequestId
) -> Caller:
    """The verified caller of a revocation endpoint (no mint limits: revocation must work
    while a subject is being abused)."""
    return Caller(principal=principal, address=address, request_id=request_id)


ApiCaller = Annotated[Caller, Depends(get_caller)]


async def get_revocation_services(state: State) -> RevocationServices:
    """The current policy snapshot (503 when none is loaded), the re-kick window, and the
    wake-up of the remediation executor."""
    return RevocationServices(
        policies=state.policies.current,
        rekick=timedelta(seconds=state.settings.webhooks.rekick_seconds),
        wake=state.jobs.wake,
    )


Revocation = Annotated[RevocationServices, Depends(get_revocation_services)]
