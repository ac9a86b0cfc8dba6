"""Redaction errors; messages never echo the input text."""

from __future__ import annotations

from control_plane.errors import Invalid, Unavailable


class RedactionInputInvalid(Invalid):
    """The text to redact is not a string or is larger than the limit."""

    code = "redaction_input_invalid"
    default_message = "text to redact is invalid"


class RedactorUnavailable(Unavailable):
    """The NLP model could not be loaded or a worker process died."""

    code = "redactor_unavailable"
    default_message = "redaction engine unavailable"
