"""The real server (``control-plane serve``) bounds slow and oversized requests itself,
with no proxy in front: raw sockets against a running process (threats T-DOS-4, T-DOS-5).

No assertion here is about how long anything took: each test waits (with a generous
socket timeout) for the server to answer and close, and checks what it answered.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from tests.support.served import ServedApp, read_response

pytestmark = pytest.mark.integration

MAX_HEADER_BYTES = 8192
MAX_BODY_BYTES = 4096


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    app = ServedApp(
        tmp_path_factory.mktemp("served"),
        {
            "CONTROL_PLANE_SERVER__MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
            "CONTROL_PLANE_SERVER__MAX_BODY_BYTES": str(MAX_BODY_BYTES),
            "CONTROL_PLANE_SERVER__HEADER_TIMEOUT_SECONDS": "1",
            "CONTROL_PLANE_SERVER__BODY_TIMEOUT_SECONDS": "1",
            "CONTROL_PLANE_LIVEKIT__WEBHOOK_API_KEY": "cp-webhook",
            "CONTROL_PLANE_LIVEKIT__WEBHOOK_API_SECRET": "w" * 40,
        },
    )
    try:
        yield app
    finally:
        app.stop()


def _head(path: str = "/healthz", method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: cp\r\nConnection: close\r\n{extra}\r\n".encode()


def _send_ignoring_reset(sock: socket.socket, data: bytes) -> None:
    # The server refusing and closing before we finished is the point.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def test_a_request_head_within_the_limit_is_served(served: ServedApp) -> None:
    pad = "a" * (MAX_HEADER_BYTES - 200)
    with served.connect() as sock:
        sock.sendall(_head(extra=f"X-Pad: {pad}\r\n"))
        status, _ = read_response(sock)
    assert status == 200


@pytest.mark.parametrize("size", [MAX_HEADER_BYTES + 1, 64 * 1024, 8 * 1024 * 1024])
def test_a_request_head_over_the_limit_is_431_and_closed(served: ServedApp, size: int) -> None:
    with served.connect() as sock:
        _send_ignoring_reset(sock, b"GET /healthz HTTP/1.1\r\nHost: cp\r\nX-Pad: " + b"a" * size)
        status, response = read_response(sock)
    assert status == 431
    assert b'"error": "request_header_fields_too_large"' in response
    assert served.is_healthy()


def test_many_small_headers_over_the_limit_are_431(served: ServedApp) -> None:
    headers = "".join(f"X-H{i}: v\r\n" for i in range(2000))
    with served.connect() as sock:
        _send_ignoring_reset(sock, _head(extra=headers))
        status, _ = read_response(sock)
    assert status == 431


def test_a_connection_that_sends_nothing_is_timed_out(served: ServedApp) -> None:
    with served.connect() as sock:
        status, response = read_response(sock)
    assert status == 408
    assert b"request_timeout" in response


def test_a_head_sent_slowly_is_timed_out(served: ServedApp) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: cp\r\n")
        # One header byte at a time, never finishing the head, until the server closes.
        sock.settimeout(0.2)
        received = b""
        for _ in range(600):
            _send_ignoring_reset(sock, b"X")
            try:
                received += sock.recv(65536)
            except TimeoutError:
                continue
            if received:
                break
        sock.settimeout(60)
        _, rest = read_response(sock)
    assert (received + rest).startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize("path", ["/webhooks/livekit", "/v1/sessions"])
def test_a_body_that_stops_arriving_is_timed_out(served: ServedApp, path: str) -> None:
    with served.connect() as sock:
        sock.sendall(_head(path, "POST", "Content-Length: 1000\r\n") + b'{"id": ')
        status, response = read_response(sock)
    assert status == 408
    assert b"request body not received in time" in response


def test_a_body_drip_fed_byte_by_byte_is_timed_out(served: ServedApp) -> None:
    # Each byte arrives well within any idle timeout; the body as a whole never does.
    with served.connect() as sock:
        sock.sendall(_head("/webhooks/livekit", "POST", "Content-Length: 4000\r\n"))
        sock.settimeout(0.2)
        received = b""
        for _ in range(600):
            _send_ignoring_reset(sock, b" ")
            try:
                received += sock.recv(65536)
            except TimeoutError:
                continue
            if received:
                break
        sock.settimeout(60)
        _, rest = read_response(sock)
    assert (received + rest).startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize("path", ["/webhooks/livekit", "/v1/sessions"])
def test_a_chunked_body_over_the_limit_is_413(served: ServedApp, path: str) -> None:
    chunk = b"x" * 1024
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
    head = _head(path, "POST", "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n")
    with served.connect() as sock:
        _send_ignoring_reset(sock, head + body)
        status, response = read_response(sock)
    assert status == 413, response
    assert b"payload_too_large" in response


@pytest.mark.parametrize("path", ["/webhooks/livekit", "/v1/sessions"])
def test_a_client_gone_mid_body_leaves_no_error_and_no_traceback(
    served: ServedApp, path: str
) -> None:
    before = served.output()
    with served.connect() as sock:
        sock.sendall(_head(path, "POST", "Content-Length: 1000\r\n") + b'{"id": "EV')
        time.sleep(0.2)  # let the server start reading (not an assertion on timing)
    assert served.is_healthy()
    for _ in range(50):  # the disconnect is handled asynchronously; wait for its log line
        if "http.client_disconnected" in served.output()[len(before) :]:
            break
        time.sleep(0.1)
    log = served.output()[len(before) :]
    assert "Traceback" not in log
    assert "Exception in ASGI application" not in log
    assert "http.unhandled_error" not in log
    assert "status_code=500" not in log
