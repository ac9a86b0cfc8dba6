"""Pure translation of authz value types into Cedar JSON (entities, request, context).

Value in, value out: no I/O, no engine calls. The same functions produce the masked input
recorded with each decision, so what the audit log shows is what Cedar was given.
"""

from __future__ import annotations

from collections.abc import Iterable

from control_plane.authz.types import (
    PLATFORM_ID,
    AgentPrincipal,
    AuthzRequest,
    JsonValue,
    Principal,
    RequestContext,
    Resource,
    SessionResource,
    SubjectResource,
    TenantResource,
)

EntityUid = dict[str, str]
CedarEntity = dict[str, JsonValue]


def _uid(entity_type: str, entity_id: str) -> EntityUid:
    return {"type": entity_type, "id": entity_id}


def _ref(entity_type: str, entity_id: str) -> JsonValue:
    return {"__entity": {"type": entity_type, "id": entity_id}}


def _strings(values: Iterable[str]) -> list[JsonValue]:
    return [v for v in sorted(values)]


def _group(name: str) -> CedarEntity:
    return {"uid": dict(_uid("Group", name)), "attrs": {}, "parents": []}


def principal_uid(principal: Principal) -> EntityUid:
    """Return the Cedar uid of a principal (User by subject pseudonym, or Agent)."""
    if isinstance(principal, AgentPrincipal):
        return _uid("Agent", principal.agent_id)
    return _uid("User", principal.subject_id)


def resource_uid(resource: Resource) -> EntityUid:
    """Return the Cedar uid of a resource."""
    if isinstance(resource, SessionResource):
        return _uid("Session", resource.session_id)
    if isinstance(resource, TenantResource):
        return _uid("Tenant", resource.tenant)
    if isinstance(resource, SubjectResource):
        return _uid("Subject", resource.subject_id)
    return _uid("Platform", PLATFORM_ID)


def _principal_entities(principal: Principal) -> list[CedarEntity]:
    if isinstance(principal, AgentPrincipal):
        attrs: dict[str, JsonValue] = {
            "tenant": _ref("Tenant", principal.tenant),
            "locked": principal.locked,
        }
        if principal.session_id is not None:
            attrs["session"] = _ref("Session", principal.session_id)
        return [{"uid": dict(principal_uid(principal)), "attrs": attrs, "parents": []}]
    groups = sorted(principal.groups)
    user: CedarEntity = {
        "uid": dict(principal_uid(principal)),
        "attrs": {
            "tenant": _ref("Tenant", principal.tenant),
            "email_verified": principal.email_verified,
            "locked": principal.locked,
            "amr": _strings(principal.amr),
            "acr": principal.acr,
        },
        "parents": [dict(_uid("Group", g)) for g in groups],
    }
    return [user, *(_group(g) for g in groups)]


def _resource_entity(resource: Resource) -> CedarEntity:
    uid: JsonValue = dict(resource_uid(resource))
    attrs: dict[str, JsonValue] = {}
    if isinstance(resource, SessionResource):
        attrs = {
            "tenant": _ref("Tenant", resource.tenant),
            "owner": _ref("User", resource.owner),
            "participants": [_ref("User", p) for p in sorted(resource.participants)],
            "allow_video": resource.allow_video,
            "allow_screen": resource.allow_screen,
            "ended": resource.ended,
        }
    elif isinstance(resource, SubjectResource):
        attrs = {
            "tenant": _ref("Tenant", resource.tenant),
            "subject": _ref("User", resource.subject_id),
        }
    return {"uid": uid, "attrs": attrs, "parents": []}


def build_entities(principal: Principal, resource: Resource) -> list[CedarEntity]:
    """Return the complete entity slice Cedar needs for this principal and resource."""
    return [*_principal_entities(principal), _resource_entity(resource)]


def build_context(context: RequestContext) -> dict[str, JsonValue]:
    """Return the Cedar context record (shape `RequestContext` in the schema)."""
    return {
        "risk_score": context.risk_score,
        "risk_level": str(context.risk_level),
        "requested_ttl_s": context.requested_ttl_s,
    }


def build_cedar_request(request: AuthzRequest) -> dict[str, JsonValue]:
    """Return the cedarpy request dict (structured uids, so any id string is safe)."""
    return {
        "principal": dict(principal_uid(request.principal)),
        "action": dict(_uid("Action", str(request.action))),
        "resource": dict(resource_uid(request.resource)),
        "context": build_context(request.context),
    }


def _mask_principal(principal: Principal) -> dict[str, JsonValue]:
    if isinstance(principal, AgentPrincipal):
        return {
            "type": "Agent",
            "id": principal.agent_id,
            "tenant": principal.tenant,
            "session": principal.session_id,
            "locked": principal.locked,
        }
    return {
        "type": "User",
        "id": principal.subject_id,
        "tenant": principal.tenant,
        "groups": _strings(principal.groups),
        "email_verified": principal.email_verified,
        "locked": principal.locked,
        "amr": _strings(principal.amr),
        "acr": principal.acr,
    }


def _mask_resource(resource: Resource) -> dict[str, JsonValue]:
    base: dict[str, JsonValue] = {**resource_uid(resource)}
    if isinstance(resource, SessionResource):
        base.update(
            tenant=resource.tenant,
            owner=resource.owner,
            participant_count=len(resource.participants),
            allow_video=resource.allow_video,
            allow_screen=resource.allow_screen,
            ended=resource.ended,
        )
    elif isinstance(resource, SubjectResource):
        base["tenant"] = resource.tenant
    return base


def mask_request(request: AuthzRequest) -> dict[str, JsonValue]:
    """Return the request as an audit-safe record: pseudonymous ids, flags and numbers only.

    Participants are reduced to a count: the record names who asked, not everyone invited.
    """
    return {
        "principal": _mask_principal(request.principal),
        "action": str(request.action),
        "resource": _mask_resource(request.resource),
        "context": build_context(request.context),
    }
