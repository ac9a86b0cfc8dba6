"""Policy endpoints for security teams: inspect, explain (what-if) and reload."""

from __future__ import annotations

from fastapi import APIRouter

from control_plane.authz import admin
from control_plane.authz.cases import parse_request
from control_plane.authz.schemas import DecideRequest, DecideResponse, PolicyOut, PolicySetOut
from control_plane.authz.types import Action, TenantId, TenantResource
from control_plane.deps import RequestId, State, Tx
from control_plane.identity.deps import CurrentPrincipal

router = APIRouter(prefix="/v1/policies", tags=["policies"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not authenticated"},
    403: {"description": "denied by policy"},
    422: {"description": "invalid request or invalid policy set"},
}


def _policy_out(info: object) -> PolicyOut:
    return PolicyOut.model_validate(info, from_attributes=True)


@router.get("", response_model=PolicySetOut, responses=_ERRORS, summary="The active policy set")
async def current_policies(
    principal: CurrentPrincipal, state: State, tx: Tx, request_id: RequestId
) -> PolicySetOut:
    snapshot = state.policies.current
    await admin.authorize(
        tx,
        principal=principal,
        action=Action.EXPLAIN_POLICIES,
        resource=TenantResource(TenantId(principal.tenant)),
        snapshot=snapshot,
        request_id=request_id,
        now=state.clock(),
    )
    return PolicySetOut(
        version=snapshot.version, policies=[_policy_out(p) for p in snapshot.policies]
    )


@router.post(
    "/decide",
    response_model=DecideResponse,
    responses=_ERRORS,
    summary="What-if: decide a hypothetical request and explain the decision",
)
async def decide_hypothetical(
    body: DecideRequest, principal: CurrentPrincipal, state: State, tx: Tx, request_id: RequestId
) -> DecideResponse:
    question = parse_request(body.model_dump())
    explanation = await admin.explain_for(
        tx,
        principal=principal,
        question=question,
        snapshot=state.policies.current,
        request_id=request_id,
        now=state.clock(),
    )
    decision = explanation.decision
    return DecideResponse(
        decision_id=decision.id,
        action=decision.action.value,
        allowed=decision.allowed,
        determining_policies=[_policy_out(p) for p in explanation.policies],
        reasons=list(explanation.reasons),
        errors=list(decision.errors),
        policy_version=decision.policy_version,
    )


@router.post("/reload", response_model=PolicySetOut, responses=_ERRORS, summary="Reload policies")
async def reload(
    principal: CurrentPrincipal, state: State, tx: Tx, request_id: RequestId
) -> PolicySetOut:
    snapshot = await admin.reload_as(
        tx, principal=principal, store=state.policies, request_id=request_id, now=state.clock()
    )
    return PolicySetOut(
        version=snapshot.version, policies=[_policy_out(p) for p in snapshot.policies]
    )
