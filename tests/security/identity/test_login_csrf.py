"""Login CSRF and the callback's other bad inputs, against the real OIDC provider.

An attacker completes a login at the IdP with their own account and sends the victim the
callback URL (their code, their state). Each pending login is bound to a pre-login
cookie on the browser that began it, so in any other browser the callback is refused
before the code is redeemed: a clear 401, no session cookie, audited with its reason and
counted against the client address by the auth-failure detector (T-ID-7).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlmodel import col, select

from control_plane.audit.tables import AuditRecord
from control_plane.identity.pseudonym import pseudonymize_address
from control_plane.risk.detectors import window_index
from control_plane.risk.tables import Anomaly
from control_plane.store.uow import unit_of_work
from tests.support.app import FrozenClock, RunningApp, make_settings, running_app
from tests.support.harness import HarnessEnv
from tests.support.idp import complete_login

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

LOGIN_COOKIE = "cp_login"  # __Host-cp_login over https; the test app is plain http
SESSION_COOKIE = "cp_session"
VICTIM_ADDRESS = "192.0.2.7"


@asynccontextmanager
async def _browser(app: RunningApp, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookie jar) at a client address of its own."""
    transport = httpx.ASGITransport(app=app.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _idp_callback(
    client: httpx.AsyncClient, env: HarnessEnv, user: str = "carol", *, deny: bool = False
) -> str:
    """Begin a login in ``client`` and log in at the IdP; the callback path (not opened)."""
    started = await client.get("/auth/login")
    assert started.status_code == 302
    redirect = complete_login(
        env, started.headers["location"], username=user, password=f"{user}-password", deny=deny
    )
    parts = urlsplit(redirect)
    assert parts.path == "/auth/callback"
    return f"{parts.path}?{parts.query}"


async def _failures_counted(app: RunningApp, address: str) -> int:
    rule = app.state.risk.rules.auth_failures
    key = pseudonymize_address(app.state.keys.pseudonym_key, address)
    index = window_index(app.state.clock().timestamp(), rule.window_seconds)
    return await app.state.limiter.get(f"cp:det:auth:{key}:{index}")


async def _failed_logins(app: RunningApp) -> list[AuditRecord]:
    async with unit_of_work(app.state.engine) as tx:
        rows = await tx.exec(
            select(AuditRecord)
            .where(AuditRecord.event_type == "auth.login_failed")
            .order_by(col(AuditRecord.seq))
        )
        return list(rows.all())


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "login_failed"
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def _missing_cookie(victim: httpx.AsyncClient, attacker_callback: str) -> httpx.Response:
    return await victim.get(attacker_callback)


async def _victims_own_login_cookie(
    victim: httpx.AsyncClient, attacker_callback: str
) -> httpx.Response:
    # The victim has a login of its own in flight: its cookie is for another login.
    assert (await victim.get("/auth/login")).status_code == 302
    return await victim.get(attacker_callback)


async def _forged_cookie(victim: httpx.AsyncClient, attacker_callback: str) -> httpx.Response:
    victim.cookies.set(LOGIN_COOKIE, secrets.token_urlsafe(32))
    return await victim.get(attacker_callback)


async def _oversized_cookie(victim: httpx.AsyncClient, attacker_callback: str) -> httpx.Response:
    victim.cookies.set(LOGIN_COOKIE, "A" * 3000)
    return await victim.get(attacker_callback)


async def _garbage_cookie(victim: httpx.AsyncClient, attacker_callback: str) -> httpx.Response:
    victim.cookies.set(LOGIN_COOKIE, "%00<script>;'\"")
    return await victim.get(attacker_callback)


Variant = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]
VARIANTS: dict[str, tuple[Variant, str]] = {
    "missing cookie": (_missing_cookie, "login cookie missing (callback from another browser)"),
    "cookie from another login": (
        _victims_own_login_cookie,
        "login cookie does not match the login (another browser)",
    ),
    "forged cookie": (_forged_cookie, "login cookie does not match the login (another browser)"),
    "oversized cookie": (_oversized_cookie, "login cookie malformed"),
    "garbage cookie": (_garbage_cookie, "login cookie malformed"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
async def test_an_attackers_callback_opened_in_another_browser_logs_nobody_in(
    live_app: RunningApp, harness_env: HarnessEnv, variant: str
) -> None:
    attack, reason = VARIANTS[variant]
    async with (
        _browser(live_app, "198.51.100.9") as attacker,
        _browser(live_app, VICTIM_ADDRESS) as victim,
    ):
        attacker_callback = await _idp_callback(attacker, harness_env)
        before = await _failures_counted(live_app, VICTIM_ADDRESS)
        _assert_refused(await attack(victim, attacker_callback))
        assert await _failures_counted(live_app, VICTIM_ADDRESS) == before + 1
        assert (await victim.get("/auth/session")).status_code == 401
        [record] = [r for r in await _failed_logins(live_app) if r.reason == reason]
        assert record.outcome == "failure"
        victim_key = pseudonymize_address(live_app.state.keys.pseudonym_key, VICTIM_ADDRESS)
        assert record.details["address"] == victim_key
        assert set(record.details) == {"address"}  # no cookie, code or state recorded
        # A well-formed but foreign cookie spends the attacker's pending login; a missing
        # or malformed one is refused before the state is even looked up.
        followed = await attacker.get(attacker_callback)
        if reason.startswith("login cookie does not match"):
            assert followed.status_code == 401
        else:
            assert followed.status_code == 302


async def test_a_replayed_callback_is_refused_even_with_the_right_cookie(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    async with _browser(live_app, VICTIM_ADDRESS) as browser:
        callback = await _idp_callback(browser, harness_env)
        binding = browser.cookies[LOGIN_COOKIE]
        first = await browser.get(callback)
        assert first.status_code == 302
        # The successful callback clears the login cookie ...
        cleared = first.headers.get_list("set-cookie")
        assert any(c.startswith(f"{LOGIN_COOKIE}=") and "Max-Age=0" in c for c in cleared)
        assert LOGIN_COOKIE not in browser.cookies
        before = await _failures_counted(live_app, VICTIM_ADDRESS)
        # ... and a replay with the old cookie put back still fails: the state is spent.
        browser.cookies.set(LOGIN_COOKIE, binding)
        _assert_refused(await browser.get(callback))
        assert await _failures_counted(live_app, VICTIM_ADDRESS) == before + 1
    reasons = [r.reason for r in await _failed_logins(live_app)]
    assert reasons == ["state mismatch or login already completed"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("code=x&state=y&state=z", "callback parameter state repeated"),
        ("code=&state=y", "callback parameter code malformed"),
        (f"code=x&state={'s' * 3000}", "callback parameter state malformed"),
        ("state=y", "callback without code or state"),
        ("error=access_denied%20Robert%20Tables&state=y", "identity provider returned error other"),
    ],
)
async def test_malformed_callbacks_are_refused_audited_and_counted(
    live_app: RunningApp, query: str, reason: str
) -> None:
    async with _browser(live_app, VICTIM_ADDRESS) as browser:
        assert (await browser.get("/auth/login")).status_code == 302
        before = await _failures_counted(live_app, VICTIM_ADDRESS)
        _assert_refused(await browser.get(f"/auth/callback?{query}"))
        assert await _failures_counted(live_app, VICTIM_ADDRESS) == before + 1
    assert [r.reason for r in await _failed_logins(live_app)] == [reason]


async def test_idp_errors_and_refused_code_exchanges_are_counted(
    live_app: RunningApp, harness_env: HarnessEnv
) -> None:
    async with _browser(live_app, VICTIM_ADDRESS) as browser:
        denied = await _idp_callback(browser, harness_env, deny=True)
        _assert_refused(await browser.get(denied))
        # A code from this browser's first login presented with its second login's state:
        # the cookie matches the second login, the IdP refuses the exchange (PKCE).
        first = await _idp_callback(browser, harness_env)
        second = await _idp_callback(browser, harness_env)
        code = first.split("code=")[1].split("&")[0]
        state = second.split("state=")[1].split("&")[0]
        _assert_refused(await browser.get(f"/auth/callback?code={code}&state={state}"))
        # The refusal spent the second login's state (it survives the rollback): its own
        # code cannot be brought in afterwards.
        _assert_refused(await browser.get(second))
        # An authorization response naming another issuer (RFC 9207 mix-up).
        third = await _idp_callback(browser, harness_env)
        mixed = third.replace("iss=", "iss=https%3A%2F%2Fevil.example&x=")
        _assert_refused(await browser.get(mixed))
        assert await _failures_counted(live_app, VICTIM_ADDRESS) == 4
    reasons = [r.reason for r in await _failed_logins(live_app)]
    assert reasons == [
        "identity provider returned error access_denied",
        "token exchange refused: invalid_grant",
        "state mismatch or login already completed",
        "callback iss is not the configured issuer",
    ]


async def test_failed_callbacks_raise_an_auth_failures_anomaly(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    settings = make_settings(
        tmp_path, database_url=database_url, env=harness_env, risk={"auth_failure_threshold": 3}
    )
    async with running_app(settings, clock=clock) as app, _browser(app, VICTIM_ADDRESS) as victim:
        for _ in range(4):
            _assert_refused(await victim.get("/auth/callback?code=x&state=y"))
        async with unit_of_work(app.state.engine) as tx:
            anomalies = (await tx.exec(select(Anomaly))).all()
        assert [(a.rule, a.evidence["window_count"]) for a in anomalies] == [("auth_failures", 4)]


async def test_an_id_token_that_fails_verification_is_refused_and_counted(
    tmp_path: Path, database_url: str, harness_env: HarnessEnv, clock: FrozenClock
) -> None:
    # The IdP signs with RS256; an app that allows only EdDSA must refuse its ID token
    # after the (successful) code exchange.
    settings = make_settings(
        tmp_path, database_url=database_url, env=harness_env, oidc={"allowed_algorithms": ["EdDSA"]}
    )
    async with running_app(settings, clock=clock) as app, _browser(app, VICTIM_ADDRESS) as browser:
        callback = await _idp_callback(browser, harness_env)
        _assert_refused(await browser.get(callback))
        assert await _failures_counted(app, VICTIM_ADDRESS) == 1
        assert [r.reason for r in await _failed_logins(app)] == ["algorithm not allowed"]
