"""Pure ASGI middleware: request ids, body size limit, access log and request metrics."""

from __future__ import annotations

import json
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


# Every response is JSON (or NDJSON, or Prometheus text): nothing may run, load or frame
# it. Swagger UI (development only) loads its script and styles from a CDN.
API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' https://cdn.jsdelivr.net; "
    b"img-src 'self' data: https://fastapi.tiangolo.com; "
    b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})


class SecurityHeadersMiddleware:
    """Security headers on every response (threat T-INFO-1): CSP with ``frame-ancestors
    'none'`` (and X-Frame-Options for old browsers), nosniff, no Referer, HSTS when served
    over https, and ``Cache-Control: no-store`` unless the route chose its own. Tokens,
    CSRF tokens, exports and every per-user answer must stay out of shared and browser
    caches; no response here is meant to be cached."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in DOCS_PATHS else API_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [
                    (b"content-security-policy", csp),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f]")


# In a JSON text: an escaped NUL, or an escaped UTF-16 surrogate without its partner.
_UNSTORABLE_ESCAPE = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|(?<![dD][89abAB][0-9a-fA-F]{2}\\u)[dD][c-fC-F][0-9a-fA-F]{2})"
)
_ESCAPE_OVERLAP = 16  # bytes kept from one chunk to scan across the next one's start


class RequestGuardMiddleware:
    """What no route may see, refused before one runs, with one pass over the body.

    - A path with control characters matches no route (404); a query with a NUL is
      invalid (422). PostgreSQL (or any UTF-8 encoder) cannot store either: each made
      every route taking such input a 503 (threat T-DOS-6).
    - A body over ``max_bytes`` gets 413, never a 5xx or a 400, and is never read whole:
      a declared ``Content-Length`` over the limit is refused before the app runs, a
      chunked body is counted as it is read (threat T-DOS-4).
    - A JSON body with an escaped NUL or lone surrogate is invalid (422, T-DOS-6), except
      on ``raw_body_paths``: the webhook route takes its signed body as is and has its
      own rules (livekit/webhook.py, T-WH-4).

    On a refusal mid-body the answer is sent at once, the app is told the client went
    away (``http.disconnect``) and whatever it sends afterwards is dropped. Raising
    through the app instead let FastAPI's body parsing turn the error into a 400.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, raw_body_paths: frozenset[str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.raw_body_paths = raw_body_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _CONTROL_CHARS.search(scope["path"]):
            await _reject(scope, send, 404, "not_found", "not found")
            return
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            await _reject(scope, send, 422, "invalid", "query: NUL character")
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
        scan_escapes = scope["path"] not in self.raw_body_paths
        received = 0
        tail = b""
        refused = answered = started = False

        async def refuse(status: int, code: str, detail: str) -> Message:
            nonlocal refused, answered
            refused = True
            if not started:
                answered = True
                await _reject(scope, send, status, code, detail, close=True)
            return {"type": "http.disconnect"}

        async def checked_receive() -> Message:
            nonlocal received, tail
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                return await refuse(413, "payload_too_large", "request body too large")
            if scan_escapes:
                window = tail + chunk
                if _UNSTORABLE_ESCAPE.search(window):
                    detail = "body: NUL or unpaired surrogate in a string"
                    return await refuse(422, "invalid", detail)
                tail = window[-_ESCAPE_OVERLAP:]
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the refusal is the answer
            started = True
            await send(message)

        await self.app(scope, checked_receive, guarded_send)


async def _reject_too_large(scope: Scope, send: Send) -> None:
    await _reject(scope, send, 413, "payload_too_large", "request body too large", close=True)


async def _reject(
    scope: Scope, send: Send, status: int, code: str, detail: str, *, close: bool = False
) -> None:
    request_id = scope.get("state", {}).get("request_id", "")
    body = json.dumps({"error": code, "detail": detail, "request_id": request_id}).encode()
    headers = [(b"content-type", b"application/json")]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
