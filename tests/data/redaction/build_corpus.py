"""Build the labeled JSONL corpora from their marked-up sources (offsets computed, not typed).

Run from the repository root: ``.venv/bin/python tests/data/redaction/build_corpus.py``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAIRS = (("corpus_source.txt", "corpus.jsonl"), ("holdout_source.txt", "holdout.jsonl"))
TAGS = {
    "PER": "PERSON",
    "PH": "PHONE_NUMBER",
    "EM": "EMAIL_ADDRESS",
    "CC": "CREDIT_CARD",
    "SSN": "US_SSN",
    "ADDR": "STREET_ADDRESS",
    "DOB": "DATE_OF_BIRTH",
    "BANK": "BANK_ACCOUNT",
    "IP": "IP_ADDRESS",
    "IBAN": "IBAN",
}
_MARK = re.compile(r"\[\[([A-Z]+):([^\]]+)\]\]")


def parse_line(line: str) -> dict[str, object]:
    """Turn one `id|marked text` line into a labeled record with character offsets."""
    seg_id, marked = line.split("|", 1)
    text_parts: list[str] = []
    entities: list[dict[str, object]] = []
    pos = 0
    length = 0
    for match in _MARK.finditer(marked):
        before = marked[pos : match.start()]
        text_parts.append(before)
        length += len(before)
        value = match.group(2)
        entities.append({"type": TAGS[match.group(1)], "start": length, "end": length + len(value)})
        text_parts.append(value)
        length += len(value)
        pos = match.end()
    text_parts.append(marked[pos:])
    text = "".join(text_parts)
    if "[[" in text or "]]" in text:
        raise ValueError(f"unbalanced markup in {seg_id}")
    return {"id": seg_id, "text": text, "entities": entities}


def build(source: Path) -> str:
    """Render the JSONL text for one marked-up source file."""
    lines = source.read_text(encoding="utf-8").splitlines()
    records = [parse_line(x) for x in lines if x.strip() and not x.startswith("#")]
    ids = [r["id"] for r in records]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate ids in {source.name}")
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main() -> int:
    """Rewrite every corpus from its source; exit 1 with --check if one is stale."""
    check = "--check" in sys.argv
    stale = False
    for src, dst in PAIRS:
        rendered = build(HERE / src)
        target = HERE / dst
        if check:
            stale |= not target.exists() or target.read_text(encoding="utf-8") != rendered
        else:
            target.write_text(rendered, encoding="utf-8")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
