"""Benchmark: the day's rollup and drift on a Dask cluster against the local streaming path.

Data: ``bench_scale.generate`` (hive-partitioned parquet, 1M rows per file; brightness shifts
in the last six hours). Local side: :func:`~obskit.scale.rollup.build_rollup` and
:func:`~obskit.scale.streaming.stream_drift` in one process. Dask side: a
``dask.distributed`` ``LocalCluster`` (2 worker processes, 1 thread each, 3 GB each) runs
:func:`~obskit.scale.distributed.dask_rollup` and :func:`~obskit.scale.distributed.dask_drift`
(one task per file, partial states merged on the workers). ``agree``: the same request and
error counts, identical sketch buckets (so identical percentiles; each within the sketch's
0.5% of the exact value by construction), the same drift methods and verdicts, statistics
within 1e-9 relative or the same streaming interval. Peak RSS is the client process's for
the local side and the sum of the client's and the workers' peaks for Dask.

Run ``python -m benchmarks.bench_dask [--rows 100000000]`` or ``python -m benchmarks --only dask``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_scale import DRIFT_COLUMNS, generate


def _digest(rollup: Any, drift: Any) -> dict[str, Any]:
    import polars as pl

    daily = rollup.coarsen("1d", by=()).table()
    return {
        "requests": int(daily["requests"].sum()),
        "errors": int(daily["errors"].sum()),
        "buckets": rollup.state.latency.buckets.sort(pl.all()).hash_rows().sum(),
        "p99_ms": float(daily["p99_ms"][0]),
        "drift": drift.select("column", "method", "statistic", "statistic_low", "statistic_high", "drifted").rows(),
    }


def local_side(source: str, reference: str) -> dict[str, Any]:
    import polars as pl

    from obskit.scale.rollup import build_rollup
    from obskit.scale.streaming import stream_drift

    t0 = time.perf_counter()
    out = _digest(build_rollup(source, slo_ms=50.0),
                  stream_drift(pl.read_parquet(reference), source, columns=DRIFT_COLUMNS))
    out["s"] = time.perf_counter() - t0
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def dask_side(source: str, reference: str) -> dict[str, Any]:
    import polars as pl
    from dask.distributed import Client, LocalCluster

    from obskit.scale.distributed import dask_drift, dask_rollup

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit="3GiB") as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        out = _digest(dask_rollup(client, source, slo_ms=50.0),
                      dask_drift(client, pl.read_parquet(reference), source, columns=DRIFT_COLUMNS))
        out["s"] = time.perf_counter() - t0

        def worker_peak() -> float:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

        workers = client.run(worker_peak)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 + sum(workers.values())
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if (a["requests"], a["errors"], a["buckets"], a["p99_ms"]) != (b["requests"], b["errors"], b["buckets"],
                                                                   b["p99_ms"]):
        return False
    for x, y in zip(a["drift"], b["drift"], strict=True):
        if x[:2] != y[:2] or x[5] != y[5]:
            return False
        if any(abs(u - v) > 1e-9 * max(abs(u), abs(v), 1e-12) for u, v in zip(x[2:5], y[2:5], strict=True)):
            return False
    return True


def run(quick: bool = False, rows: int | None = None) -> list[dict[str, Any]]:
    """One row: Dask against local on the same day of parquet."""
    from benchmarks._measure import measure

    n = rows or (200_000 if quick else 10_000_000)
    with tempfile.TemporaryDirectory(prefix="obskit-dask-") as tmp:
        folder = Path(tmp)
        root = generate(folder, n, rows_per_file=min(1_000_000, max(n // 24, 1000)))
        args = [str(root), str(folder / "reference.parquet")]
        loc = measure("benchmarks.bench_dask:local_side", args, 1)["digest"]
        dsk = measure("benchmarks.bench_dask:dask_side", args, 1)["digest"]
        shutil.rmtree(folder, ignore_errors=True)
    return [{
        "work": f"rollup + drift on Dask (2 workers), {n:,} requests",
        "obskit_s": dsk["s"], "obskit_peak_mb": dsk["peak_mb"], "peer": "obskit local streaming",
        "peer_s": loc["s"], "peer_peak_mb": loc["peak_mb"], "ratio": loc["s"] / dsk["s"],
        "agree": _same(loc, dsk) and loc["requests"] == n,
    }]


if __name__ == "__main__":
    from benchmarks.__main__ import table

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rows", type=int, default=None)
    a = p.parse_args()
    print(table(run(a.quick, a.rows)))
