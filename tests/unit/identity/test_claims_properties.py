"""Properties of claims parsing on arbitrary claim values (Hypothesis): a Principal or
AuthenticationFailed, never another error, and every value bounded (issue 13)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from control_plane.config import OidcSettings
from control_plane.identity.claims import MAX_CLAIM_CHARS, MAX_GROUPS, principal_from_claims
from control_plane.identity.errors import AuthenticationFailed
from control_plane.identity.types import AuthMethod, Principal, VerifiedClaims
from tests.support.properties import JSON_VALUES, PROPERTY

# Claim strings the IdP may sign that we accept: no control characters or lone surrogates.
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))
SETTINGS = OidcSettings()
KEY = b"k" * 32
ISSUER = "https://idp.example"
_CLAIMS = st.sampled_from(
    ["tenant", "groups", "amr", "acr", "auth_time", "email_verified", "sub", "iss"]
)


def _principal(claims: dict[str, Any], subject: str = "user-1") -> Principal | None:
    # Any: claim values are whatever JSON the IdP signed.
    verified = VerifiedClaims(issuer=ISSUER, subject=subject, claims=claims)
    try:
        return principal_from_claims(
            verified, settings=SETTINGS, pseudonym_key=KEY, method=AuthMethod.BEARER
        )
    except AuthenticationFailed:  # the only error claims parsing may raise
        return None


@PROPERTY
@given(claims=st.dictionaries(_CLAIMS | st.text(max_size=10), JSON_VALUES, max_size=8))
def test_arbitrary_claims_give_a_bounded_principal_or_a_refusal(claims: dict[str, Any]) -> None:
    principal = _principal(claims)
    if principal is None:
        return
    assert principal.tenant == claims["tenant"]
    assert 0 < len(principal.tenant) <= MAX_CLAIM_CHARS
    assert len(principal.groups) <= MAX_GROUPS
    assert len(principal.amr) <= MAX_GROUPS
    assert all(len(g) <= MAX_CLAIM_CHARS for g in (*principal.groups, *principal.amr))
    assert principal.acr is None or len(principal.acr) <= MAX_CLAIM_CHARS
    assert principal.auth_time is None or principal.auth_time.utcoffset() is not None
    assert principal.email_verified is (claims.get("email_verified") is True)


@PROPERTY
@given(
    auth_time=st.integers() | st.floats() | JSON_VALUES,
    acr=JSON_VALUES,
    groups=JSON_VALUES,
)
def test_any_login_facts_give_a_principal_or_a_refusal(
    auth_time: Any, acr: Any, groups: Any
) -> None:
    # Any: claim values are whatever JSON the IdP signed (e.g. an auth_time past year 9999).
    claims = {"tenant": "acme", "auth_time": auth_time, "acr": acr, "groups": groups}
    principal = _principal(claims)
    assert principal is None or principal.tenant == "acme"


@PROPERTY
@given(
    tenant=st.text(PRINTABLE, min_size=1, max_size=MAX_CLAIM_CHARS),
    groups=st.lists(st.text(PRINTABLE, min_size=1, max_size=MAX_CLAIM_CHARS), max_size=MAX_GROUPS),
    amr=st.lists(st.text(PRINTABLE, max_size=MAX_CLAIM_CHARS), max_size=MAX_GROUPS),
    auth_time=st.integers(min_value=0, max_value=4_102_444_800),  # up to 2100
    subject=st.text(PRINTABLE, min_size=1, max_size=64),
)
def test_well_formed_claims_round_trip(
    tenant: str, groups: list[str], amr: list[str], auth_time: int, subject: str
) -> None:
    claims = {"tenant": tenant, "groups": groups, "amr": amr, "auth_time": auth_time}
    principal = _principal(claims, subject)
    assert principal is not None
    assert principal.tenant == tenant
    assert principal.groups == frozenset(groups)
    assert principal.amr == tuple(a for a in amr if a)  # empty entries are skipped
    assert principal.auth_time is not None
    assert principal.auth_time.timestamp() == auth_time
    # The pseudonym is a function of (issuer, subject) only, whatever else the token says.
    assert principal.subject_id == _pseudonym(subject)


def _pseudonym(subject: str) -> str:
    principal = _principal({"tenant": "t"}, subject)
    assert principal is not None
    return principal.subject_id
