"""One error family for the whole service.

Every domain error extends one of the families below. The single handler in ``app.py``
renders ``{"error": code, "detail": message, "request_id": ...}``; the message is always
safe to show to a client (no tokens, claims, PII, SQL or tracebacks).
"""

from __future__ import annotations

from typing import ClassVar


class ControlPlaneError(Exception):
    """Base error: an HTTP status, a stable snake_case code and a safe message."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "internal error"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.default_message
        self.instance_code = code or self.code
        super().__init__(self.message)


class Unauthenticated(ControlPlaneError):
    status = 401
    code = "unauthenticated"
    default_message = "authentication required"


class Forbidden(ControlPlaneError):
    status = 403
    code = "forbidden"
    default_message = "not allowed"


class NotFound(ControlPlaneError):
    status = 404
    code = "not_found"
    default_message = "not found"


class Conflict(ControlPlaneError):
    status = 409
    code = "conflict"
    default_message = "conflict"


class PayloadTooLarge(ControlPlaneError):
    status = 413
    code = "payload_too_large"
    default_message = "request body too large"


class Invalid(ControlPlaneError):
    status = 422
    code = "invalid"
    default_message = "invalid request"


class RateLimited(ControlPlaneError):
    status = 429
    code = "rate_limited"
    default_message = "too many requests"

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ControlPlaneError):
    status = 503
    code = "unavailable"
    default_message = "service temporarily unavailable"


class ConfigError(Exception):
    """A setting is missing or unsafe; the message names the setting in one line."""


ERROR_FAMILIES: tuple[type[ControlPlaneError], ...] = (
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    Invalid,
    RateLimited,
    Unavailable,
)
