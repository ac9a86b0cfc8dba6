"""Risk endpoints for security teams: the anomalies detected."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from control_plane.deps import RequestId, State, Tx
from control_plane.identity.deps import CurrentPrincipal
from control_plane.risk.anomaly import search_anomalies
from control_plane.risk.schemas import AnomalyOut, AnomalyPage, AnomalyQuery

router = APIRouter(prefix="/v1/anomalies", tags=["risk"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not authenticated"},
    403: {"description": "denied by policy (read_audit)"},
    422: {"description": "invalid filter"},
    503: {"description": "policies or store unavailable"},
}


@router.get(
    "",
    response_model=AnomalyPage,
    responses=_ERRORS,
    summary="Anomalies you may read (your tenant's, or platform-wide ones), newest first",
)
async def list_anomalies(
    query: Annotated[AnomalyQuery, Query()],
    principal: CurrentPrincipal,
    state: State,
    tx: Tx,
    request_id: RequestId,
) -> AnomalyPage:
    rows = await search_anomalies(
        tx,
        principal=principal,
        snapshot=state.policies.current,
        request_id=request_id,
        now=state.clock(),
        limit=query.limit,
        before=query.before,
        since=query.since,
        rule=query.rule.value if query.rule else None,
        subject_id=query.subject,
    )
    items = [AnomalyOut.model_validate(r) for r in rows]
    full = len(items) == query.limit
    return AnomalyPage(items=items, next_before=items[-1].created_at if full else None)
