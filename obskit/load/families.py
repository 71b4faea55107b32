"""Registry of metric families that serving stacks export, with their type, unit and meaning.

Scrapes do not always carry ``# TYPE`` lines (a federation dump, a hand-made capture, a
relabelling proxy that drops comments). For the families obskit knows - NVIDIA Triton
Inference Server (``nv_*``) and the NVIDIA DCGM exporter (``DCGM_FI_*``) - the registry
fills the type and unit in the metadata frame instead of leaving them ``untyped``. A
``# TYPE`` line in the scrape always wins over the registry.

Patterns are full-match regular expressions over the *family* name (``nv_gpu_utilization``,
not a sample name such as ``..._sum``); the first matching entry wins, so specific entries
come before the generic ones.

DCGM reports "no value" with sentinel numbers (``DCGM_INT32_BLANK``, ``DCGM_INT64_BLANK``,
``DCGM_FP64_BLANK`` and their ``NOT_FOUND``/``NOT_SUPPORTED``/``NOT_PERMISSIONED`` siblings,
see ``dcgm_structs.h``); the exporter prints them verbatim. :func:`dcgm_blank` recognises
them so loaders can turn them into nulls.

Examples
--------
>>> lookup("nv_inference_request_summary_us").type
'summary'
>>> lookup("DCGM_FI_DEV_FB_USED").unit
'MiB'
>>> lookup("my_app_requests_total") is None
True
>>> is_dcgm_blank(9223372036854775794.0), is_dcgm_blank(140737488355328.0), is_dcgm_blank(42.0)
(True, True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

__all__ = [
    "DCGM_BLANK_VALUES",
    "REGISTRY",
    "FamilySpec",
    "dcgm_blank",
    "is_dcgm_blank",
    "lookup",
]


@dataclass(frozen=True)
class FamilySpec:
    """What obskit knows about a family of metrics.

    ``pattern`` is a full-match regex over the family name; ``type`` is a Prometheus /
    OpenMetrics type; ``unit`` is the unit of the sample values (``None``: dimensionless
    or unknown); ``origin`` names the exporter.
    """

    pattern: str
    type: str
    unit: str | None
    meaning: str
    origin: str


def _t(pattern: str, type_: str, unit: str | None, meaning: str) -> FamilySpec:
    return FamilySpec(pattern, type_, unit, meaning, "triton")


def _d(pattern: str, type_: str, unit: str | None, meaning: str) -> FamilySpec:
    return FamilySpec(pattern, type_, unit, meaning, "dcgm")


REGISTRY: tuple[FamilySpec, ...] = (
    # --- NVIDIA Triton Inference Server (port 8002, /metrics) -------------------------
    _t("nv_inference_request_success", "counter", None, "Successful inference requests, all batch sizes."),
    _t("nv_inference_request_failure", "counter", None,
       "Failed inference requests, all batch sizes (newer servers add a 'reason' label)."),
    _t("nv_inference_count", "counter", None, "Inferences performed (a batch of 8 counts 8)."),
    _t("nv_inference_exec_count", "counter", None, "Model executions performed (a batch counts once)."),
    _t("nv_inference_pending_request_count", "gauge", None, "Requests waiting to execute, per model."),
    _t("nv_inference_request_duration_us", "counter", "us", "Cumulative end-to-end request time."),
    _t("nv_inference_queue_duration_us", "counter", "us", "Cumulative time requests waited in the queue."),
    _t("nv_inference_compute_input_duration_us", "counter", "us", "Cumulative time preparing inputs."),
    _t("nv_inference_compute_infer_duration_us", "counter", "us", "Cumulative time executing the model."),
    _t("nv_inference_compute_output_duration_us", "counter", "us", "Cumulative time extracting outputs."),
    _t("nv_inference_first_response_histogram_ms", "histogram", "ms",
       "Time to first response (decoupled models)."),
    _t(r"nv_inference_\w+_summary_us", "summary", "us",
       "Latency summary over a sliding window; 'quantile' label, plus _sum and _count."),
    _t(r"nv_inference_\w+_duration_us", "counter", "us", "Cumulative duration of an inference phase."),
    _t(r"nv_inference_\w+", "counter", None, "Triton inference counter."),
    _t("nv_energy_consumption", "counter", "joules", "GPU energy used since the server started."),
    _t("nv_gpu_utilization", "gauge", "ratio", "GPU utilization, 0.0 to 1.0."),
    _t("nv_gpu_memory_total_bytes", "gauge", "bytes", "GPU memory total."),
    _t("nv_gpu_memory_used_bytes", "gauge", "bytes", "GPU memory used."),
    _t("nv_gpu_power_usage", "gauge", "watts", "GPU power draw."),
    _t("nv_gpu_power_limit", "gauge", "watts", "GPU power management limit."),
    _t(r"nv_gpu_\w+", "gauge", None, "Triton GPU gauge."),
    _t("nv_cpu_utilization", "gauge", "ratio", "Host CPU utilization, 0.0 to 1.0."),
    _t(r"nv_cpu_memory_\w+_bytes", "gauge", "bytes", "Host memory (RAM)."),
    _t(r"nv_cpu_\w+", "gauge", None, "Triton host CPU gauge."),
    _t(r"nv_pinned_memory_pool_\w+_bytes", "gauge", "bytes", "Pinned host memory pool."),
    _t(r"nv_cache_num_(hits|misses)_per_model", "counter", None, "Response-cache hits or misses per model."),
    _t(r"nv_cache_(hit|miss)_duration_per_model", "counter", "us",
       "Cumulative response-cache hit or miss time per model."),
    _t("nv_cache_util", "gauge", "ratio", "Response-cache utilization, 0.0 to 1.0."),
    _t(r"nv_cache_(lookup|insertion)_duration", "gauge", "us", "Total response-cache lookup/insertion time."),
    _t(r"nv_cache_\w+", "gauge", None, "Response-cache gauge (entries, hits, misses, lookups, evictions)."),
    # --- NVIDIA DCGM exporter (port 9400, /metrics) --------------------------------------
    _d("DCGM_FI_DEV_SM_CLOCK", "gauge", "MHz", "SM clock frequency."),
    _d("DCGM_FI_DEV_MEM_CLOCK", "gauge", "MHz", "Memory clock frequency."),
    _d("DCGM_FI_DEV_(GPU|MEMORY)_TEMP", "gauge", "celsius", "GPU or memory temperature."),
    _d("DCGM_FI_DEV_(SLOWDOWN|SHUTDOWN)_TEMP", "gauge", "celsius", "Slowdown/shutdown temperature threshold."),
    _d("DCGM_FI_DEV_POWER_USAGE", "gauge", "watts", "Power draw."),
    _d("DCGM_FI_DEV_POWER_MGMT_LIMIT", "gauge", "watts", "Power management limit."),
    _d("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "mJ", "Energy used since boot."),
    _d("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", None, "PCIe retries."),
    _d("DCGM_FI_DEV_(GPU|MEM_COPY|ENC|DEC)_UTIL", "gauge", "percent", "Utilization, 0 to 100."),
    _d("DCGM_FI_DEV_FB_USED_PERCENT", "gauge", "ratio", "Share of framebuffer memory used."),
    _d("DCGM_FI_DEV_FB_(FREE|USED|TOTAL|RESERVED)", "gauge", "MiB", "Framebuffer (device) memory."),
    _d("DCGM_FI_DEV_XID_ERRORS", "gauge", None, "Value of the last XID error."),
    _d("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter", None, "NVLink bandwidth counters, all lanes."),
    _d(r"DCGM_FI_DEV_(UN)?CORRECTABLE_REMAPPED_ROWS", "counter", None, "Remapped memory rows."),
    _d(r"DCGM_FI_DEV_ECC_\w+", "counter", None, "ECC error counts."),
    _d(r"DCGM_FI_DEV_RETIRED_\w+", "counter", None, "Retired pages."),
    _d(r"DCGM_FI_DEV_(CLOCK_THROTTLE|CLOCKS_EVENT)_REASONS", "gauge", None, "Clock throttle reasons bitmask."),
    _d("DCGM_FI_DEV_FAN_SPEED", "gauge", "percent", "Fan speed."),
    _d(r"DCGM_FI_DEV_\w+", "gauge", None, "DCGM device field."),
    _d(r"DCGM_FI_PROF_PCIE_(TX|RX)_BYTES", "counter", "bytes",
       "PCIe traffic (the exporter declares a counter; DCGM reports a rate in bytes/s)."),
    _d(r"DCGM_FI_PROF_NVLINK_(TX|RX)_BYTES", "counter", "bytes", "NVLink traffic."),
    _d(r"DCGM_FI_PROF_\w+", "gauge", "ratio",
       "Profiling metric, share of time or cycles active, 0.0 to 1.0 (GR_ENGINE, SM, TENSOR, DRAM...)."),
    _d(r"DCGM_EXP_\w+", "gauge", None, "dcgm-exporter derived metric."),
)

_COMPILED = tuple((re.compile(spec.pattern), spec) for spec in REGISTRY)


@lru_cache(maxsize=4096)
def lookup(family: str) -> FamilySpec | None:
    """The registry entry for ``family`` (first full match), or ``None``."""
    for rx, spec in _COMPILED:
        if rx.fullmatch(family):
            return spec
    return None


# dcgm_structs.h: DCGM_INT32_BLANK = 0x7ffffff0, DCGM_INT64_BLANK = 0x7ffffffffffffff0,
# DCGM_FP64_BLANK = 140737488355328.0 (2**47); NOT_FOUND, NOT_SUPPORTED and NOT_PERMISSIONED
# are BLANK + 1, + 2 and + 3. As float64 every INT64 sentinel rounds to 2**63.
_INT32_BLANK = 0x7FFFFFF0
_INT64_BLANK = 0x7FFFFFFFFFFFFFF0
_FP64_BLANK = 140737488355328.0
DCGM_BLANK_VALUES: tuple[float, ...] = (
    *(float(_INT32_BLANK + i) for i in range(4)),
    *(_FP64_BLANK + i for i in range(4)),
)
_INT64_BLANK_AS_FLOAT = float(_INT64_BLANK)  # == 2.0**63


def is_dcgm_blank(value: float) -> bool:
    """Whether ``value`` is one of DCGM's "no data" sentinels."""
    return value in DCGM_BLANK_VALUES or value >= _INT64_BLANK_AS_FLOAT


def dcgm_blank(value: pl.Expr) -> pl.Expr:
    """A boolean expression: ``value`` is a DCGM "no data" sentinel.

    Only exact sentinels are matched for the INT32 and FP64 families (a real energy counter
    in mJ may legitimately exceed 2**31); anything at or above 2**63 is an INT64 sentinel.
    """
    return value.is_in(list(DCGM_BLANK_VALUES)) | (value >= _INT64_BLANK_AS_FLOAT)
