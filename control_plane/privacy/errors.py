"""Privacy errors: safe messages only (never transcript text, ids of other subjects or keys)."""

from __future__ import annotations

from control_plane.errors import Conflict, Forbidden, Unauthenticated


class WorkerAuthenticationFailed(Unauthenticated):
    """Any worker-credential failure; the exact reason goes to the audit log only."""


class CredentialSessionMismatch(Forbidden):
    code = "credential_session_mismatch"
    default_message = "the worker credential is bound to another session"


class TranscriptClosed(Conflict):
    code = "transcript_closed"
    default_message = "the session has ended; its transcript is closed"


class ErasureBlocked(Conflict):
    code = "erasure_blocked_legal_hold"
    default_message = (
        "erasure is suspended: the data is under a legal hold (GDPR Art. 17(3)(e)); "
        "the request was recorded"
    )
