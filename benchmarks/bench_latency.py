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
import sys
from typing import Any

from benchmarks._measure import measure

QS = (0.5, 0.95, 0.99)


def make(n: int) -> tuple[Any, Any, Any]:
    """``n`` synthetic requests over one day: timestamps (µs), 2 versions, lognormal latency."""
    import numpy as np

    rng = np.random.default_rng(7)
    day = 1795305600 * 1_000_000  # 2026-11-22T00:00:00Z in microseconds
    ts = np.sort(day + rng.integers(0, 86_400 * 1_000_000, n))
    version = np.where(rng.random(n) < 0.1, "v1.5.0", "v1.4.0")
    lat = rng.lognormal(np.log(14.0), 0.35, n) * np.where(version == "v1.5.0", 1.3, 1.0)
    return ts, version, lat


def obskit_setup(n: int) -> Any:
    import polars as pl

    import obskit.analyze.latency  # noqa: F401 - imported before timing

    ts, version, lat = make(n)
    return pl.DataFrame({"timestamp": pl.Series(ts).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                         "model_version": version, "latency_ms": lat})


def obskit_side(frame: Any) -> Any:
    from obskit.analyze.latency import latency_percentiles

    return latency_percentiles(frame, every="5m", by=("model_version",), quantiles=QS)


def obskit_rows(out: Any) -> list[list[Any]]:
    return [[int(r[0].timestamp()), r[1], *r[4:]] for r in out.select(
        "window_start", "model_version", "requests", "mean_ms", "p50_ms", "p95_ms", "p99_ms").iter_rows()]


def pandas_setup(n: int) -> Any:
    import pandas as pd

    ts, version, lat = make(n)
    return pd.DataFrame({"timestamp": pd.to_datetime(ts, unit="us", utc=True), "version": version,
                         "latency_ms": lat})


def pandas_side(frame: Any) -> Any:
    import pandas as pd

    g = frame.groupby([pd.Grouper(key="timestamp", freq="5min"), "version"])["latency_ms"]
    return g.quantile(list(QS)).unstack()


def pandas_rows(out: Any) -> list[list[Any]]:
    return [[int(idx[0].timestamp()), idx[1], *[float(out.loc[idx, q]) for q in QS]] for idx in out.index]


def _measure(which: str, n: int, runs: int, threads: int | None = None) -> dict[str, Any]:
    env = {"POLARS_MAX_THREADS": str(threads)} if threads is not None else None
    res = measure(f"benchmarks.bench_latency:{which}_side", [n], runs, setup=f"benchmarks.bench_latency:{which}_setup",
                  digest=f"benchmarks.bench_latency:{which}_rows", env=env)
    res["rows"] = res["digest"]
    return res


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
