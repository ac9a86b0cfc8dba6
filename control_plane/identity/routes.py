"""Login, callback, logout and the caller's own browser sessions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import RedirectResponse

from control_plane.deps import RequestId, State, Tx
from control_plane.identity import service
from control_plane.identity.deps import CurrentPrincipal, cookie_name
from control_plane.identity.schemas import BrowserSessionOut, LogoutResponse, WhoAmI
from control_plane.risk.deps import AuthRateLimit

router = APIRouter(tags=["identity"])

_AUTH_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "login failed"},
    429: {"description": "rate limited"},
    503: {"description": "identity provider unavailable"},
}


@router.get(
    "/auth/login",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    dependencies=[AuthRateLimit],
    responses=_AUTH_ERRORS,
    summary="Start an OIDC login (authorization code + PKCE)",
)
async def login(state: State, tx: Tx) -> RedirectResponse:
    url = await service.begin_login(tx, state=state)
    return RedirectResponse(url, status_code=status.HTTP_302_FOUND)


@router.get(
    "/auth/callback",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    dependencies=[AuthRateLimit],
    responses=_AUTH_ERRORS,
    summary="OIDC redirect target: verify, create a browser session",
)
async def callback(request: Request, state: State, tx: Tx, request_id: RequestId) -> Response:
    session = await service.finish_login(
        tx, state=state, query=dict(request.query_params), request_id=request_id
    )
    response = RedirectResponse("/console/", status_code=status.HTTP_302_FOUND)
    secure = state.settings.server.public_base_url.startswith("https://")
    response.set_cookie(
        cookie_name(state),
        session.cookie_value,
        max_age=state.settings.browser.absolute_timeout_seconds,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/auth/session", response_model=WhoAmI, summary="Who am I (and a CSRF token)")
async def whoami(request: Request, principal: CurrentPrincipal, state: State, tx: Tx) -> WhoAmI:
    cookie = request.cookies.get(cookie_name(state))
    csrf = await service.issue_csrf(tx, principal=principal, cookie_value=cookie)
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
        state=state,
        principal=principal,
        cookie_value=request.cookies.get(cookie_name(state)),
        request_id=request_id,
    )
    response.delete_cookie(cookie_name(state), path="/")
    return LogoutResponse(logout_url=url)


@router.get(
    "/v1/me/sessions",
    response_model=list[BrowserSessionOut],
    summary="My live browser sessions",
)
async def my_sessions(principal: CurrentPrincipal, state: State, tx: Tx) -> list[BrowserSessionOut]:
    rows = await service.list_own_sessions(tx, principal=principal, now=state.clock())
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
