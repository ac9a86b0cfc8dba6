"""Browser login with authlib: authorization code + PKCE S256, state and nonce.

The pending login (state hash, nonce, PKCE verifier) is stored server-side and consumed
exactly once at the callback, so a replayed callback, a swapped state or a reused nonce
fails (RFC 9700 §2.1, ASVS 10.1.2, 10.2.1). ``error`` and ``code`` are checked before
authlib is asked for a token: its ``fetch_token`` silently falls back to a
client_credentials grant when no code is present.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.config import BrowserSessionSettings
from control_plane.crypto.digest import secret_digest
from control_plane.identity.claims import principal_from_claims
from control_plane.identity.client import OidcClient
from control_plane.identity.errors import (
    AuthenticationFailed,
    IdentityProviderUnavailable,
    LoginFailed,
)
from control_plane.identity.tables import PendingLogin
from control_plane.identity.types import AuthMethod, Principal
from control_plane.identity.verify import verify_id_token

MAX_PARAM_CHARS = 2048

# What an IdP may put in a callback's ``error`` (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6)
# and a token endpoint in its error response (RFC 6749 §5.2). The parameter comes from
# the browser, so anything may arrive there; it reaches the immutable audit chain only as
# one of these codes or "other" (T-PRIV-4).
OAUTH_ERROR_CODES = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "invalid_client",
        "invalid_grant",
        "unsupported_grant_type",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
    }
)


def oauth_error_code(value: object) -> str:
    """The registered OAuth/OIDC error code ``value`` is, or "other" (pure)."""
    return value if isinstance(value, str) and value in OAUTH_ERROR_CODES else "other"


def _oauth_client(oidc: OidcClient) -> AsyncOAuth2Client:
    settings = oidc.settings
    return AsyncOAuth2Client(
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        scope=" ".join(settings.scopes),
        redirect_uri=settings.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
        timeout=settings.http_timeout_seconds,
    )


async def start_login(
    tx: AsyncSession, *, oidc: OidcClient, settings: BrowserSessionSettings, now: datetime
) -> str:
    """The IdP authorization URL for a new login; its state, nonce and verifier are kept."""
    meta = await oidc.metadata()
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    await tx.exec(delete(PendingLogin).where(col(PendingLogin.expires_at) < now))
    tx.add(
        PendingLogin(
            state_hash=secret_digest(state),
            nonce=nonce,
            code_verifier=verifier,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.login_state_ttl_seconds),
        )
    )
    async with _oauth_client(oidc) as client:
        url, _ = client.create_authorization_url(
            meta.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
        )
    return str(url)


@dataclass(frozen=True)
class CompletedLogin:
    principal: Principal


def _param(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if value is None:
        return None
    if not value or len(value) > MAX_PARAM_CHARS:
        raise LoginFailed(f"callback parameter {name} malformed")
    return value


async def complete_login(
    tx: AsyncSession,
    *,
    oidc: OidcClient,
    query: Mapping[str, str],
    pseudonym_key: bytes,
    now: datetime,
) -> CompletedLogin:
    """Exchange the code, verify the ID token (issuer, audience, nonce, algorithm)."""
    error = _param(query, "error")
    if error is not None:
        raise LoginFailed(f"identity provider returned error {oauth_error_code(error)}")
    code = _param(query, "code")
    state = _param(query, "state")
    if code is None or state is None:
        raise LoginFailed("callback without code or state")
    pending = await tx.get(PendingLogin, secret_digest(state))
    if pending is None:
        raise LoginFailed("state mismatch or login already completed")
    await tx.delete(pending)  # one use only, even if the rest fails
    await tx.flush()
    expires = pending.expires_at
    if (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) <= now:
        raise LoginFailed("login expired")
    meta = await oidc.metadata()
    try:
        async with _oauth_client(oidc) as client:
            token = await client.fetch_token(
                meta.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
                redirect_uri=oidc.settings.redirect_uri,
            )
    except AuthlibBaseError as exc:
        raise LoginFailed(f"token exchange refused: {oauth_error_code(exc.error)}") from exc
    except Exception as exc:  # transport failures from httpx inside authlib
        raise IdentityProviderUnavailable() from exc
    id_token = token.get("id_token") if isinstance(token, Mapping) else None
    if not isinstance(id_token, str) or not isinstance(token.get("access_token"), str):
        raise LoginFailed("token response without id_token")
    try:
        verified = await verify_id_token(oidc, id_token, nonce=pending.nonce, now=now)
        principal = principal_from_claims(
            verified, settings=oidc.settings, pseudonym_key=pseudonym_key, method=AuthMethod.BROWSER
        )
    except AuthenticationFailed as exc:
        raise LoginFailed(exc.reason) from exc
    return CompletedLogin(principal=principal)


async def logout_url(oidc: OidcClient) -> str | None:
    """RP-initiated logout at the IdP, if it offers it."""
    meta = await oidc.metadata()
    if meta.end_session_endpoint is None:
        return None
    params = {
        "client_id": oidc.settings.client_id,
        "post_logout_redirect_uri": oidc.settings.post_logout_redirect_uri,
    }
    return f"{meta.end_session_endpoint}?{urlencode(params)}"
