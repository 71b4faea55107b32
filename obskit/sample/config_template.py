"""The ``obskit.toml`` written next to the sample day: a commented template users can copy."""

from __future__ import annotations

from pathlib import Path

from obskit.sample.scenario import Scenario

__all__ = ["write_config"]

TEMPLATE = """\
# obskit project config for the sample day ({day}).
# Copy this file next to your own data and change the paths and the column mapping.
# Paths are relative to this file.

[project]
name = "product-image-classifier"
model = "{model}"
timezone = "UTC"                 # assumed for timestamps written without an offset

[sources.requests]
path = "requests.jsonl.gz"       # a file, a glob ("logs/*.jsonl.gz") or a hive-partitioned folder
format = "jsonl"                 # jsonl | csv | parquet (default: from the file name)
timestamp_format = "iso8601"     # iso8601 | s | ms | us | ns (epoch numbers)
status_convention = "http"       # http (code < 400 is ok) | text ("ok"/"error") | bool | grpc (0 is ok)
# stage = "staged/requests"     # many JSONL.gz files of a large day: converted once to parquet, reported at scale

[sources.requests.columns]       # canonical name = "field in your logs"
timestamp = "ts"
status_code = "http_status"
prediction = "pred_label"

[sources.feedback]               # user corrections, joined on request_id
path = "feedback.jsonl"

[sources.feedback.columns]
corrected_at = "ts"

[sources.reference]              # the training set
path = "reference.parquet"

[sources.prometheus]
query_range = ["prometheus/query_range.json"]   # saved /api/v1/query_range responses
scrapes = "prometheus/scrapes"                    # a folder of periodic /metrics scrapes
# url = "http://127.0.0.1:9090"                   # or a live server, queried for each [[panels]] entry
# token_env = "OBSKIT_PROMETHEUS_TOKEN"           # the variable holding its bearer token (never written)

[sources.gpu]
kind = "nvidia_smi"              # any loader: nvidia_smi, dcgm, dmon, pmon, compute_apps, torch_trace, otlp...
path = "gpu/nvidia-smi.csv"
timezone = "UTC"                 # nvidia-smi logs local time: the host's timezone
host = "triton-0"                # keeps machines apart when several GPU sources are configured

# More sources: one table each, named as you like (`obskit check` loads and describes them all).
# [sources.node2_gpu]
# kind = "dmon"
# path = "node2/dmon.txt"
# [sources.profile]
# kind = "torch_trace"
# path = "traces/*.pt.trace.json.gz"

# Your own Prometheus queries, charted in the health report's Metrics section (live server above).
# [[panels]]
# title = "Triton queue time per request"
# query = "rate(nv_inference_queue_duration_us[5m]) / rate(nv_inference_request_success[5m])"
# unit = "us"
# threshold = 5000

# Where obskit's signals live in Prometheus, for `obskit alerts export` and `obskit dashboards export`.
# Only what is named here is exported: this day's Prometheus is Triton's /metrics. With other metric
# names, drop the preset and give each signal its query:
# [promql.signals.error_rate]
# query = "sum by ({{by}}) (rate(errors_total[{{window}}])) / sum by ({{by}}) (rate(requests_total[{{window}}]))"
[promql]
preset = "triton"                # or "dcgm" (DCGM_FI_DEV_*), a list of both, or "none"

[features]
numeric = ["brightness", "contrast", "file_size_kb", "jpeg_quality"]
categorical = ["width", "height", "client", "region"]

[slo]
latency_ms = {slo_ms:g}               # p{slo_q_pct:g} latency objective
latency_quantile = {slo_q:g}
availability = {avail:g}              # share of requests that must succeed
window = "5m"

[business]
confidence_threshold = {conf:g}       # a prediction at or above this is "confident"
correction_rate_max = 0.01

[report]
window = "5m"                    # aggregation window of the charts
# max_rows = 5000000             # more requests in the period, from parquet: report at scale (streamed)
"""


def write_config(path: Path, s: Scenario) -> Path:
    """Write the sample config for scenario ``s`` to ``path``."""
    text = TEMPLATE.format(
        day=s.day.date().isoformat(),
        model=s.model,
        slo_ms=s.slo_latency_ms,
        slo_q=s.slo_quantile,
        slo_q_pct=s.slo_quantile * 100,
        avail=s.slo_availability,
        conf=s.confidence_threshold,
    )
    from obskit.alerts.defaults import DEFAULT_RULES_TOML

    # the rules' summary templates contain braces: appended, not passed through str.format
    path.write_text(text + "\n" + DEFAULT_RULES_TOML, encoding="utf-8")
    return path
