"""Logs never carry tokens, secrets, Authorization headers or cookie values."""

from __future__ import annotations

import io
import json
import logging

import structlog

from control_plane.logs import REDACTED, configure_logging, get_logger, scrub_text

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"


def _capture() -> io.StringIO:
    buffer = io.StringIO()
    configure_logging("DEBUG", stream=buffer)
    return buffer


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_sensitive_keys_are_dropped() -> None:
    buffer = _capture()
    get_logger("t").info(
        "auth.check",
        authorization=f"Bearer {JWT}",
        cookie="cp_session=abcdef0123456789",
        api_secret="s3cr3t-value",
        password="hunter2",
        transcript_text="my card is 4111 1111 1111 1111",
        request_id="req-1",
    )
    (line,) = _lines(buffer)
    for key in ("authorization", "cookie", "api_secret", "password", "transcript_text"):
        assert line[key] == REDACTED
    assert line["request_id"] == "req-1"
    assert "4111" not in buffer.getvalue()
    assert "hunter2" not in buffer.getvalue()


def test_tokens_inside_free_text_are_masked() -> None:
    buffer = _capture()
    get_logger("t").warning("livekit.said", reason=f"invalid token: {JWT}, error: expired")
    assert JWT not in buffer.getvalue()
    assert REDACTED in buffer.getvalue()


def test_stdlib_records_from_libraries_are_scrubbed() -> None:
    buffer = _capture()
    logging.getLogger("uvicorn.error").warning(
        "GET /rtc?access_token=%s&room=r Authorization: Bearer abcdefghijklmnop", JWT
    )
    text = buffer.getvalue()
    assert JWT not in text
    assert "abcdefghijklmnop" not in text


def test_query_string_credentials_are_masked() -> None:
    masked = scrub_text("/auth/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz123")
    assert "SplxlOBeZQQYbYS6WxSbIA" not in masked
    assert "xyz123" not in masked


def teardown_module() -> None:
    structlog.reset_defaults()
    logging.getLogger().handlers = []
