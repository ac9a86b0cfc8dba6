"""Privacy endpoints: transcript intake (workers), export and erasure (subjects), erasure
status (auditors), legal holds (admins) and the receipt public key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status

from control_plane.audit.chain import canonical_ts
from control_plane.audit.types import MAX_SEQ
from control_plane.crypto.keyring import public_key_id
from control_plane.deps import RequestId, State, Tx
from control_plane.identity.deps import CurrentPrincipal
from control_plane.privacy import service
from control_plane.privacy.deps import ErasureDeps, PrivacyDeps, SessionWorker
from control_plane.privacy.holds import HoldState
from control_plane.privacy.receipt import ALGORITHM, public_key_b64
from control_plane.privacy.schemas import (
    ErasureOut,
    ExportOut,
    LegalHoldOut,
    ReceiptKeyOut,
    ReceiptOut,
    TranscriptAcceptedOut,
    TranscriptIn,
)
from control_plane.privacy.types import Role, SegmentIn

internal_router = APIRouter(prefix="/internal/v1", tags=["internal"])
router = APIRouter(tags=["privacy"])

_WORKER_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "body is not JSON (e.g. invalid UTF-8)"},
    401: {"description": "no valid, unrevoked session-bound worker credential"},
    403: {"description": "credential bound to another session, or denied by policy"},
    404: {"description": "no such session"},
    409: {"description": "the session has ended"},
    413: {"description": "body too large"},
    422: {"description": "invalid segments (too many, too long, not UTF-8)"},
    503: {"description": "redaction engine, policies or store unavailable"},
}
_USER_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not authenticated"},
    403: {"description": "denied by policy"},
    404: {"description": "no such subject or session"},
    409: {"description": "blocked by a legal hold"},
}


@internal_router.post(
    "/sessions/{session_id}/transcript",
    response_model=TranscriptAcceptedOut,
    status_code=status.HTTP_201_CREATED,
    responses=_WORKER_ERRORS,
    summary="Worker intake: final transcript segments, redacted before anything is stored",
)
async def post_transcript(
    session_id: str,
    body: TranscriptIn,
    worker: SessionWorker,
    services: PrivacyDeps,
    tx: Tx,
    state: State,
    request_id: RequestId,
) -> TranscriptAcceptedOut:
    accepted = await service.store_transcript(
        tx,
        services=services,
        claims=worker,
        session_id=session_id,
        segments=[
            SegmentIn(Role(s.role), s.text, s.start_ms, s.end_ms, s.final) for s in body.segments
        ],
        request_id=request_id,
        now=state.clock(),
    )
    return TranscriptAcceptedOut(
        session_id=accepted.session_id,
        received=accepted.received,
        stored=accepted.stored,
        ignored_non_final=accepted.ignored_non_final,
        text_stored=accepted.text_stored,
        entity_counts=dict(accepted.entity_counts),
    )


@router.get(
    "/v1/me/data",
    response_model=ExportOut,
    responses={401: {"description": "not authenticated"}},
    summary="Export my data: sessions, redacted transcripts, decisions about me",
)
async def export_my_data(
    principal: CurrentPrincipal,
    state: State,
    tx: Tx,
    request_id: RequestId,
    audit_after: int = Query(default=0, ge=0, le=MAX_SEQ),
) -> ExportOut:
    document = await service.export_subject_data(
        tx,
        keys=state.keys,
        subject_id=principal.subject_id,
        request_id=request_id,
        audit_limit=state.settings.privacy.export_audit_limit,
        audit_after=audit_after,
        now=state.clock(),
    )
    return ExportOut.model_validate(document)


def _receipt(receipt: dict[str, Any]) -> ReceiptOut:
    # Any: the signed receipt is a JSON object; the model keeps its exact fields.
    return ReceiptOut.model_validate(receipt)


@router.delete(
    "/v1/me/data",
    response_model=ReceiptOut,
    responses=_USER_ERRORS,
    summary="Erase my data (crypto-shredding) and get a signed receipt",
)
async def erase_my_data(
    principal: CurrentPrincipal,
    services: ErasureDeps,
    state: State,
    tx: Tx,
    request_id: RequestId,
) -> ReceiptOut:
    receipt = await service.erase_subject(
        tx,
        services=services,
        requester=principal,
        subject_id=principal.subject_id,
        request_id=request_id,
        now=state.clock(),
    )
    return _receipt(receipt)


@router.delete(
    "/v1/subjects/{subject_id}/data",
    response_model=ReceiptOut,
    responses=_USER_ERRORS,
    summary="Erase a subject's data (admin, MFA) and get a signed receipt",
)
async def erase_subject_data(
    subject_id: str,
    principal: CurrentPrincipal,
    services: ErasureDeps,
    state: State,
    tx: Tx,
    request_id: RequestId,
) -> ReceiptOut:
    receipt = await service.erase_subject(
        tx,
        services=services,
        requester=principal,
        subject_id=subject_id[:64],
        request_id=request_id,
        now=state.clock(),
    )
    return _receipt(receipt)


@router.get(
    "/v1/privacy/erasures",
    response_model=list[ErasureOut],
    responses=_USER_ERRORS,
    summary="Erasure requests of my tenant and their status (auditors; never content)",
)
async def list_erasures(
    principal: CurrentPrincipal,
    state: State,
    tx: Tx,
    request_id: RequestId,
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[ErasureOut]:
    rows = await service.list_erasure_requests(
        tx,
        policies=state.policies.current,
        principal=principal,
        request_id=request_id,
        limit=limit,
        now=state.clock(),
    )
    return [
        ErasureOut(
            id=r.id,
            subject_id=r.subject_id,
            requested_by=r.requested_by,
            status=r.status,
            reason=r.reason,
            requested_at=canonical_ts(r.requested_at),
            completed_at=canonical_ts(r.completed_at) if r.completed_at else None,
            counts=r.counts,
            receipt_key_id=str(r.receipt["key_id"]) if r.receipt else None,
        )
        for r in rows
    ]


@router.get(
    "/v1/privacy/receipt-key",
    response_model=ReceiptKeyOut,
    responses={401: {"description": "not authenticated"}},
    summary="The public key deletion receipts are signed with",
)
async def receipt_key(principal: CurrentPrincipal, state: State) -> ReceiptKeyOut:
    public = state.keys.receipt_public_key
    return ReceiptKeyOut(
        algorithm=ALGORITHM, key_id=public_key_id(public), public_key=public_key_b64(public)
    )


def _hold(state: HoldState) -> LegalHoldOut:
    return LegalHoldOut(kind=state.kind, id=state.id, legal_hold=state.legal_hold)


async def _subject_hold(
    subject_id: str,
    hold: bool,
    principal: CurrentPrincipal,
    state: State,
    tx: Tx,
    request_id: RequestId,
) -> LegalHoldOut:
    return _hold(
        await service.set_subject_hold(
            tx,
            policies=state.policies.current,
            principal=principal,
            subject_id=subject_id,
            hold=hold,
            request_id=request_id,
            now=state.clock(),
        )
    )


async def _session_hold(
    session_id: str,
    hold: bool,
    principal: CurrentPrincipal,
    state: State,
    tx: Tx,
    request_id: RequestId,
) -> LegalHoldOut:
    return _hold(
        await service.set_session_hold(
            tx,
            policies=state.policies.current,
            principal=principal,
            session_id=session_id,
            hold=hold,
            request_id=request_id,
            now=state.clock(),
        )
    )


@router.put(
    "/v1/subjects/{subject_id}/legal-hold",
    response_model=LegalHoldOut,
    responses=_USER_ERRORS,
    summary="Put a subject under legal hold (admin, MFA)",
)
async def hold_subject(
    subject_id: str, principal: CurrentPrincipal, state: State, tx: Tx, request_id: RequestId
) -> LegalHoldOut:
    return await _subject_hold(subject_id, True, principal, state, tx, request_id)


@router.delete(
    "/v1/subjects/{subject_id}/legal-hold",
    response_model=LegalHoldOut,
    responses=_USER_ERRORS,
    summary="Lift a subject's legal hold (admin, MFA)",
)
async def release_subject(
    subject_id: str, principal: CurrentPrincipal, state: State, tx: Tx, request_id: RequestId
) -> LegalHoldOut:
    return await _subject_hold(subject_id, False, principal, state, tx, request_id)


@router.put(
    "/v1/sessions/{session_id}/legal-hold",
    response_model=LegalHoldOut,
    responses=_USER_ERRORS,
    summary="Put a session under legal hold (admin, MFA)",
)
async def hold_session(
    session_id: str, principal: CurrentPrincipal, state: State, tx: Tx, request_id: RequestId
) -> LegalHoldOut:
    return await _session_hold(session_id, True, principal, state, tx, request_id)


@router.delete(
    "/v1/sessions/{session_id}/legal-hold",
    response_model=LegalHoldOut,
    responses=_USER_ERRORS,
    summary="Lift a session's legal hold (admin, MFA)",
)
async def release_session(
    session_id: str, principal: CurrentPrincipal, state: State, tx: Tx, request_id: RequestId
) -> LegalHoldOut:
    return await _session_hold(session_id, False, principal, state, tx, request_id)
