"""Pure mapping from verified IdP claims to a Principal."""

from __future__ import annotations

from datetime import UTC, datetime

from control_plane.config import OidcSettings
from control_plane.identity.errors import AuthenticationFailed
from control_plane.identity.pseudonym import pseudonymize_subject
from control_plane.identity.types import AuthMethod, Principal, VerifiedClaims

MAX_GROUPS = 64
MAX_CLAIM_CHARS = 128


def _string_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        items = value.split()
    elif isinstance(value, list):
        items = [v for v in value if isinstance(v, str)]
    else:
        items = []
    return tuple(item[:MAX_CLAIM_CHARS] for item in items[:MAX_GROUPS])


def principal_from_claims(
    verified: VerifiedClaims,
    *,
    settings: OidcSettings,
    pseudonym_key: bytes,
    method: AuthMethod,
    browser_session: str | None = None,
) -> Principal:
    """Groups and tenant come from configurable claims; a missing tenant is refused."""
    claims = verified.claims
    tenant = claims.get(settings.tenant_claim)
    if not isinstance(tenant, str) or not tenant or len(tenant) > MAX_CLAIM_CHARS:
        raise AuthenticationFailed("tenant claim missing")
    auth_time = claims.get("auth_time")
    acr = claims.get("acr")
    return Principal(
        subject_id=pseudonymize_subject(
            pseudonym_key, issuer=verified.issuer, subject=verified.subject
        ),
        tenant=tenant,
        groups=frozenset(_string_list(claims.get(settings.groups_claim))),
        email_verified=claims.get("email_verified") is True,
        amr=_string_list(claims.get("amr")),
        acr=acr[:MAX_CLAIM_CHARS] if isinstance(acr, str) else None,
        auth_time=(
            datetime.fromtimestamp(auth_time, UTC)
            if isinstance(auth_time, int) and not isinstance(auth_time, bool)
            else None
        ),
        method=method,
        browser_session=browser_session,
    )
