"""Typed factories for authz unit tests and the location of the REAL policy directory."""

from __future__ import annotations

from pathlib import Path

from control_plane.authz.types import (
    Action,
    AuthzRequest,
    PrincipalRef,
    RequestContext,
    Resource,
    SessionId,
    SessionResource,
    TenantId,
)
from control_plane.identity.types import SubjectId

POLICY_DIR = Path(__file__).resolve().parents[3] / "policies"


def make_principal(
    subject: str = "alice",
    *,
    tenant: str = "acme",
    groups: frozenset[str] = frozenset({"member"}),
    email_verified: bool = True,
    locked: bool = False,
    amr: frozenset[str] = frozenset({"pwd"}),
) -> PrincipalRef:
    """A verified, unlocked member of tenant `acme` unless told otherwise."""
    return PrincipalRef(
        subject_id=SubjectId(subject),
        tenant=TenantId(tenant),
        groups=groups,
        email_verified=email_verified,
        locked=locked,
        amr=amr,
    )


def make_session(
    session: str = "room-1",
    *,
    tenant: str = "acme",
    owner: str = "alice",
    participants: frozenset[str] = frozenset({"bob"}),
    allow_video: bool = False,
    ended: bool = False,
) -> SessionResource:
    """A live session of tenant `acme` owned by alice with bob invited unless told otherwise."""
    return SessionResource(
        session_id=SessionId(session),
        tenant=TenantId(tenant),
        owner=SubjectId(owner),
        participants=frozenset(SubjectId(p) for p in participants),
        allow_video=allow_video,
        ended=ended,
    )


def make_request(
    *,
    principal: PrincipalRef | None = None,
    action: Action = Action.JOIN,
    resource: Resource | None = None,
    risk_score: int = 0,
    requested_ttl_s: int = 300,
) -> AuthzRequest:
    """The owner's join request for a low-risk five-minute token unless told otherwise."""
    return AuthzRequest(
        principal=principal or make_principal(),
        action=action,
        resource=resource or make_session(),
        context=RequestContext(risk_score=risk_score, requested_ttl_s=requested_ttl_s),
    )
