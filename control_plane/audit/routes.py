"""Audit endpoints for security teams: search, integrity report, OCSF export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from control_plane import __version__
from control_plane.audit import access
from control_plane.audit.export import stream_ocsf_export
from control_plane.audit.schemas import (
    AuditPage,
    AuditQuery,
    AuditRecordOut,
    ChainBreakOut,
    CheckpointProblemOut,
    ExportQuery,
    VerifyOut,
    WitnessProblemOut,
)
from control_plane.authz.types import Action
from control_plane.deps import RequestId, State, Tx
from control_plane.identity.deps import CurrentPrincipal, DetachedPrincipal

router = APIRouter(prefix="/v1/audit", tags=["audit"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not authenticated"},
    403: {"description": "denied by policy (read_audit / export_audit)"},
    422: {"description": "invalid filter"},
    503: {"description": "policies or store unavailable"},
}


@router.get(
    "",
    response_model=AuditPage,
    responses=_ERRORS,
    summary="Search the audit records you may read, in chain order after a cursor",
)
async def search(
    query: Annotated[AuditQuery, Query()],
    principal: CurrentPrincipal,
    state: State,
    tx: Tx,
    request_id: RequestId,
) -> AuditPage:
    records = await access.search_audit(
        tx,
        principal=principal,
        snapshot=state.policies.current,
        request_id=request_id,
        now=state.clock(),
        after_seq=query.after_seq,
        limit=query.limit,
        actor=query.actor,
        event_type=query.event_type.value if query.event_type else None,
        since=query.since,
        until=query.until,
    )
    items = [AuditRecordOut.model_validate(r) for r in records]
    full = len(items) == query.limit
    return AuditPage(items=items, next_after_seq=items[-1].seq if full else None)


@router.get(
    "/verify",
    response_model=VerifyOut,
    responses={**_ERRORS, 429: {"description": "rate limited"}},
    summary="Verify the whole chain and its signed checkpoints",
)
async def verify(principal: DetachedPrincipal, state: State, request_id: RequestId) -> VerifyOut:
    # No request transaction: the walk runs in short ones of its own, giving way to
    # webhook deliveries between them (see audit.verify.verify_audit_paced).
    report = await access.verify_as(
        state.engine,
        principal=principal,
        snapshot=state.policies.current,
        public_keys=state.keys.audit_verification_keys,
        witness_file=state.settings.witness_file,
        limiter=state.limiter,
        limit=state.settings.audit.verify_limit,
        audit_limit=state.settings.risk.refusal_audit_limit,
        request_id=request_id,
        now=state.clock(),
        pace=state.livekit_work.intake.give_way,
    )
    return VerifyOut(
        intact=report.is_intact,
        records_checked=report.records_checked,
        checkpoints_checked=report.checkpoints_checked,
        first_seq=report.first_seq,
        head_seq=report.head_seq,
        anchor=report.anchor,
        chain_break=(
            ChainBreakOut(seq=report.chain_break.seq, reason=report.chain_break.reason)
            if report.chain_break
            else None
        ),
        checkpoint_problem=(
            CheckpointProblemOut.model_validate(report.checkpoint_problem, from_attributes=True)
            if report.checkpoint_problem
            else None
        ),
        witnessed_checked=report.witnessed_checked,
        witness_problem=(
            WitnessProblemOut.model_validate(report.witness_problem, from_attributes=True)
            if report.witness_problem
            else None
        ),
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        **_ERRORS,
        200: {
            "description": "OCSF JSON lines, ending with an end marker (class_uid 0)",
            "content": {"application/x-ndjson": {}},
        },
    },
    summary="Export the records you may read as OCSF JSON lines, resumable from a cursor",
)
async def export(
    query: Annotated[ExportQuery, Query()],
    principal: CurrentPrincipal,
    state: State,
    tx: Tx,
    request_id: RequestId,
) -> StreamingResponse:
    # The decision is recorded and committed with this request's unit of work; the lines
    # stream afterwards, each batch in its own short read transaction.
    scope = await access.authorize_audit_scope(
        tx,
        principal=principal,
        action=Action.EXPORT_AUDIT,
        snapshot=state.policies.current,
        request_id=request_id,
        now=state.clock(),
    )
    lines = stream_ocsf_export(
        state.engine,
        scope=scope,
        after_seq=query.after,
        limit=query.limit,
        product_version=__version__,
        clock=state.clock,
    )
    return StreamingResponse(
        lines, media_type="application/x-ndjson", headers={"Cache-Control": "no-store"}
    )
