"""Structured JSON logs that never carry tokens, secrets, cookies, transcript text or PII.

Every log line passes through :func:`scrub`, which drops values under sensitive keys and
masks anything that looks like a bearer credential (a JWT, a ``Bearer`` header) wherever it
appears, including inside free-text messages (threat T-LOG-1 in the threat model).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"

_SENSITIVE_KEY = re.compile(
    r"(token|secret|password|passwd|authorization|cookie|session_id|api_key|apikey|"
    r"credential|private|kek|jwt|text|transcript|email|phone|name$|^name|address|ssn|"
    r"card|claims|id_token|code_verifier|^code$|nonce|state$)",
    re.IGNORECASE,
)
_SAFE_KEYS = frozenset(
    {
        "event",
        "level",
        "timestamp",
        "logger",
        "request_id",
        "status_code",
        "method",
        "path",
        "duration_ms",
        "error_code",
        "subject",
        "session",
        "room",
        "decision_id",
        "policy_version",
        "event_type",
        "event_id",
        "count",
        "reason",
        "service",
        "state",
        "token_id",
        "text_length",
        "entity_counts",
        "worker",
        "address_hash",
    }
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_QUERY_SECRET = re.compile(r"(?i)([?&](access_token|token|code|state|id_token_hint)=)[^&\s]+")


def scrub_text(value: str) -> str:
    """Mask bearer credentials inside free text."""
    value = _JWT.sub(REDACTED, value)
    value = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", value)


def _scrub_value(key: str, value: object) -> object:
    if key not in _SAFE_KEYS and _SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {str(k): _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(key, v) for v in value]
    return value


def scrub(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop sensitive keys, mask credentials in every string value."""
    # Any: structlog's event dict is untyped by design.
    for key in list(event_dict):
        event_dict[key] = _scrub_value(key, event_dict[key])
    return event_dict


class _ScrubbingFilter(logging.Filter):
    """Applies the same masking to third-party stdlib log records (uvicorn, httpx, livekit)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = scrub_text(message)
        record.args = None
        return True


def configure_logging(level: str = "INFO", *, stream: Any = None) -> None:
    """Route structlog and stdlib logging to one JSON stream through the scrubber."""
    # Any: a text stream (sys.stderr by default or a test's buffer).
    out = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        scrub,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.addFilter(_ScrubbingFilter())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(), foreign_pre_chain=shared
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A structured logger; values go through :func:`scrub` before they are written."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
