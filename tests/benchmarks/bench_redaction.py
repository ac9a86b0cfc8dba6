"""Redaction benchmark: per-type quality, throughput, per-segment latency and peak memory.

Run: `.venv/bin/python -m tests.benchmarks.bench_redaction [--repeat N] [--workers N]
[--errors]`. Quality is measured on tests/data/redaction/corpus.jsonl (the tuning corpus)
and, separately, on holdout.jsonl (never tuned against) and on the generated held-out test
side (generated/test.jsonl, issue 15: the same table ``control-plane privacy evaluate``
prints). Throughput replays the corpus
`--repeat` times: batched in one process (``Redactor.redact_many``), one call per segment
(``Redactor.redact``, which also gives the latency percentiles) and across worker processes
(``RedactionPool``). Peak RSS comes from ``resource.getrusage``. The machine may be shared,
so each throughput line also gives segments per CPU-second and the cores actually obtained:
wall-clock rates drop when neighbours compete for the cores, CPU-second rates do not.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

import psutil

from control_plane.logs import configure_logging
from control_plane.privacy.redaction import Redactor
from control_plane.privacy.redaction.evaluate import (
    LabeledSegment,
    evaluate,
    format_report,
    format_table,
    load_corpus,
    mismatches,
    report,
)
from control_plane.privacy.redaction.pool import RedactionPool

DATA = Path(__file__).resolve().parents[1] / "data" / "redaction"


def _quality(redactor: Redactor, name: str, corpus: list[LabeledSegment], errors: bool) -> None:
    predicted = [r.entities for r in redactor.redact_many([s.text for s in corpus])]
    print(f"\n## quality: {name} ({len(corpus)} segments, span-overlap matching)")
    print(format_table(evaluate(corpus, predicted)))
    if errors:
        for seg_id, kind, entity_type, value in mismatches(corpus, predicted):
            print(f"  {seg_id:<14}{kind:<10}{entity_type.value:<16}{value!r}")


def _rate(count: int, seconds: float, cpu_seconds: float) -> str:
    return (
        f"{count / seconds:7.1f} segments/s  {count / cpu_seconds:7.1f} per CPU-s  "
        f"cores used {cpu_seconds / seconds:4.2f}  ({count} in {seconds:.2f} s)"
    )


def _children_cpu() -> float:
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _max_rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    """Print the quality tables and the speed and memory figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=6, help="corpus replays for timing")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the pool")
    parser.add_argument("--errors", action="store_true", help="list every mismatch")
    args = parser.parse_args(argv)
    configure_logging("WARNING")

    corpus = load_corpus(DATA / "corpus.jsonl")
    holdout = load_corpus(DATA / "holdout.jsonl")
    started = time.perf_counter()
    redactor = Redactor()
    load_seconds = time.perf_counter() - started
    print(f"# redaction benchmark: pipeline={list(redactor.pipeline)} load={load_seconds:.2f} s")

    _quality(redactor, "corpus", corpus, args.errors)
    _quality(redactor, "holdout", holdout, args.errors)
    generated = load_corpus(DATA / "generated" / "test.jsonl")
    predicted = [r.entities for r in redactor.redact_many([s.text for s in generated])]
    print(f"\n## quality: generated held-out test side ({len(generated)} segments)")
    print("(the table `control-plane privacy evaluate` prints)")
    print(format_report(report(generated, predicted)))

    texts = [s.text for s in corpus] * args.repeat
    chars = sum(len(t) for t in texts) / len(texts)
    print(f"\n## speed ({len(texts)} segments, mean {chars:.0f} characters)")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    started, cpu = time.perf_counter(), time.process_time()
    redactor.redact_many(texts)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"single process, batched     {_rate(len(texts), elapsed, cpu)}")

    latencies = []
    cpu = time.process_time()
    for text in texts:
        t0 = time.perf_counter()
        redactor.redact(text)
        latencies.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu
    q = statistics.quantiles(latencies, n=100)
    print(f"single process, per segment {_rate(len(texts), sum(latencies), cpu)}")
    print(f"latency per segment         p50 {q[49] * 1000:.2f} ms  p99 {q[98] * 1000:.2f} ms")
    print(f"peak RSS, this process      {_max_rss_mib(resource.RUSAGE_SELF):.0f} MiB")

    with RedactionPool(workers=args.workers, log_level="WARNING") as pool:
        pool.warm_up()
        started, cpu = time.perf_counter(), _children_cpu() + time.process_time()
        pool.redact_many(texts)
        elapsed = time.perf_counter() - started
        cpu = _children_cpu() + time.process_time() - cpu
    print(f"pool, {args.workers} worker processes  {_rate(len(texts), elapsed, cpu)}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"peak RSS, largest worker    {_max_rss_mib(resource.RUSAGE_CHILDREN):.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
