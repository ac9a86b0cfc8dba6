"""The app skeleton: error rendering, request ids, body limits, health and readiness."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.app import make_settings, running_app

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


async def test_validation_errors_never_echo_the_input(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path)) as app:
        canary = "eyJhbGciOiJub25lIn0.canary-value"
        response = await app.client.post(
            "/v1/sessions",
            json={"ttl_seconds": canary},
            headers={"Authorization": "Bearer x"},
        )
        assert response.status_code in (401, 422)
        assert canary not in response.text


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
