"""Browser login with authlib: authorization code + PKCE S256, state and nonce.

The pending login (state hash, nonce, PKCE verifier) is stored server-side and consumed
exactly once at the callback, so a replayed callback, a swapped state or a reused nonce
fails (RFC 9700 §2.1, ASVS 10.1.2, 10.2.1). ``error`` and ``code`` are checked before
authlib is asked for a token: its ``fetch_token`` silently falls back to a
client_credentials grant when no code is present.

Login CSRF (T-ID-7, RFC 6749 §10.12, RFC 9700 §4.7): the pending login is also bound to
the browser that began it. ``start_login`` returns a random binding value for a short-
lived pre-login cookie and stores only its hash; the callback is refused unless that
cookie comes back and matches, before the code is redeemed. An attacker's own callback
URL (their code, their state) opened in a victim's browser therefore logs nobody in: the
victim's browser does not hold the attacker's binding cookie.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Sequence
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
    ReturnToRefused,
)
from control_plane.identity.return_to import is_safe_return_to
from control_plane.identity.tables import PendingLogin
from control_plane.identity.types import AuthMethod, Principal
from control_plane.identity.verify import verify_id_token
from control_plane.store.uow import keep_on_rollback

MAX_PARAM_CHARS = 2048
MAX_BINDING_CHARS = 128
_BINDING = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
# The OAuth error codes an authorization or token response may carry (RFC 6749 §4.1.2.1,
# §5.2; OIDC Core §3.1.2.6): only these reach the audit log, anything else is "other",
# so no free text from outside is ever recorded.
OAUTH_ERRORS = frozenset(
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
        "invalid_target",
    }
)


def oauth_error_code(value: object) -> str:
    """An OAuth error code fit for the audit log: a known code, else ``other``."""
    return value if isinstance(value, str) and value in OAUTH_ERRORS else "other"


def token_exchange_error(exc: Exception) -> LoginFailed | IdentityProviderUnavailable:
    """Our error for a failed code exchange (pure): an authlib error is the provider's
    refusal, quoted only by a known OAuth error code; anything else (httpx transport
    failures raised through authlib) means the provider is unavailable."""
    if isinstance(exc, AuthlibBaseError):
        return LoginFailed(f"token exchange refused: {oauth_error_code(exc.error)}")
    return IdentityProviderUnavailable()


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


@dataclass(frozen=True)
class StartedLogin:
    """The IdP authorization URL and the binding value for the pre-login cookie."""

    url: str
    binding: str


async def start_login(
    tx: AsyncSession,
    *,
    oidc: OidcClient,
    settings: BrowserSessionSettings,
    return_to: str | None,
    now: datetime,
) -> StartedLogin:
    """A new login: its state, nonce, verifier and browser binding (hashed) are kept, with
    where to land afterwards (a same-origin path, else ReturnToRefused: no open redirect)."""
    if return_to is not None and not is_safe_return_to(return_to):
        raise ReturnToRefused()
    meta = await oidc.metadata()
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    binding = secrets.token_urlsafe(32)
    await tx.exec(delete(PendingLogin).where(col(PendingLogin.expires_at) < now))
    tx.add(
        PendingLogin(
            state_hash=secret_digest(state),
            nonce=nonce,
            code_verifier=verifier,
            binding_hash=secret_digest(binding),
            return_to=return_to or settings.post_login_path,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.login_state_ttl_seconds),
        )
    )
    async with _oauth_client(oidc) as client:
        url, _ = client.create_authorization_url(
            meta.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
        )
    return StartedLogin(url=str(url), binding=binding)


@dataclass(frozen=True)
class CompletedLogin:
    principal: Principal
    return_to: str


def _params(query: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The callback's parameters; a repeated or malformed one fails the login."""
    params: dict[str, str] = {}
    for name, value in query:
        if name not in {"code", "state", "error", "iss"}:
            continue
        if name in params:
            raise LoginFailed(f"callback parameter {name} repeated")
        if not value or len(value) > MAX_PARAM_CHARS:
            raise LoginFailed(f"callback parameter {name} malformed")
        params[name] = value
    return params


def _check_binding(binding: str | None) -> str:
    if binding is None:
        raise LoginFailed("login cookie missing (callback from another browser)")
    if len(binding) > MAX_BINDING_CHARS or not _BINDING.match(binding):
        raise LoginFailed("login cookie malformed")
    return binding


async def _consume(tx: AsyncSession, *, state: str, binding: str, now: datetime) -> PendingLogin:
    """The pending login for ``state``, deleted (one use only, even if the rest fails),
    and only if it was begun by the browser holding ``binding``.

    The deletion survives the rollback of a failed callback: a state that met a foreign
    cookie, a refused code or a bad ID token cannot be tried again.
    """
    state_hash = secret_digest(state)
    pending = await tx.get(PendingLogin, state_hash)
    if pending is None:
        raise LoginFailed("state mismatch or login already completed")
    await tx.delete(pending)
    await tx.flush()

    async def _spent(session: AsyncSession) -> None:
        await session.exec(delete(PendingLogin).where(col(PendingLogin.state_hash) == state_hash))

    keep_on_rollback(tx, _spent)
    if not hmac.compare_digest(pending.binding_hash, secret_digest(binding)):
        raise LoginFailed("login cookie does not match the login (another browser)")
    expires = pending.expires_at
    if (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) <= now:
        raise LoginFailed("login expired")
    return pending


async def complete_login(
    tx: AsyncSession,
    *,
    oidc: OidcClient,
    query: Sequence[tuple[str, str]],
    binding: str | None,
    pseudonym_key: bytes,
    now: datetime,
) -> CompletedLogin:
    """Check the browser binding, exchange the code, verify the ID token (issuer,
    audience, nonce, algorithm). Every failure is LoginFailed with its exact reason."""
    params = _params(query)
    if "error" in params:
        raise LoginFailed(f"identity provider returned error {oauth_error_code(params['error'])}")
    code, state = params.get("code"), params.get("state")
    if code is None or state is None:
        raise LoginFailed("callback without code or state")
    pending = await _consume(tx, state=state, binding=_check_binding(binding), now=now)
    # RFC 9207: where the provider names itself in the response, it must be ours (mix-up).
    if "iss" in params and params["iss"] != oidc.settings.issuer:
        raise LoginFailed("callback iss is not the configured issuer")
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
    except Exception as exc:  # authlib's errors, and transport failures from httpx inside it
        raise token_exchange_error(exc) from exc
    id_token = token.get("id_token") if isinstance(token, dict) else None
    if not isinstance(id_token, str) or not isinstance(token.get("access_token"), str):
        raise LoginFailed("token response without id_token")
    try:
        verified = await verify_id_token(oidc, id_token, nonce=pending.nonce, now=now)
        principal = principal_from_claims(
            verified, settings=oidc.settings, pseudonym_key=pseudonym_key, method=AuthMethod.BROWSER
        )
    except AuthenticationFailed as exc:
        raise LoginFailed(exc.reason) from exc
    return CompletedLogin(principal=principal, return_to=pending.return_to)


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
