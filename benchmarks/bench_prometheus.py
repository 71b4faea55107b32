"""Benchmark: obskit's exposition parser vs prometheus_client's, on a Triton-like scrape.

Generates a ~5 MB NVIDIA Triton /metrics scrape (many models, versions and GPUs; counters,
gauges and latency summaries), then times ``obskit.load.prometheus_text.parse_exposition``
against ``prometheus_client.parser.text_string_to_metric_families`` (all samples consumed),
median of 5 runs each, and checks that both read identical samples (name, labels, value).
Peak memory is the growth of the peak RSS (VmHWM, reset before the parse) of a fresh
subprocess doing one parse (Linux only).

Run: ``python benchmarks/bench_prometheus.py [--quick]``
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from benchmarks._measure import measure
from obskit.load.prometheus_text import parse_exposition

_SUMMARY_PHASES = ("request", "queue", "compute_input", "compute_infer", "compute_output")
_QUANTILES = ("0.5", "0.9", "0.95", "0.99", "0.999")


def triton_scrape(target_bytes: int, seed: int = 7) -> str:
    """A Triton-like scrape of about ``target_bytes`` (grows the number of models)."""
    rnd = random.Random(seed)
    n_models = 8
    while True:
        text = _scrape(rnd, n_models)
        if len(text) >= target_bytes:
            return text
        n_models = max(n_models + 1, int(n_models * target_bytes / len(text)) + 1)


def _scrape(rnd: random.Random, n_models: int) -> str:
    models = [(f"model_{i:04d}_{rnd.choice(['onnx', 'trt', 'pt'])}", str(v)) for i in range(n_models) for v in (1, 2)]
    gpus = [f"GPU-{rnd.getrandbits(32):08x}-{i:04x}-4c1b-9a7e-31c2f0a4d9{i:02x}" for i in range(8)]
    out: list[str] = []

    def fam(name: str, typ: str, help_: str) -> None:
        out.append(f"# HELP {name} {help_}\n# TYPE {name} {typ}\n")

    for name in ("nv_inference_request_success", "nv_inference_count", "nv_inference_exec_count"):
        fam(name, "counter", "Number of inferences")
        out.extend(f'{name}{{model="{m}",version="{v}"}} {rnd.randint(0, 10**7)}\n' for m, v in models)
    fam("nv_inference_request_failure", "counter", "Number of failed inference requests")
    for m, v in models:
        out.extend(
            f'nv_inference_request_failure{{model="{m}",reason="{r}",version="{v}"}} {rnd.randint(0, 50)}\n'
            for r in ("REJECTED", "CANCELED", "BACKEND", "OTHER")
        )
    for phase in _SUMMARY_PHASES:
        name = f"nv_inference_{phase}_duration_us"
        fam(name, "counter", "Cumulative duration in microseconds")
        out.extend(f'{name}{{model="{m}",version="{v}"}} {rnd.randint(0, 10**11)}\n' for m, v in models)
    fam("nv_inference_pending_request_count", "gauge", "Pending requests")
    out.extend(
        f'nv_inference_pending_request_count{{model="{m}",version="{v}"}} {rnd.randint(0, 9)}\n' for m, v in models
    )
    for name in ("nv_gpu_utilization", "nv_gpu_memory_total_bytes", "nv_gpu_memory_used_bytes",
                 "nv_gpu_power_usage", "nv_gpu_power_limit", "nv_energy_consumption"):
        fam(name, "counter" if name == "nv_energy_consumption" else "gauge", "GPU metric")
        out.extend(f'{name}{{gpu_uuid="{g}"}} {rnd.random() * 400:.6g}\n' for g in gpus)
    fam("nv_cpu_utilization", "gauge", "CPU utilization rate [0.0 - 1.0]")
    out.append(f"nv_cpu_utilization {rnd.random():.4f}\n")
    for phase in _SUMMARY_PHASES:
        name = f"nv_inference_{phase}_summary_us"
        fam(name, "summary", "Summary of duration in microseconds")
        for m, v in models:
            out.append(f'{name}_count{{model="{m}",version="{v}"}} {rnd.randint(0, 10**6)}\n')
            out.append(f'{name}_sum{{model="{m}",version="{v}"}} {rnd.randint(0, 10**10)}\n')
            out.extend(
                f'{name}{{model="{m}",version="{v}",quantile="{q}"}} {rnd.random() * 10**4:.1f}\n'
                for q in _QUANTILES
            )
    return "".join(out)


def _key(name: str, labels: dict[str, str], value: float) -> tuple[str, tuple[tuple[str, str], ...], str]:
    return name, tuple(sorted(labels.items())), "nan" if math.isnan(value) else repr(float(value) + 0.0)


def _peer_samples(text: str) -> list[Any]:
    out = []
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            name = s.name
            out.append(_key(name, s.labels, s.value))
    return out


def _obskit_samples(text: str) -> list[Any]:
    exp = parse_exposition(text, default_timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    s = exp.samples
    counters = set(exp.metadata.filter(exp.metadata["type"] == "counter")["family"].to_list())
    labels = [c for c in s.columns if c not in ("timestamp", "metric", "value", "family")]
    out = []
    for row in s.iter_rows(named=True):
        name = row["metric"]
        if name in counters and not name.endswith("_total"):
            name += "_total"  # prometheus_client's text parser renames counter samples so
        out.append(_key(name, {k: row[k] for k in labels if row[k] is not None}, row["value"]))
    return out


def read_text(path: str) -> str:
    """Setup (untimed): the scrape's text, with the parsers already imported."""
    import prometheus_client.parser  # noqa: F401

    import obskit.load.prometheus_text  # noqa: F401

    with open(path, encoding="utf-8") as fh:
        return fh.read()


def obskit_side(text: str) -> int:
    return parse_exposition(text, default_timestamp=datetime(2026, 1, 1, tzinfo=UTC)).samples.height


def peer_side(text: str) -> int:
    return len([s for f in text_string_to_metric_families(text) for s in f.samples])


def _measure(which: str, path: Path, runs: int, threads: int | None = None) -> dict[str, Any]:
    """Median time and peak RSS growth of ``runs`` parses in a fresh subprocess."""
    env = {"POLARS_MAX_THREADS": str(threads)} if threads is not None else None
    return measure(f"benchmarks.bench_prometheus:{which}_side", [str(path)], runs,
                   setup="benchmarks.bench_prometheus:read_text", env=env)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Time obskit vs prometheus_client; one row per obskit thread setting.

    Each side runs in its own fresh subprocess (median of 5 parses). prometheus_client is
    single-threaded, so the first row pins polars to one thread for a like-for-like ratio;
    the second uses polars' default thread pool (all cores).
    """
    size = 500_000 if quick else 5_000_000
    runs = 3 if quick else 5
    text = triton_scrape(size)
    agree = sorted(_obskit_samples(text)) == sorted(_peer_samples(text))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "triton.prom"
        path.write_text(text)
        peer = _measure("peer", path, runs)
        for threads in (1, None):
            ours = _measure("obskit", path, runs, threads)
            label = "1 polars thread" if threads == 1 else f"{os.cpu_count()} cores, default polars threads"
            rows.append(
                {
                    "work": f"parse Triton-like scrape, {len(text) / 1e6:.1f} MB, "
                    f"{text.count(chr(10))} lines ({label})",
                    "obskit_s": round(ours["s"], 4),
                    "obskit_peak_mb": round(ours["peak_mb"], 1),
                    "peer": "prometheus_client.parser.text_string_to_metric_families",
                    "peer_s": round(peer["s"], 4),
                    "peer_peak_mb": round(peer["peak_mb"], 1),
                    "ratio": round(peer["s"] / ours["s"], 1),
                    "agree": agree,
                }
            )
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
