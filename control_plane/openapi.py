"""The OpenAPI document describes the error bodies the app really sends.

Every error is ``{"error", "detail", "request_id"}`` (app.py's handlers), never FastAPI's
validation array. Each operation documents that body for each status it declares, and
for those any route can answer: 400 (a body that could not be read), 422 (invalid
input), 503 (a store or a dependency down), 500; and 413 where a body is taken. The
LiveKit webhook (a plain Starlette route, invisible to FastAPI) is described by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

ERROR_SCHEMA = "ErrorBody"
_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
_DESCRIPTIONS = {
    400: "the request could not be read (a body that is not JSON, or cut short)",
    401: "not authenticated",
    403: "denied by policy",
    404: "not found",
    409: "conflicts with the current state",
    413: "request body too large",
    422: "invalid input (the first problem, never the value)",
    429: "rate limited (Retry-After)",
    500: "internal error",
    503: "a store or a dependency is unavailable (retry)",
}
_ALWAYS = (400, 422, 500, 503)
_WEBHOOK_PATH = "/webhooks/livekit"


class ErrorBody(BaseModel):
    """Every error response."""

    model_config = ConfigDict(frozen=True)

    error: str = Field(description="stable snake_case code", examples=["unauthenticated"])
    detail: str = Field(description="safe, human-readable message")
    request_id: str = Field(description="echoed in X-Request-Id; quote it when reporting")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these statuses, each with the real error body."""
    # Any: OpenAPI response objects are free-form JSON.
    return {
        status: {"description": _DESCRIPTIONS[status], "model": ErrorBody} for status in statuses
    }


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": dict(_REF)}}


def _webhook_operation() -> dict[str, Any]:
    ack = {
        "type": "object",
        "properties": {"received": {"type": "boolean"}, "duplicate": {"type": "boolean"}},
        "required": ["received", "duplicate"],
    }
    errors = {
        400: "signed, but not acceptable (stale, malformed): not retried by LiveKit",
        401: "not signed by LiveKit for this body",
        413: "request body too large",
        503: "not stored: LiveKit retries",
    }
    return {
        "post": {
            "tags": ["livekit"],
            "summary": "LiveKit webhook: verified, stored once, acknowledged",
            "operationId": "livekit_webhook",
            "security": [],
            "parameters": [
                {
                    "name": "Authorization",
                    "in": "header",
                    "required": True,
                    "description": "LiveKit's signed JWT (no Bearer prefix) over the body",
                    "schema": {"type": "string"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/webhook+json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": {
                    "description": "durable (a duplicate id is acknowledged too)",
                    "content": {"application/json": {"schema": ack}},
                },
                **{
                    str(status): {"description": text, "content": _error_content()}
                    for status, text in errors.items()
                },
            },
        }
    }


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """The generated document with every error response pointing at ``ErrorBody``."""
    # Any: the OpenAPI document is free-form JSON.
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            wanted: set[int] = set() if path == _WEBHOOK_PATH else set(_ALWAYS)  # by hand
            if "requestBody" in operation:
                wanted.add(413)
            for code in wanted:
                responses.setdefault(str(code), {"description": _DESCRIPTIONS[code]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = _error_content()
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_SCHEMA] = ErrorBody.model_json_schema()
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the corrected document (built once, on first request)."""

    def build() -> dict[str, Any]:
        # Any: the OpenAPI document is free-form JSON.
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, routes=app.routes, tags=app.openapi_tags
            )
            schema.setdefault("paths", {})[_WEBHOOK_PATH] = _webhook_operation()
            app.openapi_schema = document_errors(schema)
        return app.openapi_schema

    openapi: Callable[[], dict[str, Any]] = build
    app.openapi = openapi  # type: ignore[method-assign]
