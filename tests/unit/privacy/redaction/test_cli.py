"""The JSON-lines contract of run_redact_stream: one answer line per input line, in order."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from control_plane.privacy.redaction import Redactor
from control_plane.privacy.redaction.cli import MAX_LINE_CHARS, run_redact_stream


def run(redactor: Redactor, lines: list[str], **kwargs: Any) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    code = run_redact_stream(redactor, io.StringIO("".join(x + "\n" for x in lines)), out, **kwargs)
    return code, [json.loads(x) for x in out.getvalue().splitlines()]


def test_good_lines_get_redacted_text_and_original_offsets(redactor: Redactor) -> None:
    text = "This is Tanya, call me at 312 555 0198."
    code, rows = run(redactor, [json.dumps({"id": "a1", "text": text}), '{"id": 7, "text": ""}'])
    assert code == 0
    assert rows[0] == {
        "id": "a1",
        "redacted": "This is <PERSON>, call me at <PHONE_NUMBER>.",
        "entities": [
            {"type": "PERSON", "start": 8, "end": 13, "score": rows[0]["entities"][0]["score"]},
            {"type": "PHONE_NUMBER", "start": 26, "end": 38, "score": 0.9},
        ],
    }
    assert text[8:13] == "Tanya"
    assert rows[1] == {"id": 7, "redacted": "", "entities": []}


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_malformed_lines_get_an_error_line_and_the_stream_goes_on(
    redactor: Redactor, batch_size: int
) -> None:
    lines = [
        '{"id": "ok1", "text": "my SSN is 078-05-1120"}',
        '{"id": "bad-json", "text": ',
        '["not", "an", "object"]',
        '{"id": "no-text"}',
        '{"id": "num", "text": 12345}',
        '{"id": "null", "text": null}',
        '{"id": {"nested": 1}, "text": "hi"}',
        json.dumps({"id": "big", "text": "x" * (16 * 1024 + 1)}),
        "",
        '{"text": "no id, card 4111 1111 1111 1111"}',
        '{"id": "ok2", "text": "nothing here"}',
    ]
    code, rows = run(redactor, lines, batch_size=batch_size)
    assert code == 1
    assert len(rows) == len(lines)
    assert rows[0]["redacted"] == "my SSN is <US_SSN>"
    assert rows[1] == {"id": None, "error": "malformed JSON"}
    assert rows[2] == {"id": None, "error": "each line must be a JSON object"}
    assert rows[3] == {"id": "no-text", "error": "missing text"}
    assert rows[4] == {"id": "num", "error": "text must be a string"}
    assert rows[5] == {"id": "null", "error": "text must be a string"}
    assert rows[6] == {"id": None, "error": "id must be a string or an integer"}
    assert rows[7]["id"] == "big"
    assert "larger than 16384 bytes" in rows[7]["error"]
    assert rows[8] == {"id": None, "error": "malformed JSON"}
    assert rows[9]["id"] is None
    assert rows[9]["redacted"] == "no id, card <CREDIT_CARD>"
    assert rows[10] == {"id": "ok2", "redacted": "nothing here", "entities": []}


def test_error_lines_never_echo_the_input(redactor: Redactor) -> None:
    canary = "CANARY-4471-john dot smith at gmail dot com"
    code, rows = run(redactor, ['{"id": "x", "text": "' + canary, json.dumps({"id": 1, "text": 5})])
    assert code == 1
    assert "CANARY" not in json.dumps(rows)


def test_a_line_longer_than_the_limit_is_skipped_whole(redactor: Redactor) -> None:
    huge = json.dumps({"id": "huge", "text": "y" * (MAX_LINE_CHARS + 10)})
    code, rows = run(redactor, [huge, '{"id": "after", "text": "fine"}'])
    assert code == 1
    assert rows == [
        {"id": None, "error": "line too long"},
        {"id": "after", "redacted": "fine", "entities": []},
    ]


def test_empty_input_writes_nothing_and_succeeds(redactor: Redactor) -> None:
    out = io.StringIO()
    assert run_redact_stream(redactor, io.StringIO(""), out) == 0
    assert out.getvalue() == ""


def test_unicode_offsets_are_code_points(redactor: Redactor) -> None:
    text = "Señora Muñoz here, call 312 555 0198 😀 thanks"
    _, rows = run(redactor, [json.dumps({"id": "u", "text": text}, ensure_ascii=False)])
    phone = next(e for e in rows[0]["entities"] if e["type"] == "PHONE_NUMBER")
    assert text[phone["start"] : phone["end"]] == "312 555 0198"
