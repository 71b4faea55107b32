"""Benchmark: staging a day of JSONL.gz request logs to parquet (``obskit.scale.staging``).

Data: the synthetic day of :mod:`benchmarks.bench_explore` written as ``rows_per_file``-row
JSONL.gz files (ISO timestamps, one slice of the day each): 10M requests in 10 files, or
200k in 2 files in quick mode.

Work, each in a fresh process (median wall time, peak RSS growth):

- ``stage``: :func:`~obskit.scale.staging.stage_requests` into an empty folder (every row
  validated by the loader, one file at a time);
- ``again``: the same call the next night, nothing new (only the files' metadata read).

Peer: the in-memory loader on every file at once (:func:`obskit.load.logs.load_requests`),
what a report does without staging; its peak RSS grows with the day, staging's with the
largest file. ``agree``: the same rows (count and the sums of latency and of status
codes) and nothing re-converted by ``again``.

Run: ``python -m benchmarks --only staging [--quick]`` or
``python -m benchmarks.bench_staging --rows 10000000``.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks._measure import measure
from benchmarks.bench_explore import _DAY_US, synthetic_requests


def write_jsonl_day(folder: Path, n: int, rows_per_file: int = 1_000_000) -> Path:
    """``n`` requests as JSONL.gz files under ``folder`` (created); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    n_files = max(1, -(-n // rows_per_file))
    for k in range(n_files):
        m = min(rows_per_file, n - k * rows_per_file)
        part = synthetic_requests(m, seed=2000 + k)
        shift = pl.col("timestamp").dt.epoch("us") - _DAY_US
        ts = (pl.lit(_DAY_US + k * (86_400_000_000 // n_files)) + shift // n_files).cast(pl.Datetime("us", "UTC"))
        part = part.with_columns(
            ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").alias("timestamp"),
            pl.format("f{}-{}", pl.lit(k), pl.col("request_id")).alias("request_id"),
        ).drop("corrected_label", "corrected_at")
        buf = part.write_ndjson()
        (folder / f"requests-{k:03d}.jsonl.gz").write_bytes(gzip.compress(buf.encode(), compresslevel=1))
    return folder


def _source(folder: str) -> Any:
    from obskit.load.registry import SourceConfig

    return SourceConfig("requests", "requests", {"path": Path(folder) / "*.jsonl.gz"})


def stage(folder: str, dest: str) -> dict[str, Any]:
    """Stage ``folder`` into ``dest``: rows, rejected, converted."""
    from obskit.scale.staging import stage_requests

    st = stage_requests(_source(folder), dest)
    frame = pl.scan_parquet(list(st.files))
    sums = frame.select(pl.len(), pl.col("latency_ms").sum(), pl.col("status_code").cast(pl.Int64).sum()).collect()
    return {"rows": st.rows, "rejected": st.rejected, "converted": st.converted, "sums": list(sums.row(0))}


def fresh_stage(folder: str, dest: str) -> dict[str, Any]:
    """:func:`stage` into an emptied ``dest`` (each timed run converts every file)."""
    shutil.rmtree(dest, ignore_errors=True)
    return stage(folder, dest)


def load_all(folder: str) -> dict[str, Any]:
    """The in-memory loader on every file at once."""
    from obskit.load.logs import load_requests

    df = load_requests(str(Path(folder) / "*.jsonl.gz"))
    sums = df.select(pl.len(), pl.col("latency_ms").sum(), pl.col("status_code").cast(pl.Int64).sum())
    return {"rows": df.height, "sums": list(sums.row(0))}


def run(quick: bool = False, rows: int | None = None) -> list[dict[str, Any]]:
    """Stage a JSONL.gz day (10M requests; 200k in 2 files quick) vs loading it in memory."""
    n = rows or (200_000 if quick else 10_000_000)
    per_file = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="obskit-staging-") as tmp:
        logs = write_jsonl_day(Path(tmp) / "logs", n, per_file)
        disk_mb = sum(f.stat().st_size for f in logs.iterdir()) / 1e6
        dest = str(Path(tmp) / "staged")
        first = measure("benchmarks.bench_staging:fresh_stage", [str(logs), dest], 1)
        again = measure("benchmarks.bench_staging:stage", [str(logs), dest], 1)
        peer = measure("benchmarks.bench_staging:load_all", [str(logs)], 1)
    d, a, p = first["digest"], again["digest"], peer["digest"]
    agree = (d["rows"] == p["rows"] == n and d["rejected"] == 0 and a["converted"] == 0
             and d["sums"][0] == p["sums"][0] and abs(d["sums"][1] / p["sums"][1] - 1) < 1e-9
             and d["sums"][2] == p["sums"][2])
    return [{
        "work": f"stage a JSONL.gz day to parquet, {n / 1e6:g}M requests in {n // per_file} files ({disk_mb:.0f} MB)",
        "obskit_s": first["s"], "obskit_peak_mb": first["peak_mb"],
        "peer": "load every file in memory (load_requests)", "peer_s": peer["s"], "peer_peak_mb": peer["peak_mb"],
        "ratio": peer["s"] / first["s"], "agree": agree, "again_s": again["s"], "rows_per_s": n / first["s"],
    }]


if __name__ == "__main__":
    size = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else None
    for row in run(quick="--quick" in sys.argv, rows=size):
        print(json.dumps(row))
