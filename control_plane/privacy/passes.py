"""Pure text passes over a session's segments: the whole-session (finalisation) redaction.

Per-segment redaction cannot see PII that a speaker spreads over turns: a phone number
whose digits end one segment and start the next, a name spelled letter by letter over
several turns, an e-mail address dictated in pieces. The finalisation pass joins each
speaker's consecutive segments with one space, in order, into windows, runs the redactor
over each window and maps every finding back onto the segments it touches; each touched
part is replaced by the placeholder of the *whole* value, so both halves of a split number
read ``<PHONE_NUMBER_2>``.

Limits (documented, and pinned by tests):
- streams are per role (user, agent): PII interleaved across speakers is not joined;
- windows hold at most ``max_bytes`` of text and overlap by ``overlap`` segments, so a value
  spread over more than ``overlap + 1`` segments that straddles a window edge can be missed
  (a window holds ~12 KiB, i.e. most whole sessions);
- over already-redacted text (raw text not kept) the pass sees placeholders, not values:
  a finding that lies inside an existing placeholder is not new; one that overlaps a
  placeholder is widened to swallow it (fail closed: never half a placeholder).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from control_plane.privacy.redaction import Entity, PlaceholderMap

SEPARATOR = " "
PLACEHOLDER_TOKEN = re.compile(r"<[A-Z][A-Z_]*?(?:_\d+)?>")


@dataclass(frozen=True, slots=True)
class Piece:
    """Where segment ``segment`` sits inside a window's text."""

    segment: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Window:
    text: str
    pieces: tuple[Piece, ...]


@dataclass(frozen=True, slots=True)
class Replacement:
    start: int
    end: int
    text: str


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _windows_of(
    indexes: Sequence[int], texts: Sequence[str], *, max_bytes: int, overlap: int
) -> list[Window]:
    windows: list[Window] = []
    i = 0
    while i < len(indexes):
        j = i
        size = 0
        while j < len(indexes):
            extra = _size(texts[indexes[j]]) + (len(SEPARATOR) if j > i else 0)
            if j > i and size + extra > max_bytes:
                break
            size += extra
            j += 1
        pieces: list[Piece] = []
        parts: list[str] = []
        pos = 0
        for k in range(i, j):
            if k > i:
                parts.append(SEPARATOR)
                pos += len(SEPARATOR)
            text = texts[indexes[k]]
            pieces.append(Piece(indexes[k], pos, pos + len(text)))
            parts.append(text)
            pos += len(text)
        windows.append(Window("".join(parts), tuple(pieces)))
        if j >= len(indexes):
            break
        i = max(i + 1, j - overlap)
    return windows


def plan_windows(
    roles: Sequence[str], texts: Sequence[str], *, max_bytes: int, overlap: int = 3
) -> list[Window]:
    """Windows over each role's segments in order; adjacent windows share ``overlap``."""
    by_role: dict[str, list[int]] = {}
    for index, role in enumerate(roles):
        by_role.setdefault(role, []).append(index)
    windows: list[Window] = []
    for role in sorted(by_role):
        windows.extend(_windows_of(by_role[role], texts, max_bytes=max_bytes, overlap=overlap))
    return windows


def clip(window: Window, entity: Entity) -> list[tuple[int, int, int]]:
    """The parts of a window finding inside each segment: (segment, start, end)."""
    parts = []
    for piece in window.pieces:
        start = max(entity.start, piece.start)
        end = min(entity.end, piece.end)
        if start < end:
            parts.append((piece.segment, start - piece.start, end - piece.start))
    return parts


def _inside_token(text: str, start: int, end: int) -> bool:
    return any(m.start() <= start and end <= m.end() for m in PLACEHOLDER_TOKEN.finditer(text))


def _covered(spans: Sequence[Entity], start: int, end: int) -> bool:
    return any(s.start <= start and end <= s.end for s in spans)


def widen_over_tokens(text: str, replacements: Sequence[Replacement]) -> list[Replacement]:
    """Drop replacements inside an existing placeholder; widen those that overlap one."""
    tokens = [(m.start(), m.end()) for m in PLACEHOLDER_TOKEN.finditer(text)]
    out: list[Replacement] = []
    for rep in replacements:
        if any(s <= rep.start and rep.end <= e for s, e in tokens):
            continue
        start, end = rep.start, rep.end
        for s, e in tokens:
            if s < end and start < e:
                start, end = min(start, s), max(end, e)
        out.append(Replacement(start, end, rep.text))
    return out


def merge(replacements: Sequence[Replacement]) -> list[Replacement]:
    """Union overlapping replacements (fail closed); the widest one names the union."""
    merged: list[Replacement] = []
    for rep in sorted(replacements, key=lambda r: (r.start, -r.end)):
        if merged and rep.start < merged[-1].end:
            last = merged[-1]
            widest = last if last.end - last.start >= rep.end - rep.start else rep
            merged[-1] = Replacement(last.start, max(last.end, rep.end), widest.text)
        else:
            merged.append(rep)
    return merged


def apply(text: str, replacements: Sequence[Replacement]) -> str:
    """Apply sorted, non-overlapping replacements."""
    parts: list[str] = []
    pos = 0
    for rep in replacements:
        parts.append(text[pos : rep.start])
        parts.append(rep.text)
        pos = rep.end
    parts.append(text[pos:])
    return "".join(parts)


@dataclass(frozen=True)
class FinalPass:
    texts: tuple[str, ...]
    changed: tuple[int, ...]
    new_counts: dict[str, int]


def final_pass(
    texts: Sequence[str],
    windows: Sequence[Window],
    window_entities: Sequence[Sequence[Entity]],
    *,
    placeholders: PlaceholderMap,
    segment_entities: Sequence[Sequence[Entity]] | None,
) -> FinalPass:
    """Apply the window findings to each segment.

    ``segment_entities`` is given when ``texts`` are the raw segments: the per-segment
    findings are re-applied too (the stored redacted text is rebuilt from raw). When it is
    None, ``texts`` are the stored redacted segments and their placeholders are protected.
    """
    per_segment: list[list[Replacement]] = [[] for _ in texts]
    counts: Counter[str] = Counter()
    seen: set[tuple[tuple[int, int, int], ...]] = set()
    for window, entities in zip(windows, window_entities, strict=True):
        for entity in entities:
            parts = tuple(clip(window, entity))
            if not parts or parts in seen:
                continue
            seen.add(parts)
            if segment_entities is None:
                new = any(not _inside_token(texts[seg], s, e) for seg, s, e in parts)
            else:
                new = any(not _covered(segment_entities[seg], s, e) for seg, s, e in parts)
            if not new:
                continue
            counts[entity.type.value] += 1
            label = placeholders.placeholder_for(
                entity.type, window.text[entity.start : entity.end]
            )
            for seg, s, e in parts:
                per_segment[seg].append(Replacement(s, e, label))
    if segment_entities is not None:
        for seg, entities in enumerate(segment_entities):
            for entity in entities:
                value = texts[seg][entity.start : entity.end]
                label = placeholders.placeholder_for(entity.type, value)
                per_segment[seg].append(Replacement(entity.start, entity.end, label))
    out: list[str] = []
    changed: list[int] = []
    for seg, text in enumerate(texts):
        reps = per_segment[seg]
        if segment_entities is None:
            reps = widen_over_tokens(text, reps)
        new_text = apply(text, merge(reps))
        out.append(new_text)
        if reps:
            changed.append(seg)
    return FinalPass(tuple(out), tuple(changed), dict(sorted(counts.items())))
