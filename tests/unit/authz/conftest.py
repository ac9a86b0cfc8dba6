"""Fixtures for authz unit tests: the REAL policies/ directory and the real Cedar engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from control_plane.authz.engine import PolicySnapshot, load_snapshot

from .factories import POLICY_DIR


@pytest.fixture(scope="module")
def snapshot() -> PolicySnapshot:
    """The real policy set, validated once per module."""
    return load_snapshot(POLICY_DIR)


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A writable copy of the real policy directory (without its test cases)."""
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target, ignore=shutil.ignore_patterns("tests"))
    return target
