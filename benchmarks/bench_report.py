"""Benchmark: the full health report end to end, and how its cost grows with the data.

For each size, ``obskit sample --requests N`` writes a day, then ``obskit report`` runs the
health notebook (papermill kernel, every analysis, nbconvert, offline HTML) in a fresh
process. Reported: wall time, peak RSS of the process tree (the kernel does the work), and
the page size, which must stay flat (charts are built from aggregates). Targets: 1M
requests <= 30 s, 10M <= 3 min on a 2-core machine; page <= 2 MB at any size.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _report(folder: Path) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "obskit.cli", "report", "--config", str(folder / "obskit.toml"),
                    "--out", str(folder / "reports")], check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    page = next((folder / "reports").glob("*/health.html")).stat().st_size
    return wall, max(peak, before) / 1024, page


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> list[dict[str, Any]]:
    """One row per size: report time, peak RSS (largest child process) and page size."""
    from obskit.sample import generate

    sizes = sizes or ((20_000,) if quick else (100_000, 1_000_000, 10_000_000))
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            generate(folder, requests=n, seed=11, reference_rows=50_000)
            wall, peak_mb, page = _report(folder)
        target = 30.0 if n <= 1_000_000 else 180.0
        rows.append({
            "work": f"health report, {n:,} requests (page {page / 1e6:.2f} MB)",
            "obskit_s": wall, "obskit_peak_mb": peak_mb, "peer": f"target {target:.0f} s",
            "peer_s": target, "peer_peak_mb": None, "ratio": target / wall,
            "agree": page <= 2_000_000,
        })
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import table

    args = [int(a) for a in sys.argv[1:]]
    print(table(run(sizes=tuple(args) or None)))
