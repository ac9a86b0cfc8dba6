"""Login, logout and the caller's own browser sessions.

The login functions take the values they use (``LoginServices``, the clock's reading),
not the application state: identity sits below the domains the state wires together.
Subjects themselves (reads, creation, status) live in ``identity.subjects``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import append_audit, set_audit_tenant
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.config import BrowserSessionSettings
from control_plane.errors import NotFound
from control_plane.identity.browser import (
    NewBrowserSession,
    create_browser_session,
    csrf_token_for,
    list_browser_sessions,
    revoke_browser_session,
    revoke_session_by_cookie,
)
from control_plane.identity.client import OidcClient
from control_plane.identity.errors import (
    IdentityProviderUnavailable,
    LoginFailed,
    ReturnToRefused,
)
from control_plane.identity.login import StartedLogin, complete_login, logout_url, start_login
from control_plane.identity.pseudonym import pseudonymize_address
from control_plane.identity.subjects import ensure_subject, is_active
from control_plane.identity.tables import BrowserSession
from control_plane.identity.types import AuthMethod, Principal


class AuthFailureCounter(Protocol):
    """Counts an authentication failure against a client address (the risk monitor)."""

    async def __call__(
        self, tx: AsyncSession, *, address_key: str, request_id: str | None, now: datetime
    ) -> object: ...


@dataclass(frozen=True)
class LoginServices:
    """What login and logout need besides the transaction and the time."""

    oidc: OidcClient | None  # None when login is not configured (oidc.issuer)
    browser: BrowserSessionSettings
    pseudonym_key: bytes = field(repr=False)
    session_secret: bytes = field(repr=False)
    count_failure: AuthFailureCounter


def _oidc(services: LoginServices) -> OidcClient:
    if services.oidc is None:
        raise IdentityProviderUnavailable("login is not configured (oidc.issuer)")
    return services.oidc


@dataclass(frozen=True)
class FinishedLogin:
    """A new browser session and where the browser goes next (a same-origin path)."""

    session: NewBrowserSession
    return_to: str


async def _audit_failed_login(
    tx: AsyncSession,
    *,
    services: LoginServices,
    reason: str,
    address: str,
    request_id: str,
    now: datetime,
    actor: str | None = None,
    outcome: Outcome = Outcome.FAILURE,
    counted: bool = True,
) -> None:
    """Audit a refused login with its exact reason and count it for the client address
    (the auth-failure detector); both survive the rollback of the failed request."""
    address_key = pseudonymize_address(services.pseudonym_key, address)
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.LOGIN_FAILED,
            outcome=outcome,
            actor=actor,
            reason=reason,
            request_id=request_id,
            details={"address": address_key},
        ),
        now=now,
    )
    if counted:
        await services.count_failure(tx, address_key=address_key, request_id=request_id, now=now)


async def begin_login(
    tx: AsyncSession,
    *,
    services: LoginServices,
    return_to: str | None,
    address: str,
    request_id: str,
    now: datetime,
) -> StartedLogin:
    """The IdP authorization URL for a fresh login and the binding for its pre-login
    cookie; a ``return_to`` that is not a same-origin path is refused, audited, counted."""
    try:
        return await start_login(
            tx, oidc=_oidc(services), settings=services.browser, return_to=return_to, now=now
        )
    except ReturnToRefused:
        await _audit_failed_login(
            tx,
            services=services,
            reason="return_to refused (not a same-origin relative path)",
            outcome=Outcome.DENIED,
            address=address,
            request_id=request_id,
            now=now,
        )
        raise


async def finish_login(
    tx: AsyncSession,
    *,
    services: LoginServices,
    query: Sequence[tuple[str, str]],
    binding: str | None,
    address: str,
    request_id: str,
    now: datetime,
) -> FinishedLogin:
    """Complete the login begun in this browser (``binding``: its pre-login cookie),
    create the subject if new and a new browser session.

    Every refusal (IdP error, missing or foreign login cookie, unknown or replayed state,
    refused code exchange, bad ID token, locked subject) is audited with its reason and
    counted against the client address; an unreachable IdP is audited but not counted
    (not the client's doing).
    """
    try:
        completed = await complete_login(
            tx,
            oidc=_oidc(services),
            query=query,
            binding=binding,
            pseudonym_key=services.pseudonym_key,
            now=now,
        )
    except LoginFailed as exc:
        await _audit_failed_login(
            tx,
            services=services,
            reason=exc.reason,
            address=address,
            request_id=request_id,
            now=now,
        )
        raise
    except IdentityProviderUnavailable:
        await _audit_failed_login(
            tx,
            services=services,
            reason="identity provider unavailable",
            counted=False,
            address=address,
            request_id=request_id,
            now=now,
        )
        raise
    principal = completed.principal
    set_audit_tenant(tx, principal.tenant)
    subject = await ensure_subject(tx, principal=principal, now=now)
    if not is_active(subject.status):
        reason = f"subject is {subject.status}"
        await _audit_failed_login(
            tx,
            services=services,
            reason=reason,
            actor=principal.subject_id,
            outcome=Outcome.DENIED,
            address=address,
            request_id=request_id,
            now=now,
        )
        raise LoginFailed(reason)
    session = await create_browser_session(
        tx,
        principal=principal,
        settings=services.browser,
        session_secret=services.session_secret,
        now=now,
    )
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.LOGIN,
            outcome=Outcome.SUCCESS,
            actor=principal.subject_id,
            reason="oidc login",
            request_id=request_id,
            details={"session": session.row.handle, "amr": list(principal.amr)},
        ),
        now=now,
    )
    return FinishedLogin(session=session, return_to=completed.return_to)


def issue_csrf(
    *, session_secret: bytes, principal: Principal, cookie_value: str | None
) -> str | None:
    """The browser session's CSRF token (stable for the session, so every tab shares it);
    None for bearer callers."""
    if principal.method is not AuthMethod.BROWSER or not cookie_value:
        return None
    return csrf_token_for(session_secret, cookie_value)


async def logout(
    tx: AsyncSession,
    *,
    oidc: OidcClient | None,
    principal: Principal,
    cookie_value: str | None,
    request_id: str,
    now: datetime,
) -> str | None:
    """End the browser session here; return the IdP's logout URL (RP-initiated logout)."""
    if cookie_value:
        await revoke_session_by_cookie(tx, cookie_value=cookie_value, now=now)
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.LOGOUT,
            outcome=Outcome.SUCCESS,
            actor=principal.subject_id,
            reason="user logout",
            request_id=request_id,
        ),
        now=now,
    )
    return await logout_url(oidc) if oidc is not None else None


async def list_own_sessions(
    tx: AsyncSession, *, principal: Principal, now: datetime
) -> Sequence[BrowserSession]:
    """The caller's own live browser sessions."""
    return await list_browser_sessions(tx, subject_id=principal.subject_id, now=now)


async def revoke_own_session(
    tx: AsyncSession, *, principal: Principal, handle: str, now: datetime, request_id: str
) -> None:
    """Revoke one of the caller's sessions (ASVS 7.5.2); audited."""
    if len(handle) > 32:
        raise NotFound("session not found")
    await revoke_browser_session(tx, subject_id=principal.subject_id, handle=handle, now=now)
    await append_audit(
        tx,
        event=AuditEvent(
            type=AuditEventType.BROWSER_SESSION_REVOKED,
            outcome=Outcome.SUCCESS,
            actor=principal.subject_id,
            target=handle,
            reason="revoked by its owner",
            request_id=request_id,
        ),
        now=now,
    )
