"""Benchmark: obskit ``column_drift`` against Evidently 0.7's ``DataDriftPreset``.

Work: ``n`` reference rows and ``n`` current rows x 20 Float64 columns (standard normal
reference; column ``i`` of the current frame shifted by ``0.012 * i`` standard deviations,
so both verdicts occur). With more than 1000 reference rows both tools pick the normalized
Wasserstein distance for every column.

Method
    Each side runs in its own subprocess (``python benchmarks/bench_drift.py --side ...``)
    that generates the same seeded data with numpy, builds the frame its tool takes
    (polars for obskit, pandas for Evidently, so neither pays a conversion), times the
    drift call alone (obskit: median of ``repeat`` runs; Evidently: one run, it is slow)
    and reports its own peak resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``) and
    the RSS just before the timed call. ``peak_mb`` is the whole process peak: interpreter,
    imports, the input frames and the computation; ``*_work_mb`` subtracts the RSS before
    the call. ``agree`` is True when every column has the same method, a statistic equal
    within 1e-6 relative, and the same drift verdict.

Run ``python benchmarks/bench_drift.py`` (100k and 1M rows; Evidently at 1M takes minutes)
or ``python benchmarks/bench_drift.py --quick`` (5k rows, agreement only).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

N_COLUMNS = 20
SHIFT_STEP = 0.012


def _data(n: int, k: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(12345)
    ref = {f"f{i:02d}": rng.normal(0.0, 1.0, n) for i in range(k)}
    cur = {f"f{i:02d}": rng.normal(SHIFT_STEP * i, 1.0, n) for i in range(k)}
    return ref, cur


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _side_obskit(n: int, k: int, repeat: int) -> dict[str, Any]:
    import polars as pl

    from obskit.analyze.drift import column_drift

    ref_np, cur_np = _data(n, k)
    ref, cur = pl.DataFrame(ref_np), pl.DataFrame(cur_np)
    del ref_np, cur_np
    before = _current_rss_mb()
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = column_drift(ref, cur)
        times.append(time.perf_counter() - t0)
    assert out is not None
    cols = {
        r["column"]: {"method": r["method"], "statistic": r["statistic"], "drifted": r["drifted"]}
        for r in out.iter_rows(named=True)
    }
    return {
        "seconds": median(times),
        "runs": times,
        "peak_mb": _rss_mb(),
        "before_mb": before,
        "columns": cols,
    }


_EVIDENTLY_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
    "Hellinger distance": "hellinger",
    "Anderson-Darling": "anderson",
    "Cramer-von Mises": "cramer_von_mises",
    "Mann-Whitney U-rank test": "mannw",
    "t_test": "t_test",
}


def _side_evidently(n: int, k: int) -> dict[str, Any]:
    import warnings

    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    warnings.filterwarnings("ignore")
    ref_np, cur_np = _data(n, k)
    names = list(ref_np)
    ref, cur = pd.DataFrame(ref_np), pd.DataFrame(cur_np)
    del ref_np, cur_np
    before = _current_rss_mb()
    t0 = time.perf_counter()
    definition = DataDefinition(numerical_columns=names)
    report = Report([DataDriftPreset()], include_tests=True)
    snap = report.run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    seconds = time.perf_counter() - t0
    cols = _evidently_columns(snap.dict())
    return {
        "seconds": seconds,
        "runs": [seconds],
        "peak_mb": _rss_mb(),
        "before_mb": before,
        "columns": cols,
    }


def _evidently_columns(snap: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-column method, statistic and verdict from an Evidently 0.7 snapshot dict."""
    by_id: dict[str, dict[str, Any]] = {}
    for m in snap["metrics"]:
        cfg = m["config"]
        if cfg.get("type") == "evidently:metric_v2:ValueDrift":
            by_id[m["id"]] = {
                "column": cfg["column"],
                "method": _EVIDENTLY_NAMES.get(cfg["method"], cfg["method"]),
                "statistic": float(m["value"]),
                "threshold": float(cfg["threshold"]),
            }
    for t in snap["tests"]:
        fp = t["bound_test"].get("metric_fingerprint")
        if fp in by_id:
            by_id[fp]["drifted"] = str(getattr(t["status"], "value", t["status"])) == "FAIL"
    return {v.pop("column"): v for v in by_id.values()}


def _spawn(side: str, n: int, repeat: int, timeout: float | None) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--side",
        side,
        "--n",
        str(n),
        "--repeat",
        str(repeat),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} side failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _agree(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> bool:
    if set(a) != set(b):
        return False
    for col, x in a.items():
        y = b[col]
        if x["method"] != y["method"] or x["drifted"] != y["drifted"]:
            return False
        denom = max(abs(y["statistic"]), 1e-300)
        if abs(x["statistic"] - y["statistic"]) / denom > 1e-6 and x["statistic"] != y["statistic"]:
            return False
    return True


def run(quick: bool) -> list[dict[str, Any]]:
    """Run the benchmark; one row per size.

    Rows: ``work, obskit_s, obskit_peak_mb, obskit_work_mb, peer, peer_s, peer_peak_mb,
    peer_work_mb, ratio`` (peer_s / obskit_s) and ``agree``.
    """
    sizes = [5_000] if quick else [100_000, 1_000_000]
    rows = []
    for n in sizes:
        ours = _spawn("obskit", n, 1 if quick else 5, None)
        peer = _spawn("evidently", n, 1, None)
        rows.append(
            {
                "work": f"column_drift {n:,} vs {n:,} rows x {N_COLUMNS} numeric",
                "obskit_s": round(ours["seconds"], 3),
                "obskit_peak_mb": round(ours["peak_mb"], 1),
                "obskit_work_mb": round(ours["peak_mb"] - ours["before_mb"], 1),
                "peer": "evidently 0.7.23 DataDriftPreset",
                "peer_s": round(peer["seconds"], 3),
                "peer_peak_mb": round(peer["peak_mb"], 1),
                "peer_work_mb": round(peer["peak_mb"] - peer["before_mb"], 1),
                "ratio": round(peer["seconds"] / ours["seconds"], 1),
                "agree": _agree(ours["columns"], peer["columns"]),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--side", choices=["obskit", "evidently"])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.side == "obskit":
        print(json.dumps(_side_obskit(args.n, N_COLUMNS, args.repeat)))
        return
    if args.side == "evidently":
        print(json.dumps(_side_evidently(args.n, N_COLUMNS)))
        return
    for row in run(args.quick):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
