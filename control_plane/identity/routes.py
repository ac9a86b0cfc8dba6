"""Login, callback, logout and the caller's own browser sessions.

Every response here carries ``Cache-Control: no-store``: they set or clear cookies, carry
login state in a redirect, or return the CSRF token and the caller's identity.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import RedirectResponse

from control_plane.deps import RequestId, State, Tx
from control_plane.identity import service
from control_plane.identity.deps import (
    CurrentPrincipal,
    cookie_name,
    login_cookie_name,
    login_services,
)
from control_plane.identity.schemas import BrowserSessionOut, LogoutResponse, WhoAmI
from control_plane.risk.deps import AuthRateLimit, ClientAddress
from control_plane.state import AppState

router = APIRouter(tags=["identity"])

_AUTH_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "login failed"},
    429: {"description": "rate limited"},
    503: {"description": "identity provider unavailable"},
}
NO_STORE = "no-store"


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = NO_STORE


def _is_https(state: AppState) -> bool:
    return state.settings.server.public_base_url.startswith("https://")


def _set_cookie(response: Response, state: AppState, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=_is_https(state),
        httponly=True,
        samesite="lax",
    )


def _clear_cookie(response: Response, state: AppState, name: str) -> None:
    # The same attributes as when set: a browser ignores a __Host- Set-Cookie without Secure.
    response.delete_cookie(name, path="/", secure=_is_https(state), httponly=True, samesite="lax")


@router.get(
    "/auth/login",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    dependencies=[AuthRateLimit],
    responses={**_AUTH_ERRORS, 422: {"description": "return_to is not a same-origin path"}},
    summary="Start an OIDC login (authorization code + PKCE), bound to this browser",
)
async def login(
    state: State,
    tx: Tx,
    request_id: RequestId,
    address: ClientAddress,
    return_to: str | None = None,
) -> RedirectResponse:
    started = await service.begin_login(
        tx,
        services=login_services(state),
        return_to=return_to,
        address=address,
        request_id=request_id,
        now=state.clock(),
    )
    response = RedirectResponse(started.url, status_code=status.HTTP_302_FOUND)
    _set_cookie(
        response,
        state,
        login_cookie_name(state),
        started.binding,
        state.settings.browser.login_state_ttl_seconds,
    )
    _no_store(response)
    return response


@router.get(
    "/auth/callback",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    dependencies=[AuthRateLimit],
    responses=_AUTH_ERRORS,
    summary="OIDC redirect target: verify, create a browser session",
)
async def callback(
    request: Request, state: State, tx: Tx, request_id: RequestId, address: ClientAddress
) -> Response:
    finished = await service.finish_login(
        tx,
        services=login_services(state),
        query=request.query_params.multi_items(),
        binding=request.cookies.get(login_cookie_name(state)),
        address=address,
        request_id=request_id,
        now=state.clock(),
    )
    response = RedirectResponse(finished.return_to, status_code=status.HTTP_302_FOUND)
    _set_cookie(
        response,
        state,
        cookie_name(state),
        finished.session.cookie_value,
        state.settings.browser.absolute_timeout_seconds,
    )
    # A failed callback leaves the login cookie alone: it is useless once its pending login
    # is consumed, expires with it, and clearing it would let a forged callback link
    # abort the victim's own login in flight.
    _clear_cookie(response, state, login_cookie_name(state))
    _no_store(response)
    return response


@router.get(
    "/auth/session",
    response_model=WhoAmI,
    summary="Who am I (and the session's CSRF token, the same for every tab)",
)
async def whoami(
    request: Request, response: Response, principal: CurrentPrincipal, state: State
) -> WhoAmI:
    csrf = service.issue_csrf(
        session_secret=state.keys.session_secret,
        principal=principal,
        cookie_value=request.cookies.get(cookie_name(state)),
    )
    _no_store(response)
    return WhoAmI(
        subject_id=principal.subject_id,
        tenant=principal.tenant,
        groups=sorted(principal.groups),
        email_verified=principal.email_verified,
        method=principal.method.value,
        csrf_token=csrf,
    )


@router.post(
    "/auth/logout",
    response_model=LogoutResponse,
    responses={401: {"description": "not authenticated"}},
    summary="Log out here and get the IdP's logout URL",
)
async def logout(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    state: State,
    tx: Tx,
    request_id: RequestId,
) -> LogoutResponse:
    url = await service.logout(
        tx,
        oidc=state.oidc,
        principal=principal,
        cookie_value=request.cookies.get(cookie_name(state)),
        request_id=request_id,
        now=state.clock(),
    )
    _clear_cookie(response, state, cookie_name(state))
    _no_store(response)
    return LogoutResponse(logout_url=url)


@router.get(
    "/v1/me/sessions",
    response_model=list[BrowserSessionOut],
    summary="My live browser sessions",
)
async def my_sessions(
    response: Response, principal: CurrentPrincipal, state: State, tx: Tx
) -> list[BrowserSessionOut]:
    rows = await service.list_own_sessions(tx, principal=principal, now=state.clock())
    _no_store(response)
    return [
        BrowserSessionOut(
            handle=r.handle,
            created_at=r.created_at,
            last_seen_at=r.last_seen_at,
            absolute_expires_at=r.absolute_expires_at,
            current=r.handle == principal.browser_session,
        )
        for r in rows
    ]


@router.delete(
    "/v1/me/sessions/{handle}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "not one of your sessions"}},
    summary="Revoke one of my browser sessions",
)
async def revoke_my_session(
    handle: str, principal: CurrentPrincipal, state: State, tx: Tx, request_id: RequestId
) -> Response:
    await service.revoke_own_session(
        tx, principal=principal, handle=handle, now=state.clock(), request_id=request_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
