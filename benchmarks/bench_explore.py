"""Benchmark: re-filtering the explorer (``obskit.explore``) vs recomputing from raw rows.

A synthetic day of canonical requests is generated in memory with numpy (sorted
timestamps over 24 h, two versions at 90/10 %, lognormal latencies, 1 % errors,
confidences, a few corrections and features): 10M rows, or 200k in quick mode. An
:class:`obskit.explorer.Explorer` is built on it once (its load time is reported as
``load_s``), then a re-filter -- ``set_range`` + ``set_versions``, alternating between two
filters so that every call changes something -- is timed, median of 10. A re-filter
recomputes and redraws the visible tab (traffic & latency: three charts, the summary and
the slowest-requests table) into the widgets' state; the browser's own drawing is not
included. The peer is what a notebook without the explorer does for the same filter:
filter the raw rows and call ``window_stats`` on them. ``agree``: the explorer's
per-window frame equals the peer's exactly (counts, error rates, exact percentiles).

At scale, the same day is written as hive-partitioned parquet (``hour=HH``; 100M rows,
300k in quick mode) and the explorer is opened on a lazy scan of it
(:class:`obskit.explorer.data.ExplorerData` on a scan: counts and latency sketches per
window and version, drill-down rows, a 1M-row sample for drift; ``load_s`` is its streaming
passes). The same re-filter is timed; the peer re-scans the files for each filter and calls
``window_stats`` with polars' streaming engine. ``agree``: counts and error rates equal,
percentiles within the sketch's 0.5 % bound. The issue's bound is a re-filter <= 200 ms.

Peak memory is the growth of the peak RSS (VmHWM, reset after the data is generated) of
a fresh subprocess, during the explorer's build and re-filters, or the peer's
recomputations (Linux only).

Run: ``python -m benchmarks --only explore [--quick]``; the at-scale row alone:
``python -m benchmarks.bench_explore --scale-rows 100000000``
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

DAY = datetime(2026, 11, 22, tzinfo=UTC)
_DAY_US = 1795305600 * 1_000_000  # DAY in epoch microseconds
CLASSES = ("sneaker", "boot", "sandal", "shirt", "dress", "coat", "bag", "hat", "pullover", "trouser")
FILTERS = (
    ("2026-11-22T10:00:00Z", "2026-11-22T14:00:00Z", ("v1.5.0",)),
    ("2026-11-22T08:00:00Z", "2026-11-22T20:00:00Z", ("v1.4.0",)),
)


def synthetic_requests(
    n: int,
    *,
    seed: int = 7,
    versions: Sequence[str] = ("v1.4.0", "v1.5.0"),
    shares: Sequence[float] = (0.9, 0.1),
) -> pl.DataFrame:
    """A canonical ``requests`` frame of ``n`` requests over one day (2026-11-22, UTC).

    Columns: ``timestamp`` (sorted), ``request_id``, ``model``, ``model_version``,
    ``latency_ms`` (lognormal, each later version 30 % slower), ``status`` (1 % errors),
    ``status_code``, ``error``, ``prediction``, ``confidence``, ``corrected_label``
    (about 1 % of answered requests), ``corrected_at`` and the features ``brightness``,
    ``contrast`` and ``client``.

    >>> synthetic_requests(1000).height
    1000
    """
    rng = np.random.default_rng(seed)
    ts = np.sort(_DAY_US + rng.integers(0, 86_400 * 1_000_000, n))
    vi = rng.choice(len(versions), size=n, p=np.asarray(shares, dtype=np.float64) / np.sum(shares))
    lat = rng.lognormal(np.log(14.0), 0.35, n) * (1.3 ** vi)
    err = rng.random(n) < 0.01
    pred_i = rng.integers(0, len(CLASSES), n)
    conf = np.clip(rng.beta(8, 2, n), 0.0, 1.0)
    fixed = (~err) & (rng.random(n) < 0.01)
    fix_i = (pred_i + 1 + rng.integers(0, len(CLASSES) - 1, n)) % len(CLASSES)
    classes = pl.Series(CLASSES)
    utc = pl.Datetime("us", "UTC")
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(ts).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "model": pl.repeat("resnet50", n, eager=True),
            "model_version": pl.Series(list(versions)).gather(vi),
            "latency_ms": lat,
            "status": pl.Series(np.where(err, "error", "ok")).cast(pl.Enum(["ok", "error"])),
            "status_code": pl.Series(np.where(err, 503, 200).astype(np.int32)),
            "prediction": classes.gather(pred_i),
            "confidence": conf,
            "brightness": rng.normal(118.0, 30.0, n),
            "contrast": rng.normal(0.5, 0.1, n),
            "client": pl.Series(["ios", "android", "web"]).gather(rng.integers(0, 3, n)),
            "_fixed": fixed,
            "_fix": classes.gather(fix_i),
        }
    )
    return frame.select(
        "timestamp",
        pl.format("r{}", pl.int_range(pl.len())).alias("request_id"),
        "model",
        "model_version",
        "latency_ms",
        "status",
        "status_code",
        pl.when(pl.col("status") == "error").then(pl.lit("upstream timeout")).alias("error"),
        pl.when(pl.col("status") == "ok").then(pl.col("prediction")).alias("prediction"),
        pl.when(pl.col("status") == "ok").then(pl.col("confidence")).alias("confidence"),
        "brightness",
        "contrast",
        "client",
        pl.when(pl.col("_fixed")).then(pl.col("_fix")).alias("corrected_label"),
        pl.when(pl.col("_fixed")).then(pl.col("timestamp") + pl.duration(minutes=30)).cast(utc).alias("corrected_at"),
    )


def write_day(folder: Path, n: int, *, rows_per_file: int = 2_000_000) -> Path:
    """Write ``n`` requests of :func:`synthetic_requests` as hive-partitioned parquet (``hour=HH``) under ``folder``.

    Each file is one slice of the day (its own seed, time-ordered); the request ids stay unique.
    Returns the folder.
    """
    n_files = max(1, -(-n // rows_per_file))
    span = 86_400 * 1_000_000 // n_files
    for k in range(n_files):
        m = min(rows_per_file, n - k * rows_per_file)
        part = synthetic_requests(m, seed=1000 + k)
        shift = pl.col("timestamp").dt.epoch("us") - _DAY_US
        ts = (pl.lit(_DAY_US + k * span) + shift // n_files).cast(pl.Datetime("us", "UTC"))
        part = part.with_columns(
            ts.alias("timestamp"),
            pl.format("f{}-{}", pl.lit(k), pl.col("request_id")).alias("request_id"),
            pl.col("corrected_at") - pl.col("timestamp") + ts,
        )
        out = folder / f"hour={k * 24 // n_files:02d}"
        out.mkdir(parents=True, exist_ok=True)
        part.write_parquet(out / f"part-{k:04d}.parquet", compression="zstd", row_group_size=256_000)
    return folder


def synthetic_reference(n: int = 20_000, *, seed: int = 11) -> pl.DataFrame:
    """A reference set with the features, ``label``, ``prediction`` and ``confidence`` of :func:`synthetic_requests`.

    >>> synthetic_reference(10).columns
    ['brightness', 'contrast', 'client', 'label', 'prediction', 'confidence']
    """
    rng = np.random.default_rng(seed)
    classes = pl.Series(CLASSES)
    return pl.DataFrame({
        "brightness": rng.normal(118.0, 30.0, n),
        "contrast": rng.normal(0.5, 0.1, n),
        "client": pl.Series(["ios", "android", "web"]).gather(rng.integers(0, 3, n)),
        "label": classes.gather(rng.integers(0, len(CLASSES), n)),
        "prediction": classes.gather(rng.integers(0, len(CLASSES), n)),
        "confidence": rng.beta(8, 2, n),
    })


def _raw_filter(requests: pl.DataFrame | pl.LazyFrame, start: str, end: str,
                versions: Sequence[str]) -> pl.DataFrame | pl.LazyFrame:
    lo = datetime.fromisoformat(start)
    hi = datetime.fromisoformat(end)
    return requests.filter(
        (pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi) & pl.col("model_version").is_in(list(versions))
    )


def _kb(field: str) -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak() -> int:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    return _kb("VmRSS:")


def _digest(stats: pl.DataFrame) -> list[list[Any]]:
    return [[int(r[0].timestamp()), *r[1:]] for r in stats.select(
        "window_start", "requests", "errors", "error_rate", "mean_ms", "p50_ms", "p95_ms", "p99_ms").iter_rows()]


def worker(which: str, source: str, runs: int) -> dict[str, Any]:
    """One side of the benchmark in this process: timings, peak MB and the last result's digest.

    ``source`` is a row count (a synthetic day generated in memory) or a parquet folder
    (a lazy scan of it: the explorer at scale, and a peer that re-scans it per filter).
    """
    requests: pl.DataFrame | pl.LazyFrame = _scan(source) if not source.isdigit() else synthetic_requests(
        int(source))
    reference = synthetic_reference()
    before = _reset_peak()
    times: list[float] = []
    out: dict[str, Any] = {}
    if which == "obskit":
        from obskit.explorer import Explorer

        t0 = time.perf_counter()
        ex = Explorer(requests, reference=reference, every="5m", chart_backend="output")
        out["load_s"] = time.perf_counter() - t0
        for i in range(runs):
            start, end, versions = FILTERS[i % 2]
            t0 = time.perf_counter()
            ex.set_range(start, end)
            ex.set_versions(list(versions))
            times.append(time.perf_counter() - t0)
        stats = ex.frames["traffic"]["stats"]
    else:
        from obskit.analyze.serving import window_stats

        for i in range(runs):
            start, end, versions = FILTERS[i % 2]
            t0 = time.perf_counter()
            streamed = isinstance(requests, pl.LazyFrame)  # a scan is streamed; rows in memory stay as they are
            with pl.Config(engine_affinity="streaming") if streamed else contextlib.nullcontext():
                stats = window_stats(_raw_filter(requests, start, end, versions), every="5m")
            times.append(time.perf_counter() - t0)
    out.update(s=statistics.median(times), max_s=max(times), peak_mb=(_kb("VmHWM:") - before) / 1024,
               rows=_digest(stats))
    return out


def _scan(folder: str) -> pl.LazyFrame:
    return pl.scan_parquet(folder, hive_partitioning=True).drop("hour")


def _agree_within_sketch(ours: list[list[Any]], exact: list[list[Any]]) -> bool:
    """Counts and rates equal, percentiles within the latency sketch's relative bound."""
    from obskit.scale.sketches import DEFAULT_ALPHA

    if len(ours) != len(exact):
        return False
    for a, b in zip(ours, exact, strict=True):
        if a[:4] != b[:4] or not math.isclose(a[4], b[4], rel_tol=1e-9):
            return False
        if any(abs(x / y - 1) > DEFAULT_ALPHA + 1e-9 for x, y in zip(a[5:], b[5:], strict=True)):
            return False
    return True


def _measure(which: str, *args: Any) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_explore", "--worker", which, *map(str, args)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def scale_row(n: int) -> dict[str, Any]:
    """The explorer at scale over ``n`` requests of hive parquet vs re-scanning the files per filter."""
    with tempfile.TemporaryDirectory(prefix="obskit-explore-scale-") as tmp:
        folder = write_day(Path(tmp) / "requests", n)
        disk_mb = sum(f.stat().st_size for f in folder.rglob("*.parquet")) / 1e6
        ours = _measure("obskit", folder, 10)
        peer = _measure("peer", folder, 4)
    return {
        "work": f"explorer at scale re-filter (range+version), {n / 1e6:g}M requests ({disk_mb:.0f} MB parquet)",
        "obskit_s": round(ours["s"], 4),
        "obskit_peak_mb": round(ours["peak_mb"], 1),
        "peer": "re-scan the parquet + window_stats (streaming)",
        "peer_s": round(peer["s"], 4),
        "peer_peak_mb": round(peer["peak_mb"], 1),
        "ratio": round(peer["s"] / ours["s"], 1),
        "agree": _agree_within_sketch(ours["rows"], peer["rows"]),
        "obskit_max_s": round(ours["max_s"], 4),
        "load_s": round(ours["load_s"], 2),
    }


def run(quick: bool = False, scale_rows: int | None = None) -> list[dict[str, Any]]:
    """Time an explorer re-filter vs ``window_stats`` on the raw rows: 10M requests (200k quick) in memory, and
    100M (300k quick) at scale on hive parquet."""
    n = 200_000 if quick else 10_000_000
    runs = 10
    ours = _measure("obskit", n, runs)
    peer = _measure("peer", n, runs)
    return [
        {
            "work": f"explorer re-filter (range+version), {n / 1e6:g}M requests",
            "obskit_s": round(ours["s"], 4),
            "obskit_peak_mb": round(ours["peak_mb"], 1),
            "peer": "filter raw rows + window_stats",
            "peer_s": round(peer["s"], 4),
            "peer_peak_mb": round(peer["peak_mb"], 1),
            "ratio": round(peer["s"] / ours["s"], 1),
            "agree": ours["rows"] == peer["rows"],
            "obskit_max_s": round(ours["max_s"], 4),
            "load_s": round(ours["load_s"], 2),
        },
        scale_row(scale_rows or (300_000 if quick else 100_000_000)),
    ]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], int(sys.argv[4])), default=str))
    elif "--scale-rows" in sys.argv:
        print(json.dumps(scale_row(int(sys.argv[sys.argv.index("--scale-rows") + 1]))))
    else:
        for row in run(quick="--quick" in sys.argv):
            print(json.dumps(row))
