"""Pure entity/context building: exactly what Cedar is given, nothing more."""

from __future__ import annotations

from control_plane.authz.entities import (
    build_cedar_request,
    build_context,
    build_entities,
    mask_request,
    principal_uid,
    resource_uid,
)
from control_plane.authz.types import (
    Action,
    AgentId,
    AgentPrincipal,
    AuthzRequest,
    PlatformResource,
    RequestContext,
    RiskLevel,
    SubjectResource,
    TenantId,
    TenantResource,
)
from control_plane.identity.types import SubjectId

from .factories import make_principal, make_session


def test_user_entity_carries_groups_as_parents_and_sorted_sets() -> None:
    principal = make_principal(groups=frozenset({"member", "admin"}), amr=frozenset({"pwd", "mfa"}))
    user, *groups = build_entities(principal, make_session())[:-1]
    assert user["parents"] == [{"type": "Group", "id": "admin"}, {"type": "Group", "id": "member"}]
    assert user["attrs"] == {
        "tenant": {"__entity": {"type": "Tenant", "id": "acme"}},
        "email_verified": True,
        "locked": False,
        "amr": ["mfa", "pwd"],
        "acr": "",
    }
    assert [g["uid"] for g in groups] == user["parents"]


def test_session_entity_references_users_by_pseudonym() -> None:
    session = build_entities(
        make_principal(), make_session(participants=frozenset({"zed", "bob"}))
    )[-1]
    assert session["uid"] == {"type": "Session", "id": "room-1"}
    assert session["attrs"] == {
        "tenant": {"__entity": {"type": "Tenant", "id": "acme"}},
        "owner": {"__entity": {"type": "User", "id": "alice"}},
        "participants": [
            {"__entity": {"type": "User", "id": "bob"}},
            {"__entity": {"type": "User", "id": "zed"}},
        ],
        "allow_video": False,
        "allow_screen": False,
        "ended": False,
    }


def test_idle_agent_has_no_session_attribute() -> None:
    idle = AgentPrincipal(AgentId("a1"), TenantId("acme"))
    (entity, _session) = build_entities(idle, make_session())
    assert entity["attrs"] == {
        "tenant": {"__entity": {"type": "Tenant", "id": "acme"}},
        "locked": False,
    }
    assert principal_uid(idle) == {"type": "Agent", "id": "a1"}


def test_resource_uids_for_each_resource_type() -> None:
    assert resource_uid(TenantResource(TenantId("acme"))) == {"type": "Tenant", "id": "acme"}
    assert resource_uid(SubjectResource(SubjectId("s"), TenantId("acme"))) == {
        "type": "Subject",
        "id": "s",
    }
    assert resource_uid(PlatformResource()) == {"type": "Platform", "id": "control-plane"}


def test_context_and_request_use_structured_uids() -> None:
    context = RequestContext(risk_score=42, risk_level=RiskLevel.MEDIUM, requested_ttl_s=60)
    assert build_context(context) == {
        "risk_score": 42,
        "risk_level": "medium",
        "requested_ttl_s": 60,
    }
    odd = make_principal('we"ird\nid')
    request = build_cedar_request(AuthzRequest(odd, Action.JOIN, make_session(), context))
    assert request["principal"] == {"type": "User", "id": 'we"ird\nid'}
    assert request["action"] == {"type": "Action", "id": "join"}


def test_mask_request_reduces_participants_to_a_count() -> None:
    masked = mask_request(
        AuthzRequest(
            make_principal(), Action.JOIN, make_session(participants=frozenset({"b", "c"}))
        )
    )
    resource = masked["resource"]
    assert isinstance(resource, dict)
    assert resource["participant_count"] == 2
    assert "participants" not in resource
