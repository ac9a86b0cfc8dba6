"""Session errors."""

from __future__ import annotations

from control_plane.errors import Conflict, Invalid, NotFound, Unavailable


class SessionNotFound(NotFound):
    code = "session_not_found"
    default_message = "session not found"


class SessionEnded(Conflict):
    code = "session_ended"
    default_message = "session has ended"


class InviteInvalid(Invalid):
    code = "invite_invalid"
    default_message = "invite code invalid, expired or already used"


class TtlTooLong(Invalid):
    code = "ttl_too_long"
    default_message = "requested token lifetime exceeds the configured cap"


class SubjectErasing(Conflict):
    code = "subject_erasing"
    default_message = "subject is being erased"


class SelfLockRefused(Conflict):
    """Locking one's own subject would lock the caller out (and could leave no active
    administrator to unlock anyone)."""

    code = "self_lock_refused"
    default_message = "you cannot lock your own subject"


class MintUnavailable(Unavailable):
    """The mint could not be recorded (or not in time): no token (fail closed)."""

    code = "store_unavailable"
    default_message = "storage unavailable"
