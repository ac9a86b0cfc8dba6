"""Per-type precision and recall of the redactor against a labeled corpus.

Matching rule (span overlap): a predicted span and a gold span *match* when they have the
same entity type and share at least one character. Precision for a type is the share of
predicted spans of that type that match some gold span; recall is the share of gold spans of
that type matched by some predicted span. Overlap (not exact boundaries) is the rule because
what matters for redaction is whether the value was caught, and labels for spoken values
("the twenty third of June") have no single right boundary. Two stricter figures keep that
leniency honest: ``any_type_recall`` (gold spans overlapped by a prediction of any type: the
value was redacted even if mistyped) and ``char_coverage`` (share of gold characters inside
some predicted span: a one-character hit on a card number would show up here).

:func:`report` adds what issue 15 asks for on the generated corpus: recall per name origin
(from the gold entity's ``origin``), micro precision, *verbatim leaks* (gold spans with at
least one value word, i.e. not a filler such as "uh" or "no sorry", left outside every
predicted span: every attempt of a self-correction counts) and *over-redaction* (predicted
characters outside every gold span over all characters outside gold spans).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from control_plane.privacy.redaction.types import Entity, EntityType


@dataclass(frozen=True, slots=True)
class LabeledSegment:
    """One corpus line: an id, the text and its gold entities."""

    id: str
    text: str
    entities: tuple[Entity, ...]
    origins: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class TypeScore:
    """Counts behind one type's precision and recall."""

    type: EntityType
    predicted: int
    predicted_matched: int
    gold: int
    gold_matched: int

    @property
    def precision(self) -> float:
        """Matched predictions over predictions (1.0 when nothing was predicted)."""
        return self.predicted_matched / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        """Matched gold spans over gold spans (1.0 when the type has no support)."""
        return self.gold_matched / self.gold if self.gold else 1.0


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Per-type scores plus the type-agnostic leak figures."""

    per_type: Mapping[EntityType, TypeScore]
    any_type_recall: float
    char_coverage: float
    segments: int


def load_corpus(path: Path) -> list[LabeledSegment]:
    """Read a JSONL corpus of ``{"id", "text", "entities": [{"type","start","end"}]}``."""
    segments = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        entities = tuple(
            Entity(EntityType(e["type"]), int(e["start"]), int(e["end"]), 1.0)
            for e in raw["entities"]
        )
        origins = tuple(e.get("origin") for e in raw["entities"])
        segments.append(LabeledSegment(str(raw["id"]), str(raw["text"]), entities, origins))
    return segments


def _overlaps(a: Entity, b: Entity) -> bool:
    return a.start < b.end and b.start < a.end


def evaluate(gold: Sequence[LabeledSegment], predicted: Sequence[Sequence[Entity]]) -> Evaluation:
    """Score predictions (one entity list per segment, same order) with the overlap rule."""
    if len(gold) != len(predicted):
        raise ValueError("one prediction list per gold segment is required")
    counts = {t: [0, 0, 0, 0] for t in EntityType}
    any_hit = total_gold = covered_chars = gold_chars = 0
    for segment, preds in zip(gold, predicted, strict=True):
        for p in preds:
            counts[p.type][0] += 1
            counts[p.type][1] += any(g.type == p.type and _overlaps(p, g) for g in segment.entities)
        for g in segment.entities:
            counts[g.type][2] += 1
            counts[g.type][3] += any(p.type == g.type and _overlaps(p, g) for p in preds)
            total_gold += 1
            any_hit += any(_overlaps(p, g) for p in preds)
            gold_chars += g.end - g.start
            covered_chars += sum(
                1 for i in range(g.start, g.end) if any(p.start <= i < p.end for p in preds)
            )
    per_type = {t: TypeScore(t, *c) for t, c in counts.items()}
    return Evaluation(
        per_type=per_type,
        any_type_recall=any_hit / total_gold if total_gold else 1.0,
        char_coverage=covered_chars / gold_chars if gold_chars else 1.0,
        segments=len(gold),
    )


def evaluate_with(
    redact: Callable[[list[str]], Sequence[Sequence[Entity]]], gold: Sequence[LabeledSegment]
) -> Evaluation:
    """Run a batch redaction function over the corpus texts and score it."""
    return evaluate(gold, redact([s.text for s in gold]))


def mismatches(
    gold: Sequence[LabeledSegment], predicted: Sequence[Sequence[Entity]]
) -> list[tuple[str, str, EntityType, str]]:
    """List (segment id, "missed"/"spurious", type, span text) for error analysis."""
    out = []
    for segment, preds in zip(gold, predicted, strict=True):
        for g in segment.entities:
            if not any(p.type == g.type and _overlaps(p, g) for p in preds):
                out.append((segment.id, "missed", g.type, segment.text[g.start : g.end]))
        for p in preds:
            if not any(g.type == p.type and _overlaps(p, g) for g in segment.entities):
                out.append((segment.id, "spurious", p.type, segment.text[p.start : p.end]))
    return out


def format_table(evaluation: Evaluation) -> str:
    """Render the per-type table plus the type-agnostic figures as plain text."""
    lines = [f"{'type':<16}{'precision':>10}{'recall':>8}{'support':>9}{'predicted':>10}"]
    for t, s in evaluation.per_type.items():
        if s.gold or s.predicted:
            lines.append(
                f"{t.value:<16}{s.precision:>10.3f}{s.recall:>8.3f}{s.gold:>9}{s.predicted:>10}"
            )
    lines.append(f"any-type recall {evaluation.any_type_recall:.3f}")
    lines.append(f"char coverage   {evaluation.char_coverage:.3f}")
    lines.append(f"segments        {evaluation.segments}")
    return "\n".join(lines)


# Words said around a value that are not the value: a leak is a gold span with a word
# outside this set left unredacted.
_FILLERS = frozenset(
    [
        "uh",
        "um",
        "er",
        "like",
        "you",
        "know",
        "hold",
        "on",
        "let",
        "me",
        "see",
        "no",
        "sorry",
        "wait",
        "i",
        "mean",
        "scratch",
        "that",
        "actually",
        "meant",
        "as",
        "in",
        "dot",
        "at",
        "underscore",
        "dash",
        "apartment",
        "apt",
        "unit",
        "suite",
        "extension",
        "ext",
        "x",
        "plus",
        "country",
        "code",
        "double",
        "triple",
        "the",
        "of",
        "and",
        "oh",
    ]
)


@dataclass(frozen=True, slots=True)
class Report:
    """The issue-15 figures on top of :class:`Evaluation`."""

    evaluation: Evaluation
    origin_recall: Mapping[str, tuple[int, int]]  # origin -> (matched, gold)
    precision: float
    leaks: int
    leaked_examples: tuple[str, ...]
    over_redaction: float


def _covered(preds: Sequence[Entity], start: int, end: int) -> bool:
    return all(any(p.start <= i < p.end for p in preds) for i in range(start, end))


def report(gold: Sequence[LabeledSegment], predicted: Sequence[Sequence[Entity]]) -> Report:
    """Score predictions and add origin recall, precision, leaks and over-redaction."""
    evaluation = evaluate(gold, predicted)
    origins: dict[str, list[int]] = {}
    leaks, examples = 0, []
    outside = outside_hit = 0
    for segment, preds in zip(gold, predicted, strict=True):
        origin_of = segment.origins or (None,) * len(segment.entities)
        for g, origin in zip(segment.entities, origin_of, strict=True):
            if origin:
                counts = origins.setdefault(origin, [0, 0])
                counts[1] += 1
                counts[0] += any(p.type == g.type and _overlaps(p, g) for p in preds)
            for word in re.finditer(r"[A-Za-z0-9']+", segment.text[g.start : g.end]):
                if word.group().lower() in _FILLERS:
                    continue
                if not _covered(preds, g.start + word.start(), g.start + word.end()):
                    leaks += 1
                    examples.append(f"{segment.id} {g.type.value}")
                    break
        for i in range(len(segment.text)):
            if segment.text[i].isspace() or any(g.start <= i < g.end for g in segment.entities):
                continue
            outside += 1
            outside_hit += any(p.start <= i < p.end for p in preds)
    scores = evaluation.per_type.values()
    predicted_total = sum(s.predicted for s in scores)
    return Report(
        evaluation=evaluation,
        origin_recall={k: (v[0], v[1]) for k, v in sorted(origins.items())},
        precision=sum(s.predicted_matched for s in scores) / predicted_total
        if predicted_total
        else 1.0,
        leaks=leaks,
        leaked_examples=tuple(examples[:20]),
        over_redaction=outside_hit / outside if outside else 0.0,
    )


def format_report(result: Report) -> str:
    """The per-type table, then per-origin recall and the leak figures."""
    lines = [format_table(result.evaluation), f"{'name origin':<18}{'recall':>8}{'support':>9}"]
    for origin, (hit, total) in result.origin_recall.items():
        lines.append(f"{origin:<18}{hit / total if total else 1.0:>8.3f}{total:>9}")
    lines.append(f"precision (micro) {result.precision:.3f}")
    lines.append(f"verbatim leaks    {result.leaks}")
    lines.append(f"over-redaction    {result.over_redaction:.4f} of non-PII characters")
    return "\n".join(lines)
