"""Identity errors. Every authentication failure looks the same to the client."""

from __future__ import annotations

from control_plane.errors import Forbidden, Invalid, NotFound, Unauthenticated, Unavailable


class AuthenticationFailed(Unauthenticated):
    """The exact reason is kept for the audit log; the client sees the generic message."""

    def __init__(self, reason: str) -> None:
        super().__init__("authentication required")
        self.reason = reason


class CsrfRejected(Forbidden):
    code = "csrf_rejected"
    default_message = "missing or invalid CSRF token"


class LoginFailed(Unauthenticated):
    code = "login_failed"
    default_message = "login failed; start again"

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class IdentityProviderUnavailable(Unavailable):
    code = "idp_unavailable"
    default_message = "identity provider unavailable"


class ReturnToRefused(Invalid):
    """A ``return_to`` that is not a same-origin relative path: refused, never followed."""

    code = "return_to_refused"
    default_message = "return_to must be a relative path on this site"


class SubjectNotFound(NotFound):
    code = "subject_not_found"
    default_message = "subject not found"
