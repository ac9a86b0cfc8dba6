"""Browser login over HTTP against the real OIDC provider (authorization code + PKCE)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from sqlmodel import select

from control_plane.audit.tables import AuditRecord
from control_plane.identity.errors import AuthenticationFailed
from control_plane.identity.verify import verify_id_token
from control_plane.store.uow import unit_of_work
from tests.support.app import FrozenClock, RunningApp, make_settings, running_app
from tests.support.harness import HarnessEnv
from tests.support.idp import LoginRejected, complete_login, get_access_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _start(app: RunningApp) -> str:
    response = await app.client.get("/auth/login")
    assert response.status_code == 302
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["code_challenge"][0]
    return location


def _callback_path(redirect: str) -> str:
    parts = urlsplit(redirect)
    assert parts.path == "/auth/callback"
    return f"{parts.path}?{parts.query}"


async def _audit_reasons(app: RunningApp, event_type: str) -> list[str]:
    async with unit_of_work(app.state.engine) as tx:
        rows = (
            await tx.exec(select(AuditRecord).where(AuditRecord.event_type == event_type))
        ).all()
    return [r.reason for r in rows]


async def test_login_creates_a_session_that_can_mint_with_csrf(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    redirect = complete_login(
        harness_env, await _start(live_app), username="alice", password="alice-password"
    )
    response = await live_app.client.get(_callback_path(redirect))
    assert response.status_code == 302, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    me = await live_app.client.get("/auth/session")
    assert me.status_code == 200
    body = me.json()
    assert body["method"] == "browser"
    assert body["subject_id"].startswith("sub_")
    assert body["tenant"] == "acme"
    csrf = body["csrf_token"]
    # A state-changing cookie request without the CSRF header is refused.
    refused = await live_app.client.post("/v1/sessions", json={})
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf_rejected"
    created = await live_app.client.post("/v1/sessions", json={}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    # The token refresh resolves a cookie caller too, CSRF header and all.
    refresh = f"/v1/sessions/{created.json()['session_id']}/token"
    no_header = await live_app.client.post(refresh, json={})
    assert no_header.status_code == 403
    assert no_header.json()["error"] == "csrf_rejected"
    refreshed = await live_app.client.post(refresh, json={}, headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["identity"] == body["subject_id"]
    sessions = await live_app.client.get("/v1/me/sessions")
    assert [s["current"] for s in sessions.json()] == [True]
    out = await live_app.client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200
    assert out.json()["logout_url"].startswith(harness_env.idp_issuer)
    assert (await live_app.client.get("/auth/session")).status_code == 401
    assert await _audit_reasons(live_app, "auth.login") == ["oidc login"]


async def test_wrong_password_never_reaches_the_callback(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    with pytest.raises(LoginRejected):
        complete_login(harness_env, await _start(live_app), username="alice", password="nope")


async def test_access_denied_at_the_idp_is_a_failed_login(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    redirect = complete_login(
        harness_env, await _start(live_app), username="alice", password="alice-password", deny=True
    )
    response = await live_app.client.get(_callback_path(redirect))
    assert response.status_code == 401
    assert response.json()["error"] == "login_failed"
    assert "set-cookie" not in response.headers
    reasons = await _audit_reasons(live_app, "auth.login_failed")
    assert any("access_denied" in r for r in reasons)


async def test_callback_without_code_never_falls_back_to_client_credentials(
    live_app: RunningApp,
) -> None:
    await _start(live_app)
    response = await live_app.client.get("/auth/callback?state=whatever")
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


async def test_state_mismatch_and_replay_fail(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    redirect = complete_login(
        harness_env, await _start(live_app), username="alice", password="alice-password"
    )
    parts = urlsplit(redirect)
    code = parse_qs(parts.query)["code"][0]
    forged = await live_app.client.get(f"/auth/callback?code={code}&state=forged-state-value")
    assert forged.status_code == 401
    first = await live_app.client.get(_callback_path(redirect))
    assert first.status_code == 302
    replay = await live_app.client.get(_callback_path(redirect))
    assert replay.status_code == 401


async def test_code_bound_to_another_login_fails_pkce_and_nonce(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    # Login A's code presented with login B's state: B's PKCE verifier and nonce apply,
    # so the IdP refuses the exchange (PKCE) and nothing is created.
    redirect_a = complete_login(
        harness_env, await _start(live_app), username="alice", password="alice-password"
    )
    state_b = parse_qs(urlsplit(await _start(live_app)).query)["state"][0]
    code_a = parse_qs(urlsplit(redirect_a).query)["code"][0]
    response = await live_app.client.get(f"/auth/callback?code={code_a}&state={state_b}")
    assert response.status_code == 401
    reasons = await _audit_reasons(live_app, "auth.login_failed")
    assert any("token exchange refused" in r for r in reasons)


async def test_id_token_with_another_nonce_is_rejected(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    tokens = get_access_token(harness_env, "alice", "alice-password", client="cp-web")
    assert tokens.id_token is not None
    oidc = live_app.state.oidc
    assert oidc is not None
    with pytest.raises(AuthenticationFailed) as caught:
        await verify_id_token(oidc, tokens.id_token, nonce="replayed", now=live_app.state.clock())
    assert caught.value.reason == "nonce mismatch"


async def test_browser_sessions_can_be_listed_and_revoked(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    # Two logins of the same user in two browsers.
    other = httpx.AsyncClient(transport=live_app.client._transport, base_url="http://testserver")
    async with other:
        for client in (live_app.client, other):
            response = await client.get("/auth/login")
            redirect = complete_login(
                harness_env, response.headers["location"], username="bob", password="bob-password"
            )
            assert (await client.get(_callback_path(redirect))).status_code == 302
        listed = (await live_app.client.get("/v1/me/sessions")).json()
        assert len(listed) == 2
        other_handle = next(s["handle"] for s in listed if not s["current"])
        csrf = (await live_app.client.get("/auth/session")).json()["csrf_token"]
        revoked = await live_app.client.delete(
            f"/v1/me/sessions/{other_handle}", headers={"X-CSRF-Token": csrf}
        )
        assert revoked.status_code == 204
        assert (await other.get("/auth/session")).status_code == 401


async def _login(client: httpx.AsyncClient, env: HarnessEnv, path: str = "/auth/login") -> str:
    """A full login in ``client``; the callback's redirect target."""
    started = await client.get(path)
    assert started.status_code == 302, started.text
    assert started.headers["cache-control"] == "no-store"
    redirect = complete_login(
        env, started.headers["location"], username="carol", password="carol-password"
    )
    landed = await client.get(_callback_path(redirect))
    assert landed.status_code == 302, landed.text
    assert landed.headers["cache-control"] == "no-store"
    return landed.headers["location"]


async def test_login_lands_on_a_page_that_exists_and_auth_responses_are_not_stored(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    assert await _login(live_app.client, harness_env) == "/auth/session"
    landing = await live_app.client.get("/auth/session")
    assert landing.status_code == 200
    assert landing.headers["cache-control"] == "no-store"
    sessions = await live_app.client.get("/v1/me/sessions")
    assert sessions.headers["cache-control"] == "no-store"
    csrf = landing.json()["csrf_token"]
    out = await live_app.client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.headers["cache-control"] == "no-store"


async def test_a_same_origin_return_to_is_where_the_login_lands(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    target = "/v1/me/sessions?view=all"
    landed = await _login(live_app.client, harness_env, f"/auth/login?return_to={quote(target)}")
    assert landed == target
    assert (await live_app.client.get(landed)).status_code == 200


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2e%2e//evil.example",
        "/a/../..//evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=y",
        "/caf\u00e9",
        "relative/path",
        "/" + "a" * 600,
        "",
    ],
)
async def test_an_open_redirect_return_to_is_refused_and_audited(
    live_app: RunningApp, return_to: str
) -> None:
    response = await live_app.client.get("/auth/login", params={"return_to": return_to})
    assert response.status_code == 422
    assert response.json()["error"] == "return_to_refused"
    assert "set-cookie" not in response.headers
    assert "evil" not in response.text
    reasons = await _audit_reasons(live_app, "auth.login_failed")
    assert reasons == ["return_to refused (not a same-origin relative path)"]


async def test_csrf_token_is_the_same_in_every_tab_and_new_at_the_next_login(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    await _login(live_app.client, harness_env)
    first = (await live_app.client.get("/auth/session")).json()["csrf_token"]
    # A second tab: the same browser's cookies, its own requests.
    tab = httpx.AsyncClient(
        transport=live_app.client._transport,
        base_url="http://testserver",
        cookies=live_app.client.cookies,
    )
    async with tab:
        assert (await tab.get("/auth/session")).json()["csrf_token"] == first
        assert (await live_app.client.get("/auth/session")).json()["csrf_token"] == first
        created = await live_app.client.post(
            "/v1/sessions", json={}, headers={"X-CSRF-Token": first}
        )
        assert created.status_code == 201, created.text
    # A new login is a new session with a new token; the old one does not carry over.
    await _login(live_app.client, harness_env)
    second = (await live_app.client.get("/auth/session")).json()["csrf_token"]
    assert second != first
    stale = await live_app.client.post("/v1/sessions", json={}, headers={"X-CSRF-Token": first})
    assert stale.status_code == 403
    fresh = await live_app.client.post("/v1/sessions", json={}, headers={"X-CSRF-Token": second})
    assert fresh.status_code == 201


async def test_over_https_both_cookies_are_host_prefixed_secure_and_cleared_as_set(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        env=harness_env,
        server={"public_base_url": "https://testserver"},
    )
    async with running_app(settings, clock=clock) as app:
        transport = httpx.ASGITransport(app=app.app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            started = await client.get("/auth/login")
            login_cookie = started.headers["set-cookie"]
            assert login_cookie.startswith("__Host-cp_login=")
            for attribute in ("HttpOnly", "Max-Age=600", "Path=/", "SameSite=lax", "Secure"):
                assert attribute in login_cookie
            assert "Domain" not in login_cookie
            redirect = complete_login(
                harness_env,
                started.headers["location"],
                username="carol",
                password="carol-password",
            )
            landed = await client.get(_callback_path(redirect))
            assert landed.status_code == 302, landed.text
            cookies = landed.headers.get_list("set-cookie")
            [session] = [c for c in cookies if c.startswith("__Host-cp_session=")]
            [cleared] = [c for c in cookies if c.startswith("__Host-cp_login=")]
            assert "Secure" in session
            assert "Max-Age=0" in cleared
            assert "Secure" in cleared
            csrf = (await client.get("/auth/session")).json()["csrf_token"]
            out = await client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
            [ended] = out.headers.get_list("set-cookie")
            assert ended.startswith("__Host-cp_session=")
            assert "Max-Age=0" in ended
            assert "Secure" in ended
