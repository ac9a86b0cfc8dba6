"""Corpus integrity and the quality gate (recall >= 0.95, precision >= 0.85 per type).

This is a quality gate, not a timing assertion: throughput lives in
tests/benchmarks/bench_redaction.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from control_plane.privacy.redaction import Entity, EntityType, Redactor
from control_plane.privacy.redaction.evaluate import (
    Evaluation,
    LabeledSegment,
    evaluate,
    format_table,
    load_corpus,
    mismatches,
)

DATA = Path(__file__).resolve().parents[4] / "tests" / "data" / "redaction"
MIN_RECALL = 0.95
MIN_PRECISION = 0.85


@pytest.fixture(scope="module")
def corpus() -> list[LabeledSegment]:
    return load_corpus(DATA / "corpus.jsonl")


@pytest.fixture(scope="module")
def corpus_evaluation(redactor: Redactor, corpus: list[LabeledSegment]) -> Evaluation:
    results = redactor.redact_many([s.text for s in corpus])
    return evaluate(corpus, [r.entities for r in results])


def test_corpus_offsets_are_valid_and_tight(corpus: list[LabeledSegment]) -> None:
    for segment in corpus:
        previous_end = 0
        for e in sorted(segment.entities, key=lambda e: e.start):
            value = segment.text[e.start : e.end]
            assert 0 <= e.start < e.end <= len(segment.text), segment.id
            assert value == value.strip(), (segment.id, value)
            assert value.rstrip(",?!") == value, (segment.id, value)
            assert value[0].isalnum() or value[0] in "+(", (segment.id, value)
            assert e.start >= previous_end, f"{segment.id}: overlapping labels"
            previous_end = e.end


def test_corpus_lines_have_the_documented_shape() -> None:
    for line in (DATA / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        assert set(raw) == {"id", "text", "entities"}
        assert all(set(e) == {"type", "start", "end"} for e in raw["entities"])


def test_corpus_size_and_coverage(corpus: list[LabeledSegment]) -> None:
    assert len(corpus) >= 150
    assert len({s.id for s in corpus}) == len(corpus)
    support = Counter(e.type for s in corpus for e in s.entities)
    detected = [t for t in EntityType if t is not EntityType.REDACTION_FAILED]
    assert all(support[t] >= 12 for t in detected), support
    negatives = [s for s in corpus if not s.entities]
    assert len(negatives) >= 40


def test_corpus_files_match_their_marked_up_sources() -> None:
    build = DATA / "build_corpus.py"
    assert subprocess.run([sys.executable, str(build), "--check"], check=False).returncode == 0


def test_every_type_meets_the_quality_targets(corpus_evaluation: Evaluation) -> None:
    table = format_table(corpus_evaluation)
    for t, score in corpus_evaluation.per_type.items():
        assert score.recall >= MIN_RECALL, f"{t} recall\n{table}"
        assert score.precision >= MIN_PRECISION, f"{t} precision\n{table}"
    assert corpus_evaluation.any_type_recall >= MIN_RECALL, table


def test_hard_negatives_stay_clean(redactor: Redactor, corpus: list[LabeledSegment]) -> None:
    negatives = [s for s in corpus if not s.entities]
    results = redactor.redact_many([s.text for s in negatives])
    spurious = mismatches(negatives, [r.entities for r in results])
    assert len(spurious) <= 0.05 * len(negatives), spurious


def make_entity(entity_type: EntityType, start: int, end: int) -> Entity:
    return Entity(entity_type, start, end, 1.0)


def test_overlap_matching_rule() -> None:
    person, phone, ssn = EntityType.PERSON, EntityType.PHONE_NUMBER, EntityType.US_SSN
    gold = [LabeledSegment("g", "x" * 40, (make_entity(person, 0, 10), make_entity(phone, 20, 30)))]
    predicted = [[make_entity(person, 5, 12), make_entity(ssn, 20, 30)]]
    evaluation = evaluate(gold, predicted)
    assert evaluation.per_type[person].recall == 1.0  # overlap, not exact bounds
    assert evaluation.per_type[phone].recall == 0.0  # the type must match
    assert evaluation.per_type[ssn].precision == 0.0
    assert evaluation.any_type_recall == 1.0  # ... but the value was still redacted
    assert evaluation.char_coverage == pytest.approx(15 / 20)
