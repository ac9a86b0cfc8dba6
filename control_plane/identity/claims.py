"""Pure mapping from verified IdP claims to a Principal.

Every claim we read is checked for type, range and content before it is used: a signed
token is still outside input (a compromised or misconfigured IdP, a federated upstream).
A claim that is present but unusable (a number out of range, NaN, a float or a boolean
where an integer belongs; a string with NUL or control characters, a lone surrogate, too
long; the wrong JSON type) refuses the token with the generic 401. The audited reason
names the claim, never its value.
"""

from __future__ import annotations

from datetime import UTC, datetime

from control_plane.config import OidcSettings
from control_plane.identity.errors import AuthenticationFailed
from control_plane.identity.pseudonym import pseudonymize_subject
from control_plane.identity.types import AuthMethod, Principal, VerifiedClaims
from control_plane.text import has_unsafe_chars

MAX_GROUPS = 64
MAX_CLAIM_CHARS = 128
MAX_SUBJECT_CHARS = 255
# 9999-12-31T23:59:59Z: past it a NumericDate does not fit a datetime (it was a 500).
MAX_NUMERIC_DATE = 253_402_300_799
# C0 and C1 controls, DEL and UTF-16 surrogates: nothing a tenant, group, subject or
# method name contains; NUL is refused by PostgreSQL and a lone surrogate by every encoder.


def _malformed(name: str) -> AuthenticationFailed:
    return AuthenticationFailed(f"claim {name} malformed")


def claim_string(value: object, *, name: str, max_chars: int = MAX_CLAIM_CHARS) -> str:
    """A non-empty, printable string claim no longer than ``max_chars``; else the 401."""
    if not isinstance(value, str) or not value or len(value) > max_chars or has_unsafe_chars(value):
        raise _malformed(name)
    return value


def _string_list(value: object, *, name: str) -> tuple[str, ...]:
    """A list of strings, or one space-separated string (both are seen in the wild)."""
    if value is None:
        return ()
    items = value.split(" ") if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > MAX_GROUPS:
        raise _malformed(name)
    return tuple(claim_string(item, name=name) for item in items if item != "")


def _numeric_date(value: object, *, name: str) -> datetime | None:
    """An integer NumericDate within datetime's range; absent is None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _malformed(name)
    if not 0 <= value <= MAX_NUMERIC_DATE:
        raise _malformed(name)
    return datetime.fromtimestamp(value, UTC)


def _flag(value: object, *, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _malformed(name)
    return value


def check_subject(value: object) -> str:
    """The ``sub`` claim: present, printable, at most 255 characters."""
    if value is None or value == "":
        raise AuthenticationFailed("subject missing")
    return claim_string(value, name="sub", max_chars=MAX_SUBJECT_CHARS)


def principal_from_claims(
    verified: VerifiedClaims,
    *,
    settings: OidcSettings,
    pseudonym_key: bytes,
    method: AuthMethod,
    browser_session: str | None = None,
) -> Principal:
    """Groups and tenant come from configurable claims; a missing tenant is refused, and
    so is any claim we read that is present but not well-formed (see the module doc)."""
    claims = verified.claims
    if claims.get(settings.tenant_claim) in (None, ""):
        raise AuthenticationFailed("tenant claim missing")
    tenant = claim_string(claims.get(settings.tenant_claim), name="tenant")
    acr = claims.get("acr")
    return Principal(
        subject_id=pseudonymize_subject(
            pseudonym_key, issuer=verified.issuer, subject=check_subject(verified.subject)
        ),
        tenant=tenant,
        groups=frozenset(_string_list(claims.get(settings.groups_claim), name="groups")),
        email_verified=_flag(claims.get("email_verified"), name="email_verified"),
        amr=_string_list(claims.get("amr"), name="amr"),
        acr=claim_string(acr, name="acr") if acr is not None else None,
        auth_time=_numeric_date(claims.get("auth_time"), name="auth_time"),
        method=method,
        browser_session=browser_session,
    )
