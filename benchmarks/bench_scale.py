"""Benchmark: the scale path (``obskit.scale``) on hive-partitioned parquet.

Data: a generator writes request files straight from numpy (no JSON):
``day=2026-11-22/hour=HH/part-KKKK.parquet``, ``rows_per_file`` rows each, with the sample
day's columns (timestamp, model_version, latency_ms, status, confidence, brightness,
contrast, client, region, prediction; brightness shifts in the last six hours), plus a
50k-row reference parquet drawn without the shift.

Work: :func:`~obskit.scale.streaming.stream_window_stats` (5-minute windows by model
version, p50/p90/p95/p99) then :func:`~obskit.scale.streaming.stream_drift` (8 columns),
timed together in a fresh process (``benchmarks._measure.measure``: median wall time and
peak RSS growth; the digest also carries the process's absolute peak RSS).

(a) Scaling curve at 100k, 1M and 10M requests against the exact in-memory path
    (``read_parquet`` + :func:`~obskit.analyze.serving.window_stats` +
    :func:`~obskit.analyze.drift.column_drift`). ``agree``: same request and error counts,
    same drift verdicts, every percentile within the sketch's ``alpha``.
(b) 100M requests (100 files x 1M rows, about 3 GB) through the streaming path alone;
    ``agree``: all rows counted, verdicts as expected, absolute peak RSS below 4 GB.

Quick mode: 100k for (a) and 1M rows in 10 files for (b). Data go to ``$TMPDIR`` (``/tmp``) and
are deleted afterwards. Run ``python -m benchmarks --only scale [--quick]`` or
``python benchmarks/bench_scale.py [--quick] [--sizes 100000,1000000]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._measure import measure

DAY_US = 1_763_769_600 * 1_000_000  # 2026-11-22T00:00:00Z
CLIENTS = ["ios", "android", "web"]
REGIONS = ["us-east", "eu-west", "ap-south"]
CLASSES = ["sneaker", "boots", "jacket", "shirt", "wallet", "bag", "hat", "dress"]
DRIFT_COLUMNS = ["brightness", "contrast", "confidence", "file_size_kb", "jpeg_quality", "client", "region",
                 "prediction"]
ALPHA = 0.005
LIMIT_MB = 4096


def _features(rng: np.random.Generator, n: int, shifted: bool) -> dict[str, Any]:
    import polars as pl

    client = rng.choice(3, n, p=[0.45, 0.35, 0.2])
    bright = rng.normal(118.0, 24.0, n)
    if shifted:
        bright = np.where((client < 2) & (rng.random(n) < 0.6), rng.normal(74.0, 21.0, n), bright)
    return {
        "confidence": np.round(np.clip(rng.beta(11.0, 1.5, n), 0.01, 0.9999), 4),
        "brightness": np.round(np.clip(bright, 0, 255), 2),
        "contrast": np.round(np.clip(rng.normal(52.0, 10.0, n), 1, 128), 2),
        "file_size_kb": np.round(np.exp(rng.normal(np.log(90.0), 0.3, n)), 1),
        "jpeg_quality": rng.choice(np.array([70, 75, 80, 85, 90, 95]), n),
        "client": pl.Series(CLIENTS).gather(client).cast(pl.Categorical),
        "region": pl.Series(REGIONS).gather(rng.choice(3, n)).cast(pl.Categorical),
        "prediction": pl.Series(CLASSES).gather(rng.choice(len(CLASSES), n)).cast(pl.Categorical),
    }


def generate(folder: Path, n_rows: int, rows_per_file: int = 1_000_000, seed: int = 0) -> Path:
    """Write ``n_rows`` requests as hive-partitioned parquet under ``folder/requests``; return it."""
    import polars as pl

    root = folder / "requests"
    n_files = max(1, -(-n_rows // rows_per_file))
    seeds = np.random.SeedSequence(seed).spawn(n_files)
    for k in range(n_files):
        rng = np.random.default_rng(seeds[k])
        n = min(rows_per_file, n_rows - k * rows_per_file)
        hour = k * 24 // n_files
        start = DAY_US + hour * 3_600_000_000
        ts = np.sort(rng.integers(0, 3_600_000_000, n)) + start
        canary = rng.random(n) < 0.1
        latency = 1.2 + rng.exponential(1.5, n) + rng.lognormal(np.log(9.0), 0.18, n) * np.where(canary, 1.35, 1.0)
        latency += np.where(rng.random(n) < 0.004, rng.lognormal(np.log(35.0), 0.45, n), 0.0)
        error = rng.random(n) < 0.001
        frame = pl.DataFrame({
            "timestamp": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
            "model_version": pl.Series(np.where(canary, "v1.5.0", "v1.4.0")).cast(pl.Categorical),
            "latency_ms": np.round(latency, 3),
            "status": pl.Series(np.where(error, "error", "ok")).cast(pl.Categorical),
            **_features(rng, n, shifted=hour >= 18),
        })
        out = root / "day=2026-11-22" / f"hour={hour:02d}"
        out.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(out / f"part-{k:04d}.parquet", compression="zstd", row_group_size=256_000)
    ref = pl.DataFrame(_features(np.random.default_rng(seed + 1), 50_000, shifted=False))
    ref.write_parquet(folder / "reference.parquet")
    return root


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def stream_side(source: str, reference: str) -> dict[str, Any]:
    import polars as pl

    from obskit.scale.streaming import stream_drift, stream_window_stats

    ws = stream_window_stats(source, every="5m", by=("model_version",))
    drift = stream_drift(pl.read_parquet(reference), source, columns=DRIFT_COLUMNS)
    return {
        "requests": int(ws["requests"].sum()),
        "errors": int(ws["errors"].sum()),
        "drifted": drift.filter("drifted")["column"].to_list(),
        "certain": bool(drift["verdict_certain"].all()),
        "p99": ws.select(pl.col("window_start").cast(pl.String), pl.col("model_version").cast(pl.String), "p50_ms",
                         "p99_ms").rows(),
        "abs_peak_mb": _peak_mb(),
    }


def exact_side(source: str, reference: str) -> dict[str, Any]:
    import polars as pl

    from obskit.analyze.drift import column_drift
    from obskit.analyze.serving import window_stats

    df = pl.read_parquet(source, hive_partitioning=False)
    ws = window_stats(df, every="5m", by=("model_version",))
    cur = df.select(DRIFT_COLUMNS).with_columns(pl.col(c).cast(pl.String) for c in ("client", "region", "prediction"))
    drift = column_drift(pl.read_parquet(reference), cur, columns=DRIFT_COLUMNS, n_boot=0)
    return {
        "requests": int(ws["requests"].sum()),
        "errors": int(ws["errors"].sum()),
        "drifted": drift.filter("drifted")["column"].to_list(),
        "certain": True,
        "p99": ws.select(pl.col("window_start").cast(pl.String), pl.col("model_version").cast(pl.String), "p50_ms",
                         "p99_ms").rows(),
        "abs_peak_mb": _peak_mb(),
    }


def _agree(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if (a["requests"], a["errors"], a["drifted"]) != (b["requests"], b["errors"], b["drifted"]):
        return False
    exact = {(str(r[0]), r[1]): r[2:] for r in b["p99"]}
    for r in a["p99"]:
        ref = exact.get((str(r[0]), r[1]))
        if ref is None or any(abs(x - y) > ALPHA * abs(y) * (1 + 1e-9) for x, y in zip(r[2:], ref, strict=True)):
            return False
    return len(a["p99"]) == len(b["p99"])


def _size(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n // 1000}k"


def curve_row(n: int, runs: int, tmp: Path) -> dict[str, Any]:
    folder = tmp / f"curve-{n}"
    t0 = time.perf_counter()
    root = generate(folder, n, rows_per_file=min(1_000_000, max(n // 24, 1000)))
    gen_s = time.perf_counter() - t0
    disk_mb = sum(f.stat().st_size for f in root.rglob("*.parquet")) / 1e6
    args = [str(root), str(folder / "reference.parquet")]
    ob = measure("benchmarks.bench_scale:stream_side", args, runs)
    ex = measure("benchmarks.bench_scale:exact_side", args, 1 if n >= 10_000_000 else runs)
    shutil.rmtree(folder)
    return {
        "work": f"stream window stats + drift, {_size(n)} rows ({disk_mb:.0f} MB parquet)",
        "obskit_s": ob["s"], "obskit_peak_mb": ob["peak_mb"], "peer": "exact in-memory (read+window_stats+drift)",
        "peer_s": ex["s"], "peer_peak_mb": ex["peak_mb"], "ratio": ex["s"] / ob["s"],
        "agree": _agree(ob["digest"], ex["digest"]) and ob["digest"]["certain"],
        "obskit_abs_peak_mb": ob["digest"]["abs_peak_mb"], "peer_abs_peak_mb": ex["digest"]["abs_peak_mb"],
        "generate_s": gen_s,
    }


def big_row(n: int, rows_per_file: int, tmp: Path) -> dict[str, Any]:
    folder = tmp / f"big-{n}"
    t0 = time.perf_counter()
    root = generate(folder, n, rows_per_file=rows_per_file)
    gen_s = time.perf_counter() - t0
    disk_mb = sum(f.stat().st_size for f in root.rglob("*.parquet")) / 1e6
    ob = measure("benchmarks.bench_scale:stream_side", [str(root), str(folder / "reference.parquet")], 1)
    shutil.rmtree(folder)
    d = ob["digest"]
    ok = d["requests"] == n and d["drifted"] == ["brightness"] and d["abs_peak_mb"] < LIMIT_MB
    return {
        "work": f"stream window stats + drift, {_size(n)} rows ({disk_mb:.0f} MB parquet, {-(-n // rows_per_file)} "
                "files)",
        "obskit_s": ob["s"], "obskit_peak_mb": ob["peak_mb"], "peer": f"limit: abs peak RSS < {LIMIT_MB} MB",
        "peer_s": None, "peer_peak_mb": float(LIMIT_MB), "ratio": None, "agree": ok,
        "obskit_abs_peak_mb": d["abs_peak_mb"], "generate_s": gen_s, "rows_per_s": n / ob["s"],
    }


def run(quick: bool = False, sizes: list[int] | None = None, big: int | None = None) -> list[dict[str, Any]]:
    """Rows for the scaling curve and the big run (see the module docstring)."""
    sizes = sizes if sizes is not None else ([100_000] if quick else [100_000, 1_000_000, 10_000_000])
    big = big if big is not None else (1_000_000 if quick else 100_000_000)
    runs = 1 if quick else 3
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="obskit-scale-") as tmp:
        for n in sizes:
            rows.append(curve_row(n, runs, Path(tmp)))
        if big:
            rows.append(big_row(big, 100_000 if quick else 1_000_000, Path(tmp)))
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sizes", default=None, help="comma-separated curve sizes, e.g. 100000,1000000")
    p.add_argument("--big", type=int, default=None, help="rows of the big run (0: skip)")
    a = p.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")] if a.sizes else None
    result = run(a.quick, sizes, a.big)
    print(json.dumps(result, indent=2, default=str))
