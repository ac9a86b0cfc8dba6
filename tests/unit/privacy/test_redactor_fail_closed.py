"""Fail closed: an engine that cannot load or raises leaves only a full mask (issue 15)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from control_plane.privacy.redaction import EntityType, RedactionResult
from control_plane.privacy.redactor import TranscriptRedactor, _Engine

TEXTS = ["my name is malik okonkwo", "call five five five one two one two"]


class _Broken:
    def redact_many(self, texts: Sequence[str]) -> list[RedactionResult]:
        raise RuntimeError("recognizer crashed")


class _Short:
    def redact_many(self, texts: Sequence[str]) -> list[RedactionResult]:
        return []


class _Failing(TranscriptRedactor):
    def __init__(self, engine: _Engine | None) -> None:
        super().__init__()
        self._fake = engine

    def _load(self) -> _Engine:
        if self._fake is None:
            raise OSError("model package missing")
        return self._fake


def _assert_masked(results: list[RedactionResult]) -> None:
    assert len(results) == len(TEXTS)
    for text, result in zip(TEXTS, results, strict=True):
        assert result.redacted == "<REDACTION_FAILED>"
        assert [(e.type, e.start, e.end) for e in result.entities] == [
            (EntityType.REDACTION_FAILED, 0, len(text))
        ]
        assert dict(result.counts) == {"REDACTION_FAILED": 1}


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", [None, _Broken(), _Short()], ids=["load", "raise", "short"])
async def test_engine_failure_masks_every_segment(engine: _Engine | None) -> None:
    redactor = _Failing(engine)
    try:
        _assert_masked(await redactor.redact_many(TEXTS))
    finally:
        await redactor.aclose()
