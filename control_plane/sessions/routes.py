"""Session endpoints: create a session, mint a join token, invite a participant."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status

from control_plane.agents.deps import Dispatch
from control_plane.deps import State, Tx
from control_plane.sessions import agent, revocation, service
from control_plane.sessions.deps import ApiCaller, MintCaller, RefreshCall, Revocation, Services
from control_plane.sessions.schemas import (
    CreateSessionRequest,
    GrantsOut,
    InviteResponse,
    JoinResponse,
    SessionAgentOut,
    SessionCreatedResponse,
    SessionEndedOut,
    SubjectSessionsEndedOut,
    SubjectStatusOut,
    SubjectStatusRequest,
    TokenRequest,
)
from control_plane.sessions.types import JoinGrant, SessionOptions

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not authenticated"},
    403: {"description": "denied by policy"},
    422: {"description": "invalid request"},
    409: {"description": "the caller's data is being erased"},
    429: {"description": "rate limited"},
    503: {"description": "a dependency (policies, LiveKit, store) is unavailable"},
}


def _join_response(grant: JoinGrant, livekit_url: str) -> JoinResponse:
    token = grant.token
    return JoinResponse(
        session_id=grant.session_id,
        room=grant.room,
        livekit_url=livekit_url,
        token=token.token,
        token_id=token.token_id,
        identity=token.identity,
        expires_at=token.expires_at,
        grants=GrantsOut.model_validate(token.grants.as_dict()),
        decision_id=grant.decision_id,
        policy_version=grant.policy_version,
    )


def _ttl(seconds: int | None) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds is not None else None


def _created_response(grant: agent.SessionGrant, livekit_url: str) -> SessionCreatedResponse:
    join = _join_response(grant.join, livekit_url)
    outcome = grant.agent
    dispatched = outcome.agent if outcome is not None else None
    return SessionCreatedResponse(
        **join.model_dump(),
        agent=SessionAgentOut(
            dispatch_id=dispatched.dispatch_id,
            agent_name=dispatched.agent_name,
            decision_id=dispatched.decision_id,
        )
        if dispatched is not None
        else None,
        agent_reason=outcome.reason if outcome is not None else None,
        agent_decision_id=outcome.decision_id if outcome is not None else None,
    )


@router.post(
    "",
    response_model=SessionCreatedResponse,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
    summary="Create a voice session (with a voice agent if asked and allowed) and get the "
    "owner's join token",
)
async def create_session(
    body: CreateSessionRequest,
    caller: MintCaller,
    tx: Tx,
    state: State,
    services: Services,
    dispatch: Dispatch,
) -> SessionCreatedResponse:
    grant = await agent.create_session_with_agent(
        tx,
        caller=caller,
        options=SessionOptions(
            ttl=_ttl(body.ttl_seconds),
            allow_video=body.allow_video,
            no_storage=body.no_storage,
            with_agent=body.with_agent,
        ),
        services=services,
        dispatch=dispatch,
        now=state.clock(),
    )
    return _created_response(grant, state.settings.livekit.ws_url)


@router.post(
    "/{session_id}/token",
    response_model=JoinResponse,
    responses={**_ERRORS, 404: {"description": "no such session"}, 409: {"description": "ended"}},
    summary="Mint a join token for an existing session",
)
async def mint_token(session_id: str, body: TokenRequest, refresh: RefreshCall) -> JoinResponse:
    state = refresh.state
    grant = await service.mint_session_token(
        state.engine,
        caller=refresh.caller,
        session_id=session_id,
        invite_code=body.invite,
        ttl=_ttl(body.ttl_seconds),
        services=refresh.services,
        now=state.clock(),
        minter=state.minter,
    )
    return _join_response(grant, state.settings.livekit.ws_url)


@router.post(
    "/{session_id}/invites",
    response_model=InviteResponse,
    status_code=status.HTTP_201_CREATED,
    responses={**_ERRORS, 404: {"description": "no such session"}},
    summary="Create a single-use invite into a session you own",
)
async def create_invite(
    session_id: str, caller: MintCaller, tx: Tx, state: State, services: Services
) -> InviteResponse:
    code, expires = await service.create_invite(
        tx, caller=caller, session_id=session_id, services=services, now=state.clock()
    )
    return InviteResponse(invite=code, expires_at=expires)


@router.post(
    "/{session_id}/end",
    response_model=SessionEndedOut,
    responses={**_ERRORS, 404: {"description": "no such session"}},
    summary="End a session: room deleted, participants removed, dispatches deleted",
)
async def end_session(
    session_id: str, caller: ApiCaller, tx: Tx, state: State, services: Revocation
) -> SessionEndedOut:
    session = await revocation.end_session(
        tx, caller=caller, session_id=session_id, services=services, now=state.clock()
    )
    return SessionEndedOut(
        session_id=session.id,
        status=session.status,
        ended_at=session.ended_at,
        end_reason=session.end_reason,
    )


def _status_out(change: revocation.SubjectChange) -> SubjectStatusOut:
    return SubjectStatusOut(
        subject_id=change.subject_id,
        status=change.status,
        rooms=change.rooms,
        browser_sessions_revoked=change.browser_sessions_revoked,
    )


subjects_router = APIRouter(prefix="/v1/subjects", tags=["subjects"])
_SUBJECT_ERRORS = {**_ERRORS, 404: {"description": "no such subject"}}


@subjects_router.post(
    "/{subject_id}/lock",
    response_model=SubjectStatusOut,
    responses={**_SUBJECT_ERRORS, 409: {"description": "your own subject"}},
    summary="Lock a subject: no new tokens, browser sessions revoked, removed from every room",
)
async def lock_subject(
    subject_id: str,
    body: SubjectStatusRequest,
    caller: ApiCaller,
    tx: Tx,
    state: State,
    services: Revocation,
) -> SubjectStatusOut:
    change = await revocation.lock_subject(
        tx,
        caller=caller,
        subject_id=subject_id,
        reason=body.reason,
        services=services,
        now=state.clock(),
    )
    return _status_out(change)


@subjects_router.post(
    "/{subject_id}/unlock",
    response_model=SubjectStatusOut,
    responses={**_SUBJECT_ERRORS, 409: {"description": "subject is being erased"}},
    summary="Unlock a subject (tokens minted before the lock stay refused for a while)",
)
async def unlock_subject(
    subject_id: str,
    body: SubjectStatusRequest,
    caller: ApiCaller,
    tx: Tx,
    state: State,
    services: Revocation,
) -> SubjectStatusOut:
    change = await revocation.unlock_subject(
        tx,
        caller=caller,
        subject_id=subject_id,
        reason=body.reason,
        services=services,
        now=state.clock(),
    )
    return _status_out(change)


@subjects_router.post(
    "/{subject_id}/sessions/end",
    response_model=SubjectSessionsEndedOut,
    responses=_SUBJECT_ERRORS,
    summary="End every session of a subject and remove it from every room",
)
async def end_subject_sessions(
    subject_id: str, caller: ApiCaller, tx: Tx, state: State, services: Revocation
) -> SubjectSessionsEndedOut:
    ended = await revocation.end_subject_sessions(
        tx, caller=caller, subject_id=subject_id, services=services, now=state.clock()
    )
    return SubjectSessionsEndedOut(
        subject_id=ended.subject_id, ended=list(ended.ended), rooms=ended.rooms
    )
