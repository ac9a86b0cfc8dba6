"""The threat model stays honest: every threat names tests that exist, and the report is
regenerated from the code."""

from __future__ import annotations

import ast
import re

from tests.support.app import REPO
from threat_model.report import REPORT, render
from threat_model.threats import THREATS


def _test_functions(path: str) -> set[str]:
    tree = ast.parse((REPO / path).read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_threat_names_an_existing_test() -> None:
    missing: list[str] = []
    for threat in THREATS:
        assert threat.tests, threat.id
        for node in threat.tests:
            path, _, name = node.partition("::")
            if not (REPO / path).exists() or name not in _test_functions(path):
                missing.append(f"{threat.id}: {node}")
    assert missing == []


def test_threat_ids_are_unique() -> None:
    ids = [t.id for t in THREATS]
    assert len(ids) == len(set(ids))


def test_the_report_is_up_to_date() -> None:
    assert REPORT.read_text() == render(), "run: uv run python -m threat_model.report"


def test_every_threat_cited_in_code_exists() -> None:
    known = {t.id for t in THREATS}
    cited: set[str] = set()
    for path in (REPO / "control_plane").rglob("*.py"):
        cited.update(re.findall(r"\bT-[A-Z]+-\d+\b", path.read_text()))
    assert cited - known == set()
