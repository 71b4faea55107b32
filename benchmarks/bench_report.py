"""Benchmark: the health report end to end, and the nightly scale pipeline, at growing sizes.

(a) The health notebook: for each size, ``obskit sample --requests N`` writes a day, then
    ``obskit report`` runs the health notebook (papermill kernel, every analysis, nbconvert,
    offline HTML) in a fresh process. Reported: wall time, peak RSS of the process tree (the
    kernel does the work), and the page size, which must stay flat (charts are built from
    aggregates). Targets: 1M requests <= 30 s, 10M <= 3 min on a 2-core machine; page <= 2 MB.
    Its frames are in memory: this curve stops at 10M.
(b) The nightly scale pipeline over hive-partitioned parquet (``bench_scale.generate``): the
    day's rollup (:func:`~obskit.scale.rollup.build_rollup`: exact counts, latency sketches,
    error messages per 5-minute window and version) saved and read back, its daily figures,
    and drift of 8 columns (:func:`~obskit.scale.streaming.stream_drift`), in a fresh
    process. Bounds: peak RSS <= 4 GB and <= 10 min at 100M requests on this 2-core machine;
    ``agree``: every request counted and the expected drift verdicts.

(c) The health notebook at scale: ``obskit report`` over the same parquet with
    ``[report] max_rows = 0``, so every size takes the scale path
    (:mod:`obskit.report.scale`: one streaming pass builds the rollup, drift streams, no
    row is loaded), with the default alert rules (``alert_rules_evaluated``: those evaluated
    at scale / those the in-memory report evaluates on one file of the same day; the rules
    on GPU telemetry and corrections have nothing to read in this day). Same bounds as (b);
    ``agree``: every request counted, the page states the sketch bound, and every rule the
    in-memory report evaluates was evaluated at scale.

Run ``python -m benchmarks.bench_report`` (both curves: 1M and 10M, then 1M, 10M and 100M),
``--sizes`` / ``--scale-sizes`` to choose, ``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


_WRAP = (
    "import resource, subprocess, sys\n"
    "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(r.stderr[-2000:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(r.returncode)\n"
)


def _report(folder: Path) -> tuple[float, float, int]:
    """Wall time, peak RSS (MB, largest process of this run's tree: the kernel) and page size of one report.

    A fresh wrapper process runs the report, so the peak is this run's, not the largest of
    every earlier run of this benchmark.
    """
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "obskit.cli", "report", "--config", str(folder / "obskit.toml"),
           "--out", str(folder / "reports")]
    out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if out.returncode not in (0, 3):  # 3: an alert fired (the sample days have incidents)
        raise RuntimeError(f"obskit report failed ({out.returncode}): {out.stderr[-1000:]}")
    peak_kb = int(out.stdout.strip().splitlines()[-1])
    page = next((folder / "reports").glob("*/health.html")).stat().st_size
    return wall, peak_kb / 1024, page


LIMIT_MB = 4096
LIMIT_S = 600.0


def pipeline(source: str, reference: str, out: str) -> dict[str, Any]:
    """The scale pipeline of one day (runs in the measured process)."""
    import polars as pl

    from benchmarks.bench_scale import DRIFT_COLUMNS
    from obskit.scale.rollup import Rollup, build_rollup
    from obskit.scale.streaming import stream_drift

    saved = build_rollup(source, slo_ms=50.0).save(Path(out) / "rollup")
    daily = Rollup.load(saved).coarsen("1d", by=()).table()
    drift = stream_drift(pl.read_parquet(reference), source, columns=DRIFT_COLUMNS)
    return {
        "requests": int(daily["requests"].sum()),
        "p99_ms": float(daily["p99_ms"][0]),
        "drifted": drift.filter("drifted")["column"].to_list(),
        "certain": bool(drift["verdict_certain"].all()),
        "abs_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def scale_row(n: int, folder: Path, root: Path) -> dict[str, Any]:
    from benchmarks._measure import measure

    disk_mb = sum(f.stat().st_size for f in root.rglob("*.parquet")) / 1e6
    ob = measure("benchmarks.bench_report:pipeline", [str(root), str(folder / "reference.parquet"), str(folder)], 1)
    d = ob["digest"]
    ok = d["requests"] == n and d["drifted"] == ["brightness"] and d["abs_peak_mb"] < LIMIT_MB and ob["s"] < LIMIT_S
    return {
        "work": f"nightly scale pipeline (rollup + drift), {n:,} requests ({disk_mb:.0f} MB parquet)",
        "obskit_s": ob["s"], "obskit_peak_mb": d["abs_peak_mb"], "peer": f"bounds {LIMIT_S:.0f} s, {LIMIT_MB} MB",
        "peer_s": LIMIT_S, "peer_peak_mb": float(LIMIT_MB), "ratio": LIMIT_S / ob["s"], "agree": ok,
        "rows_per_s": n / ob["s"],
    }


SCALE_CONFIG = """
[project]
name = "bench-at-scale"
model = "resnet50"

[sources.requests]
path = "{requests}"
format = "parquet"
status_convention = "text"

[sources.reference]
path = "{reference}"

[features]
numeric = ["brightness", "contrast", "file_size_kb", "jpeg_quality"]
categorical = ["client", "region"]

[slo]
latency_ms = 50.0

[report]
max_rows = 0
"""


def health_at_scale_row(n: int, folder: Path, root: Path) -> dict[str, Any]:
    cfg = folder / "obskit.toml"
    from obskit.alerts.defaults import DEFAULT_RULES_TOML

    cfg.write_text(SCALE_CONFIG.format(requests=root, reference=folder / "reference.parquet") + "\n"
                   + DEFAULT_RULES_TOML)  # the default rules: alerts are evaluated at every size
    wall, peak_mb, page = _report(folder)
    summary = json.loads(next((folder / "reports").glob("*/summary.json")).read_text())
    alerts = json.loads(next((folder / "reports").glob("*/alerts.json")).read_text())
    n_rules = int(alerts["counts"]["rules"])
    evaluated = n_rules - len(alerts["skipped"])
    evaluable = n_rules - len(_skipped_in_memory(folder, root))
    html = next((folder / "reports").glob("*/health.html")).read_text()
    ok = (summary["figures"].get("requests") == n and "within 0.5%" in html and peak_mb < LIMIT_MB
          and wall < LIMIT_S)
    return {
        "work": f"health report at scale, {n:,} requests (page {page / 1e6:.2f} MB)",
        "obskit_s": wall, "obskit_peak_mb": peak_mb, "peer": f"bounds {LIMIT_S:.0f} s, {LIMIT_MB} MB",
        "peer_s": LIMIT_S, "peer_peak_mb": float(LIMIT_MB), "ratio": LIMIT_S / wall,
        # every rule the in-memory report evaluates on this day's data is evaluated at scale
        "agree": ok and evaluated == evaluable > 0,
        "status": summary.get("status"), "alert_rules_evaluated": f"{evaluated}/{evaluable}",
        "alerts_fired": int(alerts["counts"]["fired"]),
    }


def _skipped_in_memory(folder: Path, root: Path) -> set[str]:
    """The rules the in-memory report skips on one file of the same day (no GPU, no feedback: nothing to read)."""
    small = folder / "in-memory"
    small.mkdir(exist_ok=True)
    import polars as pl

    from obskit.alerts.defaults import DEFAULT_RULES_TOML

    first = small / "slice.parquet"  # the in-memory loader needs request ids, which the generated day has not
    frame = pl.read_parquet(sorted(root.rglob("*.parquet"))[0])
    frame.with_row_index("request_id").with_columns(pl.col("request_id").cast(pl.String)).write_parquet(first)

    (small / "obskit.toml").write_text(
        SCALE_CONFIG.format(requests=first, reference=folder / "reference.parquet")
        .replace("max_rows = 0", "max_rows = 10000000") + "\n" + DEFAULT_RULES_TOML)
    _report(small)
    alerts = json.loads(next((small / "reports").glob("*/alerts.json")).read_text())
    return {str(s["rule"]) for s in alerts["skipped"]}


def run(quick: bool = False, sizes: tuple[int, ...] | None = None,
        scale_sizes: tuple[int, ...] | None = None, health_sizes: tuple[int, ...] | None = None,
        ) -> list[dict[str, Any]]:
    from benchmarks.bench_scale import generate as generate_parquet
    """One row per size of each curve (see the module docstring)."""
    from obskit.sample import generate

    # quick (CI): no health-report curve; tests/test_report.py runs that report and checks its page size
    sizes = sizes if sizes is not None else (() if quick else (1_000_000, 10_000_000))
    scale_sizes = scale_sizes if scale_sizes is not None else (
        (100_000,) if quick else (1_000_000, 10_000_000, 100_000_000))
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
    # quick (CI): the health report at scale already runs end to end in tests/test_report_scale.py
    health_sizes = health_sizes if health_sizes is not None else (
        () if quick else (1_000_000, 10_000_000, 100_000_000))
    with tempfile.TemporaryDirectory(prefix="obskit-report-scale-") as tmp:
        for n in sorted(set(scale_sizes) | set(health_sizes)):
            folder = Path(tmp) / f"day-{n}"  # one day of parquet per size, for (b) and (c)
            root = generate_parquet(folder, n, rows_per_file=min(1_000_000, max(n // 24, 1000)))
            if n in scale_sizes:
                rows.append(scale_row(n, folder, root))
            if n in health_sizes:
                rows.append(health_at_scale_row(n, folder, root))
            shutil.rmtree(folder)
    return rows


def curve(rows: list[dict[str, Any]]) -> str:
    """The time and peak-RSS curve of each part, one line per size."""
    lines = []
    for r in rows:
        bar = "#" * max(1, round(r["obskit_s"] / 10))
        rules = (f"  rules evaluated {r['alert_rules_evaluated']}, fired {r['alerts_fired']}"
                 if "alert_rules_evaluated" in r else "")
        lines.append(f"{r['work'][:70]:<70} {r['obskit_s']:8.1f} s {r['obskit_peak_mb']:8.0f} MB  {bar}{rules}")
    return "\n".join(lines)


if __name__ == "__main__":
    from benchmarks.__main__ import table

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sizes", default=None, help="health-report sizes, comma-separated (empty: skip)")
    p.add_argument("--scale-sizes", default=None, help="scale-pipeline sizes, comma-separated (empty: skip)")
    p.add_argument("--health-sizes", default=None, help="health-at-scale sizes, comma-separated (empty: skip)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON too")
    a = p.parse_args()

    def _sizes(text: str | None) -> tuple[int, ...] | None:
        return None if text is None else tuple(int(x) for x in text.split(",") if x)

    result = run(a.quick, _sizes(a.sizes), _sizes(a.scale_sizes), _sizes(a.health_sizes))
    print(table(result))
    print(curve(result))
    if a.json:
        print(json.dumps(result, indent=2, default=str))
