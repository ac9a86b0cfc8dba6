"""`control-plane privacy redact`: JSON lines in, one JSON line out per input, in order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).parent / "control-plane"


def test_redact_stream_answers_every_line_and_never_echoes_pii(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 1, "text": "I am Zebulon Quarterfield, call 415-555-0199"}),
        "not json",
        json.dumps({"id": "b", "text": "mail zebulon.quarterfield@example.org"}),
    ]
    result = subprocess.run(
        [str(CLI), "privacy", "redact"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1  # one line failed
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == [1, None, "b"]
    assert "<PERSON>" in out[0]["redacted"]
    assert "<PHONE_NUMBER>" in out[0]["redacted"]
    assert out[1]["error"] == "malformed JSON"
    assert out[2]["redacted"] == "mail <EMAIL_ADDRESS>"
    for canary in ("Quarterfield", "415-555-0199", "zebulon.quarterfield"):
        assert all(canary not in o.get("redacted", "") for o in out)
        assert canary not in result.stderr
