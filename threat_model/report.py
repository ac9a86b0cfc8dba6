"""Write threat_model/REPORT.md from the threats: `python -m threat_model.report`."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from threat_model.threats import THREATS

REPORT = Path(__file__).with_name("REPORT.md")


def render() -> str:
    """The report as Markdown: a summary by category, then each threat with its tests."""
    lines = [
        "# Threat model report",
        "",
        "Generated from `threat_model/threats.py` by `python -m threat_model.report`; do not",
        "edit by hand. Every threat names the tests that prove its mitigation, and the test",
        "suite fails if a named test does not exist (`tests/unit/test_threat_model.py`).",
        "",
        "| category | threats |",
        "|---|---|",
    ]
    counts = Counter(t.category for t in THREATS)
    lines += [f"| {category.value} | {count} |" for category, count in sorted(counts.items())]
    for threat in THREATS:
        lines += [
            "",
            f"## {threat.id}: {threat.title}",
            "",
            f"- **Category:** {threat.category.value}",
            f"- **Asset:** {threat.asset}",
            f"- **Entry point:** {threat.entry_point}",
            f"- **Mitigation:** {threat.mitigation}",
            "- **Tests:**",
            *[f"  - `{test}`" for test in threat.tests],
        ]
        if threat.references:
            lines.append(f"- **References:** {', '.join(threat.references)}")
    return "\n".join(lines) + "\n"


def main() -> int:
    REPORT.write_text(render())
    sys.stdout.write(f"wrote {REPORT} ({len(THREATS)} threats)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
