"""Dispatching the voice agent into an authorised session.

The caller has already obtained an allowing ``dispatch_agent`` decision. Here the agent
gets exactly one thing to act with: a SESSION credential bound to this session, valid no
longer than the session, recorded for revocation. It travels in the dispatch metadata
(LiveKit shows metadata to room-admin key holders only: the control plane and the agents'
key), together with the one participant the agent may serve. The dispatch row written
here is what lets join auditing explain the agent's join.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.agents.errors import AgentDispatchFailed
from control_plane.agents.session_credentials import issue_session_credential_claims
from control_plane.agents.tables import AgentDispatch, WorkerCredential
from control_plane.audit.service import append_audit
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.crypto.keyring import KeyRing
from control_plane.livekit.client import LiveKitRooms
from control_plane.livekit.errors import LiveKitNotFound, LiveKitUnavailable

MIN_CREDENTIAL_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class DispatchServices:
    """What a dispatch needs besides the transaction."""

    livekit: LiveKitRooms
    keys: KeyRing
    agent_name: str


@dataclass(frozen=True)
class DispatchRequest:
    session_id: str
    room: str
    tenant: str
    participant_identity: str
    retention_class: str
    decision_id: str
    policy_version: str
    session_expires_at: datetime
    actor: str
    request_id: str | None


@dataclass(frozen=True)
class DispatchedAgent:
    dispatch_id: str
    agent_name: str
    agent_ref: str
    decision_id: str


def dispatch_metadata(
    request: DispatchRequest, *, credential: str
) -> str:  # the worker parses this with agents/worker/metadata.py
    """The job metadata: which session, whom to serve, how to report (pure)."""
    return json.dumps(
        {
            "session_id": request.session_id,
            "decision_id": request.decision_id,
            "participant_identity": request.participant_identity,
            "retention_class": request.retention_class,
            "credential": credential,
        },
        separators=(",", ":"),
    )


async def dispatch_agent(
    tx: AsyncSession, *, services: DispatchServices, request: DispatchRequest, now: datetime
) -> DispatchedAgent:
    """Issue the session credential, create the LiveKit dispatch, record and audit it.

    Raises ``AgentDispatchFailed`` (the credential is revoked at once) when LiveKit does
    not create the dispatch.
    """
    agent_ref = f"agt_{secrets.token_hex(8)}"
    ttl = max(MIN_CREDENTIAL_TTL, request.session_expires_at - now)
    credential, claims = await issue_session_credential_claims(
        tx,
        keys=services.keys,
        session_id=request.session_id,
        dispatch_id=agent_ref,
        ttl=ttl,
        now=now,
    )
    try:
        dispatch_id = await services.livekit.create_dispatch(
            room=request.room,
            agent_name=services.agent_name,
            metadata=dispatch_metadata(request, credential=credential),
        )
    except (LiveKitUnavailable, LiveKitNotFound) as exc:
        await tx.exec(
            update(WorkerCredential)
            .where(col(WorkerCredential.jti) == claims.jti)
            .values(revoked_at=now)
        )
        await append_audit(
            tx,
            event=AuditEvent(
                type=AuditEventType.AGENT_DISPATCHED,
                outcome=Outcome.FAILURE,
                actor=request.actor,
                target=request.session_id,
                reason="agent dispatch failed at LiveKit; credential revoked",
                decision_id=request.decision_id,
                policy_version=request.policy_version,
                request_id=request.request_id,
                details={"agent_name": services.agent_name, "error_code": exc.instance_code},
                tenant=request.tenant,
            ),
            now=now,
        )
        raise AgentDispatchFailed() from exc
    tx.add(
        AgentDispatch(
            id=dispatch_id[:64],
            session_id=request.session_id,
            room_name=request.room,
            agent_name=services.agent_name,
            decision_id=request.decision_id,
            credential_jti=claims.jti,
            created_at=now,
        )
    )
    await tx.flush()
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.AGENT_DISPATCHED,
            outcome=Outcome.SUCCESS,
            actor=request.actor,
            target=request.session_id,
            reason="agent dispatched into the session",
            decision_id=request.decision_id,
            policy_version=request.policy_version,
            request_id=request.request_id,
            details={
                "dispatch_id": dispatch_id,
                "agent_name": services.agent_name,
                "agent": agent_ref,
                "credential_id": claims.jti,
                "credential_expires_at": claims.expires_at.isoformat(),
            },
            tenant=request.tenant,
        ),
        now=now,
    )
    return DispatchedAgent(
        dispatch_id=dispatch_id,
        agent_name=services.agent_name,
        agent_ref=agent_ref,
        decision_id=request.decision_id,
    )
