"""Default alert rules, as a TOML snippet for ``obskit.toml``.

Tuned on the sample day (``obskit sample``): each rule catches its incident and none
fires on the clean day (``generate(clean=True)``); ``tests/test_alerts_defaults.py``
checks both. The sample serves only ~1-5 requests/s, so request-based rules use windows
of 10 minutes or more: over 1 minute a single failed request can exceed 1%, and over 5
minutes the clean day's error rate peaks at 0.92% (10 minutes: 0.68%).

Frames they expect (see :mod:`obskit.alerts.signals`): ``window_stats`` at 1 minute,
``drift_over_time`` hourly with ``method="kl_div"``, ``business`` hourly, and the
canonical ``gpu`` frame.
"""

from __future__ import annotations

import tomllib

from obskit.alerts.rules import Rule, parse_rules

__all__ = ["DEFAULT_RULES_TOML", "default_rules"]

DEFAULT_RULES_TOML = """\
# Alert rules: backtested by the report, exportable to Prometheus (obskit alerts export).
# Signals: see obskit.alerts.signals. Durations: 30s, 5m, 1h. Comparison: > >= < <= == !=

[[alerts]]
name = "high-error-rate"
signal = "error_rate"
comparison = ">"
threshold = 0.01
window = "10m"                # rolling 10-minute error rate, evaluated every minute
interval = "1m"
for = "1m"
severity = "page"
summary = "error rate {value:.2%} over {window} (objective < {threshold:.0%}), firing for {duration}"

[[alerts]]
name = "error-budget-fast-burn"
signal = "burn_rate"
objective = 0.99              # availability objective ([slo] availability)
comparison = ">"
threshold = 4                 # 4x the sustainable rate: a day's budget gone in 6 hours
window = "5m"
interval = "1m"
for = "1m"
severity = "page"
summary = "error budget burning {value:.1f}x faster than sustainable over {window}"

[[alerts]]
name = "p99-latency-slo"
signal = "slow_request_share"   # share of successful requests slower than [slo] latency_ms
comparison = ">"
threshold = 0.01              # more than 1% slower than the SLO <=> the window's p99 breaks it
window = "5m"
interval = "1m"
for = "2m"
severity = "page"
summary = "{value:.1%} of requests slower than the latency SLO (p99 objective) for {duration}"

[[alerts]]
name = "feature-drift"
signal = "kl_divergence"      # per feature, hourly windows against the training set
comparison = ">"
threshold = 0.3
severity = "ticket"
summary = "feature {feature} drifted: KL divergence {value:.2f} > {threshold} since {start:%H:%M} UTC"

[[alerts]]
name = "high-correction-rate"
signal = "correction_rate"    # hourly windows
comparison = ">"
threshold = 0.01              # [business] correction_rate_max
for = "0s"
severity = "ticket"
summary = "users corrected {value:.1%} of confident predictions (max {threshold:.0%})"

[[alerts]]
name = "low-confident-rate"
signal = "confident_rate"     # hourly windows
comparison = "<"
threshold = 0.6
severity = "ticket"
summary = "only {value:.0%} of predictions are confident (floor {threshold:.0%})"

[[alerts]]
name = "slow-canary"
signal = "version_latency_ratio"   # p50 of a version / p50 of the other versions, same windows
comparison = ">"
threshold = 1.15
window = "15m"
interval = "5m"
for = "5m"
severity = "ticket"
summary = "{model_version} is {value:.0%} of the other versions' p50 latency for {duration}"

[[alerts]]
name = "gpu-memory-pressure"
signal = "gpu_memory_used_share"
comparison = ">"
threshold = 0.9
window = "1m"
interval = "1m"
for = "2m"
severity = "page"
summary = "GPU memory {value:.0%} used for {duration}"
"""


def default_rules() -> list[Rule]:
    """:data:`DEFAULT_RULES_TOML` parsed."""
    return parse_rules(tomllib.loads(DEFAULT_RULES_TOML)["alerts"], path="obskit.alerts.defaults")
