"""The audit CLI refuses cursors and limits out of range before touching the store."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from control_plane.audit.types import MAX_SEQ
from control_plane.cli import app


@pytest.mark.parametrize(
    "args",
    [
        ["--after", str(MAX_SEQ + 1)],
        ["--after", "-1"],
        ["--after", "1e3"],
        ["--limit", "0"],
        ["--limit", str(10**7)],
    ],
)
def test_export_cursor_and_limit_out_of_range_are_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["audit", "export", *args])
    assert result.exit_code == 2, result.output
