"""OCSF export is resumable from a cursor: no duplicates, no gaps, an end marker."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.audit.export import ExportProgress, stream_ocsf_export
from control_plane.audit.ocsf import is_end_marker
from control_plane.audit.types import AuditScope
from tests.support.audit import CliTarget, append_events, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _read_bundle(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines, "a bundle always has at least its end marker"
    *events, end = lines
    assert is_end_marker(end)
    assert not any(is_end_marker(e) for e in events)
    return events, end["unmapped"]["cp_export"]


async def test_cli_export_resumes_from_the_printed_cursor(
    engine: AsyncEngine, cli: CliTarget, tmp_path: Path
) -> None:
    await append_events(engine, 25, start=T0)
    seen: list[int] = []
    links: list[tuple[str, str]] = []
    after = 0
    for bundle in range(3):
        out = tmp_path / f"bundle-{bundle}.jsonl"
        result = await run_cli(
            cli,
            "audit",
            "export",
            "--format",
            "ocsf",
            "--after",
            str(after),
            "--limit",
            "10",
            "--out",
            str(out),
        )
        assert result.exit_code == 0, result.stderr
        events, marker = _read_bundle(out)
        cursor = re.search(r"last_seq=(\d+)", result.stderr)
        assert cursor is not None
        assert int(cursor.group(1)) == marker["last_seq"]
        assert marker["after_seq"] == after
        assert marker["count"] == len(events)
        seen.extend(e["metadata"]["sequence"] for e in events)
        links.extend((e["unmapped"]["prev_hash"], e["unmapped"]["hash"]) for e in events)
        after = marker["last_seq"]
        assert marker["has_more"] is (bundle < 2)
    assert seen == list(range(1, 26))  # no duplicates, no gaps, in order
    # Continuity across bundles: each record links to the one exported before it.
    assert all(links[i][0] == links[i - 1][1] for i in range(1, len(links)))
    empty = tmp_path / "empty.jsonl"
    result = await run_cli(cli, "audit", "export", "--after", str(after), "--out", str(empty))
    assert result.exit_code == 0, result.stderr
    events, marker = _read_bundle(empty)
    assert (events, marker["count"], marker["last_seq"], marker["has_more"]) == ([], 0, 25, False)


async def test_export_is_limited_to_the_readers_scope(engine: AsyncEngine) -> None:
    await append_events(engine, 3, start=T0, tenant="acme")
    await append_events(engine, 2, start=T0 + timedelta(minutes=1), tenant="globex")
    await append_events(engine, 2, start=T0 + timedelta(minutes=2), tenant=None)
    progress = ExportProgress(after_seq=0, last_seq=0)
    lines = [
        json.loads(line)
        async for line in stream_ocsf_export(
            engine,
            scope=AuditScope(tenants=frozenset({"globex"})),
            after_seq=0,
            limit=100,
            product_version="test",
            clock=lambda: T0,
            progress=progress,
        )
    ]
    assert [e["metadata"]["sequence"] for e in lines[:-1]] == [4, 5]
    assert {e["metadata"]["tenant_uid"] for e in lines[:-1]} == {"globex"}
    assert (progress.count, progress.last_seq, progress.has_more) == (2, 5, False)
    chained = [e["unmapped"]["prev_hash"] for e in lines[:-1]]
    assert len(set(chained)) == 2
