"""The HTTP server's own limits on slow and oversized requests (threats T-DOS-4, T-DOS-5).

Production must not depend on a proxy in front for these. uvicorn (httptools) has no
limit on the size of a request head and no timeout on reading one or its body: it arms
its keep-alive timer only after a response, so a connection that sends its headers or
body a byte at a time (or nothing at all) is held open for ever, and a head of 8 MB was
accepted. ``guarded_protocol`` subclasses uvicorn's httptools protocol with:

- ``max_header_bytes``: the request line and headers of a request must fit in this many
  bytes, or the answer is 431 and the connection is closed. The head is fed to the parser
  at most up to the budget, so nothing past it is buffered. (A pipelined request's head
  that arrives in the same read as the previous request's body is fed with it: bounded
  by the read size, 256 KiB, as well.)
- ``header_timeout_seconds``: from the connection's first byte (or its opening) to the
  end of a request head; 408 and closed past it. Idle time between requests is the
  keep-alive timeout's business, as before.
- ``body_timeout_seconds``: from the end of the head to the end of the body; 408 (or a
  plain close once a response started) past it. Time the server itself holds the body
  up (flow control: the app is not reading) does not count against the client.

A refused request gets the usual error body; the app's own answer, if it later tries one,
is dropped (the cycle is marked disconnected, so its ``receive`` says so).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from control_plane.logs import get_logger

_log = get_logger("control_plane.http")
_BACKPRESSURE_RECHECK_SECONDS = 1.0


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout_seconds: float
    body_timeout_seconds: float


def _error_response(status: int, code: str, detail: str) -> bytes:
    body = json.dumps({"error": code, "detail": detail, "request_id": ""}).encode()
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with these limits (pass as ``uvicorn.run(http=...)``)."""

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        # Any: uvicorn's constructor arguments, passed through unchanged.
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # Bytes the current request head may still take; None while reading a body.
            self._head_budget: int | None = limits.max_header_bytes
            self._deadline: asyncio.TimerHandle | None = None

        # -- timers ---------------------------------------------------------------

        def _arm(self, seconds: float, on_expiry: str) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, getattr(self, on_expiry))

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _in_flight(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _head_expired(self) -> None:
            self._deadline = None
            if self._in_flight() and self._head_budget is not None:
                # A pipelined head while our previous answer is being computed (reading
                # is paused): the wait is ours, not the client's.
                self._arm(limits.header_timeout_seconds, "_head_expired")
                return
            self._refuse(408, "request_timeout", "request headers not received in time")

        def _body_expired(self) -> None:
            self._deadline = None
            if self.flow is not None and self.flow.read_paused:
                self._arm(_BACKPRESSURE_RECHECK_SECONDS, "_body_expired")
                return
            self._refuse(408, "request_timeout", "request body not received in time")

        def _refuse(self, status: int, code: str, detail: str) -> None:
            _log.info("http.request_refused", status_code=status, reason=code)
            cycle = self.cycle if self._in_flight() else None
            if self.transport.is_closing():
                return
            if cycle is None or not cycle.response_started:
                self.transport.write(_error_response(status, code, detail))
            if cycle is not None:
                # The app's receive() now reports a disconnect; its send() does nothing.
                cycle.disconnected = True
                cycle.message_event.set()
            self.transport.close()

        # -- protocol -------------------------------------------------------------

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(limits.header_timeout_seconds, "_head_expired")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            while data and not self.transport.is_closing():
                budget = self._head_budget
                if budget is None:  # a body: its own deadline runs
                    super().data_received(data)
                    return
                if self._deadline is None:  # the first byte of a request head
                    self._arm(limits.header_timeout_seconds, "_head_expired")
                chunk, data = data[:budget], data[budget:]
                self._head_budget = budget - len(chunk)
                super().data_received(chunk)
                if self._head_budget == 0 and not self.transport.is_closing():
                    self._refuse(
                        431, "request_header_fields_too_large", "request headers too large"
                    )
                    return

        def on_headers_complete(self) -> None:
            self._head_budget = None
            self._arm(limits.body_timeout_seconds, "_body_expired")
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            self._head_budget = limits.max_header_bytes
            super().on_message_complete()

    return GuardedHttpToolsProtocol
