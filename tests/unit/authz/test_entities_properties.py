"""Properties of the Cedar entity builder on arbitrary ids and facts (Hypothesis): it never
raises, ids pass through exactly (structured uids: no id can inject into Cedar), the slice
is self-contained JSON, and the real engine decides on it, failing closed (issue 13)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from control_plane.authz.engine import PolicySnapshot, load_snapshot
from control_plane.authz.entities import (
    build_cedar_request,
    build_entities,
    principal_uid,
    resource_uid,
)
from control_plane.authz.service import decide
from control_plane.authz.types import (
    Action,
    AgentId,
    AgentPrincipal,
    AuthzRequest,
    PlatformResource,
    Principal,
    PrincipalRef,
    RequestContext,
    Resource,
    SessionId,
    SessionResource,
    SubjectResource,
    TenantId,
    TenantResource,
)
from control_plane.identity.types import SubjectId
from tests.support.properties import PROPERTY

from .factories import POLICY_DIR

# Ids as an attacker would pick them: quotes, "::", newlines, Cedar syntax, anything.
_IDS = st.text(max_size=40) | st.sampled_from(['"', '::"x"', 'User::"admin"', "\n", "*"])
_SETS = st.frozensets(_IDS, max_size=5)

PRINCIPALS: st.SearchStrategy[Principal] = st.builds(
    PrincipalRef,
    subject_id=_IDS.map(SubjectId),
    tenant=_IDS.map(TenantId),
    groups=_SETS,
    email_verified=st.booleans(),
    locked=st.booleans(),
    amr=_SETS,
    acr=_IDS,
) | st.builds(
    AgentPrincipal,
    agent_id=_IDS.map(AgentId),
    tenant=_IDS.map(TenantId),
    session_id=st.none() | _IDS.map(SessionId),
    locked=st.booleans(),
)
RESOURCES: st.SearchStrategy[Resource] = (
    st.builds(
        SessionResource,
        session_id=_IDS.map(SessionId),
        tenant=_IDS.map(TenantId),
        owner=_IDS.map(SubjectId),
        participants=st.frozensets(_IDS.map(SubjectId), max_size=5),
        allow_video=st.booleans(),
        allow_screen=st.booleans(),
        ended=st.booleans(),
    )
    | st.builds(TenantResource, tenant=_IDS.map(TenantId))
    | st.builds(SubjectResource, subject_id=_IDS.map(SubjectId), tenant=_IDS.map(TenantId))
    | st.just(PlatformResource())
)
CONTEXTS = st.builds(
    RequestContext,
    risk_score=st.integers(min_value=0, max_value=100),
    requested_ttl_s=st.integers(min_value=0, max_value=86_400),
)
# Loaded once at import: the real, STRICT-validated policy set (no clock involved).
SNAPSHOT: PolicySnapshot = load_snapshot(POLICY_DIR)


@PROPERTY
@given(principal=PRINCIPALS, resource=RESOURCES)
def test_the_entity_slice_is_self_contained_json_with_ids_passed_through(
    principal: Principal, resource: Resource
) -> None:
    entities = build_entities(principal, resource)

    assert json.loads(json.dumps(entities)) == entities
    uids = [e["uid"] for e in entities]
    assert uids[0] == principal_uid(principal)
    assert uids[-1] == resource_uid(resource)
    # Every parent the slice names is in the slice (groups come with their principal).
    plain: list[dict[str, list[dict[str, str]]]] = json.loads(json.dumps(entities))
    parents = [p for e in plain for p in e["parents"]]
    assert all(p in uids for p in parents)
    if isinstance(principal, PrincipalRef):
        assert sorted(p["id"] for p in parents) == sorted(principal.groups)
        assert principal_uid(principal) == {"type": "User", "id": principal.subject_id}


@PROPERTY
@given(
    principal=PRINCIPALS,
    resource=RESOURCES,
    action=st.sampled_from(list(Action)),
    context=CONTEXTS,
)
def test_the_real_engine_decides_on_any_slice_and_fails_closed(
    principal: Principal, resource: Resource, action: Action, context: RequestContext
) -> None:
    request = AuthzRequest(principal=principal, action=action, resource=resource, context=context)
    assert json.loads(json.dumps(build_cedar_request(request)))["action"]["id"] == action

    decision = decide(SNAPSHOT, request)

    # The only errors are the schema refusing a principal/resource type for the action
    # (e.g. an Agent asking to join): never an id or an attribute the engine cannot read.
    assert all("is not valid for `Action::" in error for error in decision.errors)
    assert not (decision.allowed and decision.errors)  # an error always denies
    assert not decision.allowed or decision.determining_policies
    if principal.locked:
        assert not decision.allowed  # a locked principal is denied whatever it asks
