"""Loaders: what serving stacks write, into canonical polars frames (see :mod:`obskit.schemas`).

One module per source family; ``load_x(source, *, options)`` returns a frame, ``scan_x`` is
the lazy twin where files can be large. Bad records follow one rule everywhere: strict mode
raises :class:`~obskit.errors.ParseError` with file and line, lenient mode keeps them in a
:class:`Quarantine`.
"""

from obskit.load._quarantine import LoadStats, Quarantine, RejectedRecordsWarning
from obskit.load.gpu import load_compute_apps, load_dmon, load_nvidia_smi, load_pmon
from obskit.load.gpu_metrics import gpu_from_metrics
from obskit.load.logs import attach_feedback, load_feedback, load_reference, load_requests, scan_requests
from obskit.load.nvml import NvmlSampler, sample_nvml
from obskit.load.otel import load_otlp_spans
from obskit.load.prometheus_api import PrometheusClient, load_prometheus_json
from obskit.load.prometheus_text import Exposition, load_prometheus_text, parse_exposition, scan_prometheus_text
from obskit.load.traces import load_torch_trace

__all__ = [
    "Exposition",
    "LoadStats",
    "NvmlSampler",
    "PrometheusClient",
    "Quarantine",
    "RejectedRecordsWarning",
    "attach_feedback",
    "gpu_from_metrics",
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
    "parse_exposition",
    "sample_nvml",
    "scan_prometheus_text",
    "scan_requests",
]
