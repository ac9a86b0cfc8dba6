"""What every response carries, and what the OpenAPI document says about errors: the
security headers, no caching, CORS only for configured origins, /metrics by setting, and
the real error body documented for every declared error status (threat T-INFO-1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.app import RunningApp, make_settings, running_app

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def app(tmp_path: Path) -> AsyncIterator[RunningApp]:
    settings = make_settings(
        tmp_path,
        server={
            "cors_origins": ["https://console.example.com"],
            "public_base_url": "https://cp.example.com",
        },
    )
    async with running_app(settings) as running:
        yield running


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/auth/session"),  # a 401
        ("POST", "/v1/sessions"),  # a 401 with a body
        ("GET", "/no/such/route"),
        ("POST", "/webhooks/livekit"),
    ],
)
async def test_every_response_carries_the_security_headers_and_no_store(
    app: RunningApp, method: str, path: str
) -> None:
    response = await app.client.request(method, path, content=b"{}")
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert headers["strict-transport-security"].startswith("max-age=")


async def test_an_oversized_body_is_413_with_the_headers_too(app: RunningApp) -> None:
    response = await app.client.post("/v1/sessions", content=b"x" * (300 * 1024))
    assert response.status_code == 413
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_cors_answers_only_the_configured_origin_without_credentials(
    app: RunningApp,
) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = await app.client.options(
        "/v1/sessions", headers={"Origin": "https://console.example.com", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://console.example.com"
    assert "access-control-allow-credentials" not in allowed.headers
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = await app.client.options(
        "/v1/sessions", headers={"Origin": "https://evil.example", **preflight}
    )
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    simple = await app.client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


async def test_without_configured_origins_there_is_no_cors_at_all(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path)) as running:
        response = await running.client.options(
            "/v1/sessions",
            headers={
                "Origin": "https://console.example.com",
                "Access-Control-Request-Method": "POST",
            },
        )
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("server", "authorization", "status"),
    [
        ({}, None, 200),  # development default: public
        ({"metrics_public": False}, None, 404),  # off
        ({"metrics_public": False, "metrics_token": "m" * 40}, None, 401),
        ({"metrics_public": False, "metrics_token": "m" * 40}, "Bearer wrong", 401),
        ({"metrics_public": False, "metrics_token": "m" * 40}, "Bearer " + "m" * 40, 200),
    ],
)
async def test_metrics_are_public_only_by_setting(
    tmp_path: Path, server: dict[str, Any], authorization: str | None, status: int
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with running_app(make_settings(tmp_path, server=server)) as running:
        response = await running.client.get("/metrics", headers=headers)
    assert response.status_code == status, response.text
    if status == 200:
        assert "cp_http_requests_total" in response.text
    else:
        assert set(response.json()) == {"error", "detail", "request_id"}


async def test_the_openapi_document_describes_the_real_error_body_everywhere(
    app: RunningApp,
) -> None:
    document = (await app.client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert set(schemas["ErrorBody"]["required"]) == {"error", "detail", "request_id"}
    assert "HTTPValidationError" not in schemas
    assert "/webhooks/livekit" in document["paths"]
    webhook = document["paths"]["/webhooks/livekit"]["post"]["responses"]
    assert {"200", "400", "401", "413", "503"} <= set(webhook)
    operations = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            operations += 1
            responses = operation["responses"]
            if path != "/webhooks/livekit":
                assert {"400", "422", "503"} <= set(responses), (method, path)
            if "requestBody" in operation:
                assert "413" in responses, (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)
    assert operations > 30
    mint = document["paths"]["/v1/sessions/{session_id}/token"]["post"]["responses"]
    assert "409" in mint
