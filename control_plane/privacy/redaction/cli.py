"""JSON-lines redaction stream: the contract the quality evaluation runs against.

Input, one object per line: ``{"id": <string|integer>, "text": <string>}``.
Output, exactly one line per input line, in order:
``{"id", "redacted", "entities": [{"type", "start", "end", "score"}]}`` where offsets are
Unicode code-point indices into the input ``text``; or, for a line that cannot be redacted,
``{"id": <the id or null>, "error": "<reason>"}``. The stream goes on after an error line;
the return value is 0 if every line was redacted and 1 otherwise. Error reasons never quote
the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol, TextIO

from control_plane.errors import ControlPlaneError
from control_plane.logs import get_logger
from control_plane.privacy.redaction.types import RedactionResult

# A line may hold a 16 KiB text written as \uXXXX escapes (6 bytes per character) plus the id.
MAX_LINE_CHARS = 16 * 1024 * 6 + 4096
_log = get_logger(__name__)


class BatchRedactor(Protocol):
    """What the stream needs from a :class:`Redactor` (or a :class:`RedactionPool`)."""

    def check_text(self, text: object) -> str:
        """Return the text if it may be redacted, else raise a ControlPlaneError."""
        ...

    def redact_many(self, texts: list[str]) -> list[RedactionResult]:
        """Redact the texts in order."""
        ...


def _lines(stdin: TextIO) -> Iterator[str | None]:
    """Yield each line without its newline, or None for a line longer than the limit."""
    while True:
        line = stdin.readline(MAX_LINE_CHARS)
        if not line:
            return
        if len(line) >= MAX_LINE_CHARS and not line.endswith("\n"):
            while True:  # skip the rest of the oversized line
                rest = stdin.readline(MAX_LINE_CHARS)
                if not rest or rest.endswith("\n"):
                    break
            yield None
            continue
        yield line.rstrip("\r\n")


def _parse(redactor: BatchRedactor, line: str | None) -> tuple[Any, str | None, str | None]:
    """Return (id, text, error) for one input line."""
    # Any: the id is echoed back as whatever JSON scalar the caller sent.
    if line is None:
        return None, None, "line too long"
    try:
        raw = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None, None, "malformed JSON"
    if not isinstance(raw, dict):
        return None, None, "each line must be a JSON object"
    seg_id = raw.get("id")
    if seg_id is not None and (isinstance(seg_id, bool) or not isinstance(seg_id, str | int)):
        return None, None, "id must be a string or an integer"
    if "text" not in raw:
        return seg_id, None, "missing text"
    try:
        return seg_id, redactor.check_text(raw["text"]), None
    except ControlPlaneError as exc:
        return seg_id, None, exc.message


def _result_line(seg_id: Any, result: RedactionResult) -> str:
    entities = [
        {"type": e.type.value, "start": e.start, "end": e.end, "score": e.score}
        for e in result.entities
    ]
    return json.dumps({"id": seg_id, "redacted": result.redacted, "entities": entities})


def run_redact_stream(
    redactor: BatchRedactor, stdin: TextIO, stdout: TextIO, *, batch_size: int = 1
) -> int:
    """Redact a JSON-lines stream line by line; 0 if every line succeeded, else 1.

    ``batch_size`` > 1 batches the model for bulk files; keep 1 for a peer that waits for
    each answer before sending the next line, which would otherwise deadlock.
    """
    failed = False
    pending: list[tuple[Any, str | None, str | None]] = []
    for line in _lines(stdin):
        pending.append(_parse(redactor, line))
        if len(pending) >= batch_size:
            failed |= _flush(redactor, pending, stdout)
            pending = []
    if pending:
        failed |= _flush(redactor, pending, stdout)
    return 1 if failed else 0


def _flush(
    redactor: BatchRedactor, pending: list[tuple[Any, str | None, str | None]], stdout: TextIO
) -> bool:
    """Redact the valid lines of a batch and write every line's answer in order."""
    texts = [text for _, text, error in pending if error is None and text is not None]
    try:
        results = iter(redactor.redact_many(texts))
        engine_error = None
    except ControlPlaneError as exc:
        results, engine_error = iter(()), exc.message
    except Exception as exc:  # process edge: one bad batch must not end the stream
        _log.error("privacy.redact_stream_failed", reason=type(exc).__name__)
        results, engine_error = iter(()), "internal error"
    failed = False
    for seg_id, text, error in pending:
        reason = error if error is not None or text is None else engine_error
        if reason is None:
            stdout.write(_result_line(seg_id, next(results)) + "\n")
        else:
            failed = True
            stdout.write(json.dumps({"id": seg_id, "error": reason}) + "\n")
    stdout.flush()
    return failed
