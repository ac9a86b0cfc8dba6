"""Dispatch metadata: the only input that tells a job which session and which user it serves.

The control plane writes it into ``CreateAgentDispatch.metadata``; anyone who can create a
dispatch (a holder of a room-admin key) could too, so it is parsed as untrusted input:
bounded size, exact types, bounded field lengths and a strict alphabet for identifiers.
A job whose metadata does not parse is refused, never run with defaults.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Final

from control_plane.agents.credentials import MAX_CREDENTIAL_BYTES
from control_plane.errors import Invalid

MAX_METADATA_BYTES: Final = 8192
MAX_ID_LENGTH: Final = 128
# LiveKit identities are at most 256 bytes; the control plane mints subject pseudonyms.
MAX_IDENTITY_LENGTH: Final = 256
REQUIRED_FIELDS: Final = (
    "session_id",
    "decision_id",
    "participant_identity",
    "retention_class",
    "credential",
)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
# Identities may also carry LiveKit's "#suffix" and "@" (e-mail-like subjects are pseudonymised
# upstream, but an '@' is legal in an identity); never whitespace or control characters.
_IDENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@#+=-]*$")
_RETENTION = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# A bearer credential (a JWT): base64url segments and dots only.
_CREDENTIAL = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){0,4}$")


class InvalidDispatchMetadata(Invalid):
    """The job's metadata is missing, malformed or oversized; the job must not run."""

    code = "invalid_dispatch_metadata"


@dataclass(frozen=True)
class DispatchMetadata:
    """A parsed dispatch: which session, which user to listen to, and how to report."""

    session_id: str
    decision_id: str
    participant_identity: str
    retention_class: str
    credential: str = field(repr=False)


def parse_dispatch_metadata(raw: str | None) -> DispatchMetadata:
    """Parse and validate job metadata; raise :class:`InvalidDispatchMetadata` with a safe reason.

    The reason names the field and the rule, never the value (values may be credentials).
    """
    if raw is None or not raw.strip():
        raise InvalidDispatchMetadata("dispatch metadata missing")
    if len(raw.encode("utf-8")) > MAX_METADATA_BYTES:
        raise InvalidDispatchMetadata("dispatch metadata oversized")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidDispatchMetadata("dispatch metadata is not JSON") from exc
    if not isinstance(document, dict):
        raise InvalidDispatchMetadata("dispatch metadata is not a JSON object")
    missing = [name for name in REQUIRED_FIELDS if name not in document]
    if missing:
        raise InvalidDispatchMetadata(f"dispatch metadata lacks {', '.join(missing)}")
    values = {name: _string(document, name) for name in REQUIRED_FIELDS}
    _check(values["session_id"], "session_id", _ID, MAX_ID_LENGTH)
    _check(values["decision_id"], "decision_id", _ID, MAX_ID_LENGTH)
    _check(values["participant_identity"], "participant_identity", _IDENTITY, MAX_IDENTITY_LENGTH)
    _check(values["retention_class"], "retention_class", _RETENTION, 32)
    _check(values["credential"], "credential", _CREDENTIAL, MAX_CREDENTIAL_BYTES)
    return DispatchMetadata(**values)


def _string(document: dict[str, object], name: str) -> str:
    value = document[name]
    if not isinstance(value, str):
        raise InvalidDispatchMetadata(f"dispatch metadata field {name} is not a string")
    return value


def _check(value: str, name: str, pattern: re.Pattern[str], max_length: int) -> None:
    if not value:
        raise InvalidDispatchMetadata(f"dispatch metadata field {name} is empty")
    if len(value) > max_length:
        raise InvalidDispatchMetadata(f"dispatch metadata field {name} is too long")
    if not pattern.fullmatch(value):
        raise InvalidDispatchMetadata(f"dispatch metadata field {name} has invalid characters")
