"""Pure ASGI middleware: request ids, body size limit, access log and request metrics."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from control_plane.logs import get_logger

# A client's X-Request-Id reaches logs, error bodies and the immutable audit chain, so
# only a value shaped like a generated id is kept: an RFC 9562 UUID or 32 hex digits (our
# own form). Anything else (a name, a card number with letters, free text) is replaced
# by a server id (T-PRIV-4).
_REQUEST_ID = re.compile(
    r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)


def accepted_request_id(supplied: str) -> str | None:
    """The client's request id in canonical (lower-case) form if it is a plain token."""
    value = supplied.strip().lower()
    return value if _REQUEST_ID.fullmatch(value) else None


_log = get_logger("control_plane.http")


class HttpMetrics:
    """Request counters and latency histograms in the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "cp_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "cp_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    """Assigns a request id (echoed in ``X-Request-Id``), logs and measures each request.

    A client-supplied ``X-Request-Id`` is kept only if it is a plain id
    (``accepted_request_id``). The access log names the route template, never the raw
    path or query string: a path can carry anything a client typed (T-PRIV-4), a query
    LiveKit-style ``access_token`` parameters and OAuth codes.
    """

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                supplied = value.decode("latin-1")
        request_id = accepted_request_id(supplied) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(elapsed)
            if status >= 400 or route == "unmatched":
                _log.info(
                    "http.request",
                    method=scope["method"],
                    path=route,
                    status_code=status,
                    duration_ms=round(elapsed * 1000, 2),
                    request_id=request_id,
                )


class BodySizeLimitMiddleware:
    """Rejects bodies over the limit with 413 before the app reads them (no 5xx, no OOM)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await _reject_too_large(scope, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _reject_too_large(scope, send)


class _BodyTooLarge(Exception):
    pass


async def _reject_too_large(scope: Scope, send: Send) -> None:
    request_id = scope.get("state", {}).get("request_id", "")
    body = (
        '{"error":"payload_too_large","detail":"request body too large","request_id":"'
        + request_id
        + '"}'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
