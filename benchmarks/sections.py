"""Benchmark: where a health report's time and memory go, section by section, in one process.

``python -m benchmarks.sections --config DAY/obskit.toml`` opens the report
(:func:`obskit.report.section.open_report`: at scale this stages a large JSONL/CSV source on
its first run, checks the rows and builds the period's window state) and runs each section
of the health notebook in order, printing the wall time of each and the process's peak RSS
so far. Generate a day with ``obskit sample --out DAY --requests N``; run it twice to time
the report without the staging (the staged parts are cached beside the config).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

SECTIONS = ("alerts", "summary", "traffic", "latency", "errors", "gpu", "drift", "business", "versions", "metrics",
            "timeline")


def main(argv: list[str] | None = None) -> None:
    """Time ``open_report`` and each health section of one config."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the day's obskit.toml")
    parser.add_argument("--out", default="", help="output folder of summary.json (default: none)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OBSKIT_PROGRESS", "0")
    from obskit.report import health
    from obskit.report.section import open_report

    start = t = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name:10s} {now - t:8.1f} s   peak RSS {peak:7.0f} MB", flush=True)
        t = now

    rep = open_report(args.config, output_dir=args.out)
    mark("open")
    for name in SECTIONS:
        getattr(health, name)(rep)
        mark(name)
    rep.finish()
    mark("finish")
    print(f"{'total':10s} {time.perf_counter() - start:8.1f} s")


if __name__ == "__main__":
    main()
