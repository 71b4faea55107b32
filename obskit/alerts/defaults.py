"""Default alert rules, as a TOML snippet for ``obskit.toml``.

Scored on the scenario library (:mod:`obskit.sample.library`, ``python -m
benchmarks.detection``): every incident kind detected, no alert on the clean days (weekend,
10x volume, very low volume, a no-op deploy...); ``tests/test_alerts_defaults.py`` checks
the sample day and a representative few. Ratio rules carry ``min_samples`` so that a quiet
night (one failed request = 5%) is judged by the baseline-relative, significance-tested
signals instead.

Frames they expect: :func:`obskit.alerts.inputs.signal_frames` computes them all.
"""

from __future__ import annotations

import tomllib

from obskit.alerts.rules import Rule, parse_rules

__all__ = ["DEFAULT_RULES_TOML", "default_rules"]

DEFAULT_RULES_TOML = """\
# Alert rules: backtested by the report, exportable to Prometheus (obskit alerts export).
# Signals: see obskit.alerts.signals. Durations: 30s, 5m, 1h. Comparison: > >= < <= == !=
# Each rule says what it watches and why its threshold; all are scored on the scenario
# library (python -m benchmarks.detection): every incident caught, no alert on clean days.

# --- errors -------------------------------------------------------------------------
[[alerts]]
name = "high-error-rate"
signal = "error_rate"
comparison = ">"
threshold = 0.01              # 1% of requests failing over 10 minutes: users notice
window = "10m"
interval = "1m"
for = "1m"
min_samples = 500             # fewer requests: a few errors make 1%; error-excess judges those
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
min_samples = 500
severity = "page"
summary = "error budget burning {value:.1f}x faster than sustainable over {window}"

[[alerts]]
name = "error-excess"
signal = "error_excess"       # errors vs the trailing 3 h rate, per version; reported only when clear (p < 1e-6)
comparison = ">="
threshold = 3                 # 3x the usual errors: low but sustained failures, a canary that errs more
interval = "1m"
for = "2m"
severity = "page"
summary = "{model_version}: {value:.1f}x the usual errors, for {duration}"

[[alerts]]
name = "version-errors"
signal = "version_error_ratio"   # a version's error rate / the other versions', last 15 min; clear only (p < 1e-6)
comparison = ">="
threshold = 3                 # a canary failing 3x more than stable, on the same traffic
interval = "1m"
for = "2m"
severity = "page"
summary = "{model_version} fails {value:.1f}x as often as the other versions, for {duration}"

# --- latency ------------------------------------------------------------------------
[[alerts]]
name = "p99-latency-slo"
signal = "slow_request_share"   # share of successful requests slower than [slo] latency_ms
comparison = ">"
threshold = 0.01              # more than 1% slower than the SLO <=> the window's p99 breaks it
window = "5m"
interval = "1m"
for = "2m"
min_samples = 200
severity = "page"
summary = "{value:.1%} of requests slower than the latency SLO (p99 objective) for {duration}"

[[alerts]]
name = "latency-regression"
signal = "latency_ratio"      # p50 of the last 400 answers / its trailing-hour median
match = { quantile = "p50" }
comparison = ">"
threshold = 1.4               # typical requests 40% slower than an hour ago, even far below the SLO
interval = "1m"
for = "3m"
severity = "page"
summary = "p50 latency {value:.2f}x its trailing-hour level for {duration}"

[[alerts]]
name = "tail-latency-regression"
signal = "latency_ratio"      # p99 of the last 1000 answers / its trailing-hour median
match = { quantile = "p99" }
comparison = ">"
threshold = 2.0               # the tail doubled (p99 of 1000 answers is noisier than p50: a higher bar)
interval = "1m"
for = "3m"
severity = "page"
summary = "p99 latency {value:.2f}x its trailing-hour level for {duration}"

[[alerts]]
name = "slow-canary"
signal = "version_latency_ratio"   # p50 of a version / p50 of the other versions, same windows
match = { quantile = "p50" }
comparison = ">"
threshold = 1.15
window = "15m"
interval = "5m"
for = "5m"
severity = "ticket"
summary = "{model_version} is {value:.0%} of the other versions' p50 latency for {duration}"

[[alerts]]
name = "slow-canary-tail"
signal = "version_latency_ratio"   # p95 of a version / p95 of the others; 1 unless more of its requests
match = { quantile = "p95" }       # pass the others' p95 than chance allows (binomial, p < 0.001)
comparison = ">"
threshold = 1.25              # the version's tail 25% slower: its p50 may not have moved
window = "15m"
interval = "5m"
for = "10m"
severity = "ticket"
summary = "{model_version}'s p95 latency is {value:.0%} of the other versions' for {duration}"

# --- traffic ------------------------------------------------------------------------
[[alerts]]
name = "traffic-drop"
signal = "traffic_ratio"      # requests in the last 3/10/30 min vs the hour before; clear changes only
comparison = "<"
threshold = 0.4               # most of the traffic is gone (0 = an outage); bursty dips rarely reach it
interval = "1m"
for = "2m"
severity = "page"
summary = "traffic at {value:.0%} of its trailing level for {duration}"

# --- model output, data, labels (sliding windows of 1000 answers, every 5 minutes) ----
[[alerts]]
name = "feature-drift"
signal = "feature_shift"      # PSI of each feature's last 1000 values vs the training reference
comparison = ">"
threshold = 0.1               # PSI 0.1 = a moderate shift (noise at 1000 rows: ~0.01)
interval = "5m"
for = "10m"
severity = "ticket"
summary = "feature {feature} drifted: PSI {value:.2f} against the reference since {start:%H:%M} UTC"

[[alerts]]
name = "feature-nulls"
signal = "feature_null_share" # share of a feature's last 1000 values missing, minus the reference's share
comparison = ">"
threshold = 0.2               # 20 more requests in 100 arrive without the value (noise at 1000: ~0.03)
interval = "5m"
for = "10m"
severity = "ticket"
summary = "feature {feature}: {value:.0%} more of its values missing than in training, for {duration}"

[[alerts]]
name = "prediction-mix-shift"
signal = "class_mix_shift"    # TVD of the predicted-class mix vs the reference and vs the previous 1000
comparison = ">"
threshold = 0.15              # noise at 1000 answers: ~0.05
interval = "5m"
for = "10m"
severity = "ticket"
summary = "predicted classes moved {value:.0%} (TVD, against {against}) for {duration}"

[[alerts]]
name = "class-takeover"
signal = "class_takeover"     # largest recent class share / its reference share
comparison = ">"
threshold = 2.5               # one class at 2.5x its usual share: a silent model failure
interval = "5m"
for = "5m"
severity = "page"
summary = "class {class} takes {value:.1f}x its usual share of answers"

[[alerts]]
name = "version-prediction-mix"
signal = "version_class_mix"  # TVD of one version's last 500 answers' class mix vs the reference
comparison = ">"
threshold = 0.2               # noise at 500 answers: ~0.07; a version answering other classes
interval = "5m"
for = "10m"
severity = "ticket"
summary = "{model_version}'s predicted classes moved {value:.0%} (TVD) from training, for {duration}"

[[alerts]]
name = "unseen-classes"
signal = "unseen_class_share" # share of a version's last 500 answers naming a class training never had
comparison = ">"
threshold = 0.05              # 0 in a model trained on its classes: another class set is being served
interval = "5m"
for = "5m"
severity = "page"
summary = "{model_version}: {value:.0%} of answers name classes never seen in training, for {duration}"

[[alerts]]
name = "confidence-shift"
signal = "confidence_shift"   # KS distance of recent confidences vs the reference: down or up
comparison = ">"
threshold = 0.15              # noise at 1000 answers: ~0.03
interval = "5m"
for = "10m"
severity = "ticket"
summary = "confidence distribution moved (KS {value:.2f}, against {against}) for {duration}"

[[alerts]]
name = "high-correction-rate"
signal = "correction_rate"    # hourly windows
comparison = ">"
threshold = 0.01              # [business] correction_rate_max
for = "0s"
min_samples = 2000            # confident answers in the hour: fewer cannot tell 1% from chance
severity = "ticket"
summary = "users corrected {value:.1%} of confident predictions (max {threshold:.0%})"

[[alerts]]
name = "low-confident-rate"
signal = "confident_rate"     # hourly windows
comparison = "<"
threshold = 0.6
min_samples = 2000
severity = "ticket"
summary = "only {value:.0%} of predictions are confident (floor {threshold:.0%})"

[[alerts]]
name = "labels-late"
signal = "label_arrival"      # answers corrected within 15 min (last 40 or 120 min) vs trailing 6 h; clear only
comparison = "<"
threshold = 0.3
interval = "5m"
for = "10m"
severity = "ticket"
summary = "corrections arrive late: {value:.0%} of the usual share within 15 minutes"

# --- GPU ----------------------------------------------------------------------------
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

[[alerts]]
name = "gpu-memory-growth"
signal = "gpu_memory_growth"  # 30-minute slope of memory used, share of total per hour
comparison = ">"
threshold = 0.04              # +4% of the card per hour, sustained: a leak (load swings move it < 1%/h)
window = "1m"
interval = "1m"
for = "10m"
severity = "ticket"
summary = "GPU memory growing {value:.0%} of total per hour for {duration}"

[[alerts]]
name = "gpu-saturated"
signal = "gpu_utilization_pct"
comparison = ">"
threshold = 97                # pinned: requests queue behind the GPU
window = "1m"
interval = "1m"
for = "3m"
severity = "page"
summary = "GPU utilization {value:.0f}% for {duration}"

[[alerts]]
name = "gpu-hot"
signal = "gpu_temperature_c"
comparison = ">"
threshold = 85                # data-centre GPUs start throttling in the high 80s
window = "2m"
interval = "1m"
for = "1m"
severity = "page"
summary = "GPU at {value:.0f} °C for {duration}"

[[alerts]]
name = "gpu-throttled"
signal = "gpu_sm_clock_ratio"   # SM clock / its running maximum, busy samples only
comparison = "<"
threshold = 0.85              # 15% below full speed while busy: thermal or power throttling
window = "2m"
interval = "1m"
for = "1m"
severity = "page"
summary = "GPU SM clock at {value:.0%} of its maximum while busy, for {duration}"

[[alerts]]
name = "gpu-power-capped"
signal = "gpu_power_share"
comparison = ">"
threshold = 0.97              # drawing the power limit: the clocks are capped
window = "5m"
interval = "1m"
for = "5m"
severity = "ticket"
summary = "GPU power at {value:.0%} of its limit for {duration}"

[[alerts]]
name = "gpu-telemetry-absent"
signal = "gpu_utilization_pct"
absent = true                 # the GPU log stopped: nothing below can be trusted
window = "5m"
interval = "1m"
severity = "ticket"
summary = "no GPU samples for {window}"
"""


def default_rules() -> list[Rule]:
    """:data:`DEFAULT_RULES_TOML` parsed."""
    return parse_rules(tomllib.loads(DEFAULT_RULES_TOML)["alerts"], path="obskit.alerts.defaults")
