"""Authentication dependencies: who is calling, established once per request.

A bearer token (native apps, SPAs) or a browser session cookie (the console). Every
failure is the same 401 to the client; the precise reason is audited (ASVS 16.3.1).
Cookie-authenticated state-changing requests also need the CSRF header.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from control_plane.audit.service import set_audit_tenant
from control_plane.audit.types import AuditEvent, AuditEventType, Outcome
from control_plane.deps import RequestId, State, Tx, request_id_of, state_of
from control_plane.identity.browser import check_csrf, resolve_browser_session
from control_plane.identity.claims import principal_from_claims
from control_plane.identity.errors import AuthenticationFailed, CsrfRejected
from control_plane.identity.pseudonym import pseudonymize_address
from control_plane.identity.service import LoginServices
from control_plane.identity.types import AuthMethod, Principal
from control_plane.identity.verify import verify_access_token
from control_plane.risk.deps import ClientAddress, address_of
from control_plane.risk.service import audit_rejection
from control_plane.state import AppState
from control_plane.store.uow import unit_of_work

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


def cookie_name(state: AppState) -> str:
    """``__Host-`` cookies need Secure; plain-http development falls back to a plain name."""
    secure = state.settings.server.public_base_url.startswith("https://")
    name = state.settings.browser.cookie_name
    return name if secure else name.removeprefix("__Host-")


def login_cookie_name(state: AppState) -> str:
    """The pre-login cookie (login CSRF binding); ``__Host-`` over https, as above."""
    secure = state.settings.server.public_base_url.startswith("https://")
    name = state.settings.browser.login_cookie_name
    return name if secure else name.removeprefix("__Host-")


def login_services(state: AppState) -> LoginServices:
    """The values login and logout use, from the application state."""
    return LoginServices(
        oidc=state.oidc,
        browser=state.settings.browser,
        pseudonym_key=state.keys.pseudonym_key,
        session_secret=state.keys.session_secret,
        count_failure=state.risk.observe_auth_failure,
    )


async def _authenticate(request: Request, state: AppState, tx: AsyncSession) -> Principal:
    authorization = request.headers.get("authorization")
    now = state.clock()
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("authorization header malformed")
        if state.oidc is None:
            raise AuthenticationFailed("bearer authentication not configured")
        verified = await verify_access_token(state.oidc, token.strip(), now=now)
        return principal_from_claims(
            verified,
            settings=state.oidc.settings,
            pseudonym_key=state.keys.pseudonym_key,
            method=AuthMethod.BEARER,
        )
    cookie = request.cookies.get(cookie_name(state))
    if not cookie:
        raise AuthenticationFailed("no credentials")
    principal = await resolve_browser_session(tx, cookie, settings=state.settings.browser, now=now)
    if request.method not in SAFE_METHODS:
        await check_csrf(tx, cookie_value=cookie, csrf_token=request.headers.get(CSRF_HEADER))
    return principal


async def authenticate(
    request: Request, state: AppState, tx: AsyncSession, *, request_id: str, address: str
) -> Principal:
    """The verified caller; raises the generic 401 and audits the exact reason."""
    try:
        principal = await _authenticate(request, state, tx)
    except (AuthenticationFailed, CsrfRejected) as exc:
        reason = exc.reason if isinstance(exc, AuthenticationFailed) else "csrf token rejected"
        address_key = pseudonymize_address(state.keys.pseudonym_key, address)
        now = state.clock()
        await audit_rejection(
            tx,
            state.limiter,
            limit=state.settings.risk.rejection_audit_limit,
            scope="auth-rejected",
            address_key=address_key,
            event=AuditEvent(
                type=AuditEventType.BEARER_REJECTED,
                outcome=Outcome.FAILURE,
                reason=reason,
                request_id=request_id,
                details={"path": request.url.path[:128], "address": address_key},
            ),
            now=now,
        )
        # Failures per address feed anomaly detection (a counter increment; an anomaly
        # and its alert only when the threshold is crossed). Both survive the rollback.
        await state.risk.observe_auth_failure(
            tx, address_key=address_key, request_id=request_id, now=now
        )
        raise
    # What this caller does is recorded in its tenant's audit log.
    set_audit_tenant(tx, principal.tenant)
    return principal


async def get_principal(
    request: Request, state: State, tx: Tx, request_id: RequestId, address: ClientAddress
) -> Principal:
    """The verified caller; raises the generic 401 and audits the exact reason."""
    return await authenticate(request, state, tx, request_id=request_id, address=address)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_detached_principal(request: Request) -> Principal:
    """The verified caller, authenticated in a unit of work of its own that is over before
    the route runs: for routes that work in several short transactions and must not hold
    the request's open across them (the embedded store has one connection). Such a route
    tags its own units of work with the caller's tenant."""
    state = state_of(request)
    request_id = request_id_of(request)
    address = address_of(request, state)
    async with unit_of_work(state.engine) as tx:
        return await authenticate(request, state, tx, request_id=request_id, address=address)


DetachedPrincipal = Annotated[Principal, Depends(get_detached_principal)]
