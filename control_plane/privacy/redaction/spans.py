"""Pure span handling: merge overlapping findings and render the redacted text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from types import MappingProxyType

from control_plane.privacy.redaction.placeholder import PlaceholderMap
from control_plane.privacy.redaction.types import Entity, RedactionResult


def merge_spans(entities: Iterable[Entity]) -> list[Entity]:
    """Merge overlapping spans into their union, typed by the highest-scoring (then widest).

    Taking the union is the fail-closed choice: two recognizers that disagree about where
    a value ends can never leave part of it in clear text.
    """
    merged: list[Entity] = []
    cluster: list[Entity] = []
    end = -1
    for entity in sorted(entities, key=lambda e: (e.start, -e.end)):
        if cluster and entity.start >= end:
            merged.append(_union(cluster))
            cluster = []
        cluster.append(entity)
        end = max(end, entity.end) if len(cluster) > 1 else entity.end
    if cluster:
        merged.append(_union(cluster))
    return merged


def _union(cluster: list[Entity]) -> Entity:
    best = max(cluster, key=lambda e: (e.score, e.end - e.start))
    start = min(e.start for e in cluster)
    end = max(e.end for e in cluster)
    return Entity(best.type, start, end, best.score)


def render(
    text: str, entities: list[Entity], placeholders: PlaceholderMap | None
) -> RedactionResult:
    """Replace each (non-overlapping, sorted) span by ``<TYPE>`` or the session placeholder."""
    parts: list[str] = []
    pos = 0
    for entity in entities:
        parts.append(text[pos : entity.start])
        if placeholders is None:
            parts.append(f"<{entity.type.value}>")
        else:
            value = text[entity.start : entity.end]
            parts.append(placeholders.placeholder_for(entity.type, value))
        pos = entity.end
    parts.append(text[pos:])
    counts = Counter(e.type.value for e in entities)
    return RedactionResult(
        redacted="".join(parts),
        entities=tuple(entities),
        counts=MappingProxyType(dict(sorted(counts.items()))),
    )
