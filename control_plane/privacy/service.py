"""The privacy domain's public functions (what routes, jobs and other domains call).

- ``store_transcript``: worker intake (redact, encrypt, store or count);
- ``finalize_session`` / ``finalize_due_sessions``: the whole-session pass at room end;
- ``run_retention``: one reconciler pass over every retention class;
- ``export_subject_data`` / ``erase_subject``: data-subject rights, with signed receipts;
- ``set_subject_hold`` / ``set_session_hold``: legal holds;
- ``list_erasure_requests``: what security auditors see of erasures (never content).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.authz.engine import PolicySnapshot
from control_plane.authz.errors import AccessDenied
from control_plane.authz.recording import record_decisions
from control_plane.authz.service import decide
from control_plane.authz.types import Action, AuthzRequest, TenantId, TenantResource
from control_plane.identity.tables import Subject
from control_plane.identity.types import Principal
from control_plane.privacy.erasure import cedar_user, erase_subject, list_erasures
from control_plane.privacy.export import export_subject_data
from control_plane.privacy.finalize import finalize_due_sessions, finalize_session
from control_plane.privacy.holds import set_session_hold, set_subject_hold
from control_plane.privacy.retention import run_retention
from control_plane.privacy.tables import ErasureRequest
from control_plane.privacy.transcripts import store_transcript

__all__ = [
    "erase_subject",
    "export_subject_data",
    "finalize_due_sessions",
    "finalize_session",
    "list_erasure_requests",
    "run_retention",
    "set_session_hold",
    "set_subject_hold",
    "store_transcript",
]


async def list_erasure_requests(
    tx: AsyncSession,
    *,
    policies: PolicySnapshot,
    principal: Principal,
    request_id: str,
    limit: int,
    now: datetime,
) -> Sequence[ErasureRequest]:
    """The caller's tenant's erasure requests, if Cedar allows ``read_audit`` on it."""
    caller = await tx.get(Subject, principal.subject_id)
    decision = decide(
        policies,
        AuthzRequest(
            cedar_user(principal, caller),
            Action.READ_AUDIT,
            TenantResource(TenantId(principal.tenant)),
        ),
    )
    await record_decisions(
        tx,
        decisions=[decision],
        actor=principal.subject_id,
        target=None,
        request_id=request_id,
        now=now,
    )
    if not decision.allowed:
        raise AccessDenied(decision_id=decision.id)
    return await list_erasures(tx, tenant=principal.tenant, limit=limit)
