"""Verification of IdP-issued JWTs (access tokens as bearers, ID tokens at login).

Checks, in order (RFC 8725, ASVS V9/V10): size; compact JWS shape; ``alg`` on the allowlist
(never ``none`` or HS*); ``typ`` where present; a ``kid`` the issuer publishes; signature;
exact ``iss``; ``aud``; ``exp``/``nbf``/``iat`` against the injected clock with small
leeway; ``sub`` present. Each failure raises AuthenticationFailed with a precise reason for
the audit log; the client only ever sees the generic 401.
"""

from __future__ import annotations

from datetime import datetime

import jwt

from control_plane.crypto.lifetime import LifetimeProblem, lifetime_problem
from control_plane.identity.claims import check_subject
from control_plane.identity.client import OidcClient
from control_plane.identity.errors import AuthenticationFailed
from control_plane.identity.token_cache import CachedVerification
from control_plane.identity.types import VerifiedClaims

ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
ID_TOKEN_TYPES = frozenset({"jwt", "application/jwt"})


def _header(token: str, max_bytes: int) -> dict[str, object]:
    if len(token) > max_bytes:
        raise AuthenticationFailed("token oversized")
    if token.count(".") != 2:
        raise AuthenticationFailed("token malformed")
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, RecursionError) as exc:  # JSON nested past the parser's depth
        raise AuthenticationFailed("token header malformed") from exc
    return header


async def _verify_jwt(
    client: OidcClient,
    token: str,
    *,
    audience: str,
    allowed_types: frozenset[str],
    require_type: bool,
    now: datetime,
) -> CachedVerification:
    """Verify an IdP-signed JWT for one audience and one token type; the claims with the
    key that verified them."""
    settings = client.settings
    header = _header(token, settings.max_token_bytes)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in settings.allowed_algorithms:
        raise AuthenticationFailed("algorithm not allowed")  # never echo header values
    typ = header.get("typ")
    if typ is None:
        if require_type:
            raise AuthenticationFailed("token type missing")
    elif not isinstance(typ, str) or typ.lower() not in allowed_types:
        raise AuthenticationFailed("token type not accepted here")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 128:
        raise AuthenticationFailed("token key id missing")
    key = await client.signing_key(kid)
    if key is None:
        raise AuthenticationFailed("token key id unknown")
    if key.algorithm_name != alg:
        raise AuthenticationFailed("token key does not match algorithm")
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=audience,
            issuer=settings.issuer,
            options={
                "require": ["iss", "sub", "aud", "exp", "iat"],
                # Lifetime checks below use the injected clock.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidAudienceError as exc:
        raise AuthenticationFailed("wrong audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise AuthenticationFailed("wrong issuer") from exc
    except jwt.InvalidSignatureError as exc:
        raise AuthenticationFailed("bad signature") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise AuthenticationFailed(f"missing claim {exc.claim}") from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationFailed(f"token rejected: {type(exc).__name__}") from exc
    except RecursionError as exc:  # a signed payload nested past the JSON parser's depth
        raise AuthenticationFailed("token payload malformed") from exc
    _check_lifetime(claims, now=now.timestamp(), leeway=settings.leeway_seconds)
    subject = check_subject(claims.get("sub"))
    return CachedVerification(
        verified=VerifiedClaims(issuer=settings.issuer, subject=subject, claims=claims),
        kid=kid,
        key=key,
    )


_LIFETIME_REASONS = {
    LifetimeProblem.MISSING_EXP: "claim exp missing or not a number",
    LifetimeProblem.MALFORMED_TIME: "claim nbf or iat is not a number",
    LifetimeProblem.EXPIRED: "token expired",
    LifetimeProblem.NOT_YET_VALID: "token not yet valid",
    LifetimeProblem.ISSUED_IN_FUTURE: "token issued in the future",
}


def _check_lifetime(claims: dict[str, object], *, now: float, leeway: int) -> None:
    problem = lifetime_problem(claims, now=now, leeway=leeway)
    if problem is not None:
        raise AuthenticationFailed(_LIFETIME_REASONS[problem])


async def verify_access_token(client: OidcClient, token: str, *, now: datetime) -> VerifiedClaims:
    """A JWT access token for this API (``typ`` at+jwt, our audience).

    A token verified before is taken from ``client.verified_tokens`` while the key that
    signed it is still the issuer's fresh key for its ``kid``; its lifetime is checked
    again either way (see identity/token_cache.py).
    """
    cache = client.verified_tokens
    cached = cache.get(token)
    if cached is not None and client.fresh_key(cached.kid) is cached.key:
        try:
            _check_lifetime(
                cached.verified.claims,
                now=now.timestamp(),
                leeway=client.settings.leeway_seconds,
            )
        except AuthenticationFailed:
            cache.discard(token)
            raise
        return cached.verified
    verified = await _verify_jwt(
        client,
        token,
        audience=client.settings.audience,
        allowed_types=ACCESS_TOKEN_TYPES,
        require_type=False,
        now=now,
    )
    cache.put(token, verified)
    return verified.verified


async def verify_id_token(
    client: OidcClient, token: str, *, nonce: str, now: datetime
) -> VerifiedClaims:
    """An ID token for our client id, carrying the nonce we sent (ASVS 10.5.1, 10.5.4)."""
    verified = (
        await _verify_jwt(
            client,
            token,
            audience=client.settings.client_id,
            allowed_types=ID_TOKEN_TYPES,
            require_type=False,
            now=now,
        )
    ).verified
    if verified.claims.get("nonce") != nonce:
        raise AuthenticationFailed("nonce mismatch")
    azp = verified.claims.get("azp")
    if azp is not None and azp != client.settings.client_id:
        raise AuthenticationFailed("wrong authorized party")
    return verified
