"""The app skeleton: error rendering, request ids, body limits, health and readiness."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from control_plane.identity.browser import create_browser_session
from control_plane.identity.deps import CSRF_HEADER, cookie_name
from control_plane.identity.types import AuthMethod, Principal, SubjectId
from control_plane.store.uow import unit_of_work
from tests.support.app import RunningApp, make_settings, running_app

pytestmark = pytest.mark.asyncio


async def test_health_is_up_and_readiness_names_the_missing_dependency(tmp_path: Path) -> None:
    # LiveKit on a closed port: /readyz fails naming it, /healthz stays up.
    settings = make_settings(tmp_path, livekit={"url": "http://127.0.0.1:9"})
    async with running_app(settings) as app:
        assert (await app.client.get("/healthz")).status_code == 200
        ready = await app.client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["error"] == "unavailable"
        assert "livekit" in body["detail"]
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["policies"]["ok"] is True


async def test_errors_have_one_shape_and_a_request_id(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path)) as app:
        response = await app.client.get("/no/such/route")
        assert response.status_code == 404
        body = response.json()
        assert set(body) == {"error", "detail", "request_id"}
        assert body["request_id"] == response.headers["x-request-id"]


async def _browser_login(app: RunningApp) -> dict[str, str]:
    """A real browser session in the app's store (no IdP needed): its cookie and CSRF header."""
    state = app.state
    principal = Principal(
        subject_id=SubjectId("sub_" + "a" * 32),
        tenant="tenant-a",
        groups=frozenset({"members"}),
        email_verified=True,
        amr=("pwd",),
        acr=None,
        auth_time=state.clock(),
        method=AuthMethod.BROWSER,
    )
    async with unit_of_work(state.engine) as tx:
        session = await create_browser_session(
            tx,
            principal=principal,
            settings=state.settings.browser,
            session_secret=state.keys.session_secret,
            now=state.clock(),
        )
    app.client.cookies.set(cookie_name(state), session.cookie_value)
    return {CSRF_HEADER: session.csrf_token}


async def test_validation_errors_never_echo_the_input(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path)) as app:
        headers = await _browser_login(app)
        canary = "eyJhbGciOiJub25lIn0.canary-value"
        response = await app.client.post(
            "/v1/sessions", json={"ttl_seconds": canary}, headers=headers
        )
        assert response.status_code == 422  # authenticated, so validation is reached
        body = response.json()
        assert body["error"] == "invalid"
        assert set(body) == {"error", "detail", "request_id"}
        assert canary not in response.text
        assert "canary" not in response.text


async def test_oversized_body_is_413_not_5xx(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, server={"max_body_bytes": 2048})
    async with running_app(settings) as app:
        response = await app.client.post("/v1/sessions", content=b"x" * 10_000)
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"


async def test_client_request_id_is_kept_only_when_plain(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path)) as app:
        plain = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
        kept = await app.client.get("/healthz", headers={"X-Request-Id": plain.upper()})
        assert kept.headers["x-request-id"] == plain
        for chosen in ("<script>", "abc-12345", "JohnSmith-4111-1111-1111-1111", "x" * 32):
            replaced = await app.client.get("/healthz", headers={"X-Request-Id": chosen})
            assert replaced.headers["x-request-id"] != chosen
            assert re.fullmatch("[0-9a-f]{32}", replaced.headers["x-request-id"])


async def test_metrics_are_prometheus_text(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path)) as app:
        await app.client.get("/healthz")
        metrics = await app.client.get("/metrics")
        assert metrics.status_code == 200
        assert "cp_http_requests_total" in metrics.text
