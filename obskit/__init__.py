"""obskit: a Jupyter-native observability kit for deep-learning models in production.

The curated public API (imported on first use, so ``import obskit`` stays cheap):

``Session``
    A project's config, a period, and its sources loaded on first use.
``explore``
    The interactive explorer (ipywidgets) over a config or frames.
``run_report``, ``open_report``
    Run a report notebook into an HTML page; open a report run in a notebook of your own.
``load_requests``, ``load_feedback``, ``load_reference``, ``load_otlp_spans``,
``load_prometheus_text``, ``load_prometheus_json``, ``load_nvidia_smi``, ``load_dmon``,
``load_pmon``, ``load_compute_apps``, ``load_torch_trace``
    Loaders into canonical polars frames (``obskit schema`` documents them).
``analyses``
    An index of the analysis functions: ``{name: "module.function"}``.
``ObskitError``
    The root of every error obskit raises.

Examples
--------
>>> import obskit
>>> "window_stats" in obskit.analyses
True
>>> obskit.analyses["column_drift"]
'obskit.analyze.drift.column_drift'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from obskit.errors import ObskitError

if TYPE_CHECKING:
    from obskit.explorer.entry import explore
    from obskit.load.gpu import load_compute_apps, load_dmon, load_nvidia_smi, load_pmon
    from obskit.load.logs import load_feedback, load_reference, load_requests
    from obskit.load.otel import load_otlp_spans
    from obskit.load.prometheus_api import load_prometheus_json
    from obskit.load.prometheus_text import load_prometheus_text
    from obskit.load.traces import load_torch_trace
    from obskit.report.runner import run_report
    from obskit.report.section import open_report
    from obskit.session import Session

__all__ = [
    "ObskitError",
    "Session",
    "__version__",
    "analyses",
    "explore",
    "load_compute_apps",
    "load_dmon",
    "load_feedback",
    "load_nvidia_smi",
    "load_otlp_spans",
    "load_pmon",
    "load_prometheus_json",
    "load_prometheus_text",
    "load_reference",
    "load_requests",
    "load_torch_trace",
    "open_report",
    "run_report",
]

_HOME = {
    "Session": "obskit.session",
    "explore": "obskit.explorer",
    "run_report": "obskit.report.runner",
    "open_report": "obskit.report.section",
    "load_requests": "obskit.load.logs",
    "load_feedback": "obskit.load.logs",
    "load_reference": "obskit.load.logs",
    "load_otlp_spans": "obskit.load.otel",
    "load_prometheus_text": "obskit.load.prometheus_text",
    "load_prometheus_json": "obskit.load.prometheus_api",
    "load_nvidia_smi": "obskit.load.gpu",
    "load_dmon": "obskit.load.gpu",
    "load_pmon": "obskit.load.gpu",
    "load_compute_apps": "obskit.load.gpu",
    "load_torch_trace": "obskit.load.traces",
}

#: Where each analysis lives: ``{function name: "module.function"}`` (pure functions on frames).
analyses: dict[str, str] = {
    name: f"obskit.analyze.{module}.{name}"
    for module, names in {
        "serving": ["window_stats"],
        "latency": ["latency_percentiles", "triton_latency_breakdown"],
        "slo": ["latency_slo", "availability_slo", "error_budget", "burn_rate_alerts"],
        "errors": ["error_rate", "throughput", "sustained", "top_errors", "batch_size"],
        "gpu": ["gpu_stats", "memory_pressure", "idle_periods", "saturated_periods", "energy_per_1k_inferences",
                "process_memory"],
        "kernels": ["top_kernels", "kernels_per_stream"],
        "capacity": ["replicas_needed"],
        "cost": ["cost_per_1k"],
        "business": ["business_metrics", "quality_estimate", "classification_metrics", "fit_calibration"],
        "drift": ["column_drift", "dataset_drift", "kl_divergence", "psi", "drift_over_time",
                  "prediction_drift_over_time"],
        "multivariate": ["domain_classifier_drift"],
        "quality": ["infer_baseline", "check_quality"],
        "distributions": ["distributions"],
        "versions": ["busiest_versions", "version_traffic", "version_latency_ratio", "rollout_episodes"],
        "canary": ["canary_comparison"],
        "detect": ["score", "detect", "flag_anomalies", "knn_distance", "level_deviation", "discord_distance",
                   "estimate_period", "cusum", "cusum_statistic", "pelt", "change_points"],
        "timeline": ["one_timeline"],
    }.items()
    for name in names
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value: Any = version("obskit")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0+unknown"
    elif name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
    else:
        raise AttributeError(f"module 'obskit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
