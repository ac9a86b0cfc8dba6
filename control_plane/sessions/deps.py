"""Session dependencies: a rate-limited caller and the services minting needs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Annotated

from fastapi import Depends

from control_plane.deps import RequestId, State, Tx
from control_plane.identity.deps import CurrentPrincipal
from control_plane.identity.pseudonym import pseudonymize_address
from control_plane.risk.anomaly import mfa_login_time, risk_score
from control_plane.risk.deps import ClientAddress
from control_plane.risk.service import enforce_limit
from control_plane.sessions.revocation import RevocationServices
from control_plane.sessions.types import Caller, JoinServices


async def get_limited_caller(
    state: State,
    tx: Tx,
    principal: CurrentPrincipal,
    address: ClientAddress,
    request_id: RequestId,
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
    )
    return Caller(principal=principal, address=address, request_id=request_id)


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


async def get_join_services(state: State) -> JoinServices:
    """The current policy snapshot (fails closed with 503 when none is loaded) and LiveKit."""
    return JoinServices(
        policies=state.policies.current,
        livekit=state.livekit,
        livekit_settings=state.settings.livekit,
        token_settings=state.settings.tokens,
        high_risk_score=state.settings.risk.high_risk_score,
        risk=state.risk,
    )


Services = Annotated[JoinServices, Depends(get_join_services)]


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
