"""Redaction never writes raw transcript text to any log, at any level."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog

from control_plane.logs import configure_logging
from control_plane.privacy.redaction import PlaceholderMap, Redactor
from control_plane.privacy.redaction.cli import run_redact_stream

CANARY = "Zebracanary Quux"
PII = [CANARY, "zebra dot quux at gmail dot com", "five five five, eight six seven", "078-05-1120"]
TEXT = (
    f"Hi, this is {CANARY}, my email is zebra dot quux at gmail dot com, my number is "
    "five five five, eight six seven, five three oh nine and my SSN is 078-05-1120."
)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Route structlog and stdlib logging at DEBUG into a buffer; restore afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_config = structlog.get_config()
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    try:
        yield stream
    finally:
        structlog.configure(**saved_config)
        root.handlers, root.level = saved_handlers, saved_level


def test_no_log_record_carries_the_text(
    redactor: Redactor, log_stream: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = redactor.redact(TEXT, placeholders=PlaceholderMap())
    redactor.redact_many([TEXT, TEXT])
    run_redact_stream(
        redactor, io.StringIO('{"id": 1, "text": "' + TEXT + '"}\n{"id": 2'), io.StringIO()
    )
    assert CANARY not in result.redacted
    logged = log_stream.getvalue() + caplog.text
    assert "privacy.redacted" in logged  # the debug event was written ...
    for value in PII:
        assert value not in logged  # ... but never with the text
