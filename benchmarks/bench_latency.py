"""Benchmark: per-5-minute p50/p95/p99 latency by version, obskit vs pandas.

A synthetic day of requests is generated in memory with numpy (sorted timestamps over
24 h, two versions at 90/10 %, lognormal latencies): 10M rows, or 100k in quick mode.
``obskit.analyze.latency.latency_percentiles`` is timed against pandas'
``groupby([pd.Grouper(freq="5min"), "version"])["latency_ms"].quantile([...])`` (both
with linear interpolation), median of 3 runs each, and the two results must agree to
1e-9 (relative). Peak memory is the growth of the peak RSS (VmHWM, reset before the run)
of a fresh subprocess doing the work (Linux only).

Run: ``python -m benchmarks --only latency [--quick]``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

_WORKER = r"""
import json, statistics, sys, time
import numpy as np
which, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
QS = (0.5, 0.95, 0.99)

def make(n):
    rng = np.random.default_rng(7)
    day = 1795305600 * 1_000_000  # 2026-11-22T00:00:00Z in microseconds
    ts = np.sort(day + rng.integers(0, 86_400 * 1_000_000, n))
    version = np.where(rng.random(n) < 0.1, "v1.5.0", "v1.4.0")
    lat = rng.lognormal(np.log(14.0), 0.35, n) * np.where(version == "v1.5.0", 1.3, 1.0)
    return ts, version, lat

ts, version, lat = make(n)
if which == "obskit":
    import polars as pl
    from obskit.analyze.latency import latency_percentiles
    frame = pl.DataFrame({"timestamp": pl.Series(ts).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                          "model_version": version, "latency_ms": lat})
    def fn():
        return latency_percentiles(frame, every="5m", by=("model_version",), quantiles=QS)
    def rows(out):
        return [(int(r[0].timestamp()), r[1], *r[4:]) for r in out.select(
            "window_start", "model_version", "requests", "mean_ms", "p50_ms", "p95_ms", "p99_ms").iter_rows()]
else:
    import pandas as pd
    frame = pd.DataFrame({"timestamp": pd.to_datetime(ts, unit="us", utc=True), "version": version,
                          "latency_ms": lat})
    def fn():
        g = frame.groupby([pd.Grouper(key="timestamp", freq="5min"), "version"])["latency_ms"]
        return g.quantile(list(QS)).unstack()
    def rows(out):
        return [(int(idx[0].timestamp()), idx[1], *[float(out.loc[idx, q]) for q in QS]) for idx in out.index]

def kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak-RSS mark (Linux)
before = kb("VmRSS:")
times = []
for i in range(runs):
    t0 = time.perf_counter()
    out = fn()
    times.append(time.perf_counter() - t0)
    if i == 0:
        peak = (kb("VmHWM:") - before) / 1024
json.dump({"s": statistics.median(times), "peak_mb": peak, "rows": rows(out)}, sys.stdout)
"""


def _measure(which: str, n: int, runs: int, threads: int | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if threads is not None:
        env["POLARS_MAX_THREADS"] = str(threads)
    out = subprocess.run(
        [sys.executable, "-c", _WORKER, which, str(n), str(runs)],
        capture_output=True, text=True, check=True, env=env, cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(out.stdout)


def _agree(ours: list[list[Any]], peer: list[list[Any]], tol: float = 1e-9) -> bool:
    """Same windows, versions and quantiles (relative tolerance ``tol``)."""
    if len(ours) != len(peer):
        return False
    for a, b in zip(sorted(ours, key=lambda r: (r[0], r[1])), sorted(peer, key=lambda r: (r[0], r[1])), strict=True):
        if a[:2] != b[:2]:
            return False
        for x, y in zip(a[2:], b[2:], strict=True):
            if abs(x - y) > tol * max(1.0, abs(y)):
                return False
    return True


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Time obskit vs pandas on 10M requests (100k in quick mode); one row per polars thread setting."""
    n = 100_000 if quick else 10_000_000
    runs = 1 if quick else 3
    peer = _measure("pandas", n, runs)
    rows = []
    for threads in (None,) if quick else (1, None):
        ours = _measure("obskit", n, runs, threads)
        label = "1 polars thread" if threads == 1 else f"{os.cpu_count()} cores"
        rows.append(
            {
                "work": f"p50/p95/p99 per 5 min by version, {n / 1e6:g}M requests ({label})",
                "obskit_s": round(ours["s"], 4),
                "obskit_peak_mb": round(ours["peak_mb"], 1),
                "peer": "pandas groupby(Grouper 5min, version).quantile",
                "peer_s": round(peer["s"], 4),
                "peer_peak_mb": round(peer["peak_mb"], 1),
                "ratio": round(peer["s"] / ours["s"], 1),
                "agree": _agree(ours["rows"], peer["rows"]),
            }
        )
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
