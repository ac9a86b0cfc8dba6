"""The Cedar view of a verified caller (pure)."""

from __future__ import annotations

from control_plane.authz.types import PrincipalRef, TenantId
from control_plane.identity.types import Principal, SubjectId, SubjectStatus


def cedar_principal(principal: Principal, *, subject_status: str) -> PrincipalRef:
    """A caller as Cedar sees it; a subject that is locked or being erased is locked."""
    return PrincipalRef(
        subject_id=SubjectId(principal.subject_id),
        tenant=TenantId(principal.tenant),
        groups=principal.groups,
        email_verified=principal.email_verified,
        locked=subject_status != SubjectStatus.ACTIVE,
        amr=frozenset(principal.amr),
        acr=principal.acr or "",
    )
