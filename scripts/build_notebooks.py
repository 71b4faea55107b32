"""Write the report notebooks in notebooks/ (run: python scripts/build_notebooks.py).

The notebooks are committed; this script is how they are edited, so that every notebook
has the same parameters cell and stays thin (markdown + calls into obskit, no definitions).
"""

from __future__ import annotations

from pathlib import Path

import nbformat as nbf

OUT = Path(__file__).resolve().parents[1] / "notebooks"

PARAMS = '''# Parameters (papermill injects overrides after this cell; `obskit report -p name=value`).
# Empty strings mean "the default": the whole period in the data, the config's model,
# every version, the config's [report] window.
config: str = "../data/samples/obskit.toml"
start: str = ""
end: str = ""
model: str = ""
version: str = ""
window: str = ""
output_dir: str = ""
'''

SETUP = '''import polars as pl
from IPython.display import HTML, display

import obskit
from obskit import charts, views

session = obskit.Session.open(config, start=start, end=end, model=model, version=version)
window = window or session.config.report.window
requests = session.requests
reference = session.reference
gpu = session.gpu
cfg = session.config
if requests is not None and requests.height:
    # charts stay the same size whatever the period: at most ~400 windows per series
    from obskit.timeutil import auto_window
    window = auto_window(requests["timestamp"].max() - requests["timestamp"].min(), window)
if requests is not None and requests.height == 0:
    display(HTML(views.note("No request matches this period, model and version.", kind="warning")))
    requests = None
figures = views.key_figures(requests, slo_ms=cfg.slo.latency_ms,
                            slo_quantile=cfg.slo.latency_quantile) if requests is not None else {}
display(HTML(session.problems_html()))'''


def md(text: str) -> nbf.NotebookNode:
    return nbf.v4.new_markdown_cell(text.strip())


def code(text: str) -> nbf.NotebookNode:
    return nbf.v4.new_code_cell(text.strip())


def notebook(title: str, cells: list[nbf.NotebookNode], extra_params: str = "") -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    params = code(PARAMS + extra_params)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [cells[0], params, code(SETUP), *cells[1:], code("_ = session.write_summary(output_dir, figures)")]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # stable ids: rebuilding a notebook changes only what changed
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["title"] = title
    return nb


HEALTH = notebook("Model health report", [
    md("""
# Model health report

The whole picture of one period of a model in production: what alerted, then traffic, latency and SLOs,
errors, the GPU, drift against the training set, business signals, model versions, and all of it on one
timeline. Each section says what its chart means and what to do when it looks wrong.
"""),
    md("""
## Alerts

The project's alert rules (`[[alerts]]` in `obskit.toml`) backtested over the period with Prometheus' rule
semantics (pending for `for`, then firing). Start here: each row points to the section that explains it.
"""),
    code("""
alert_run = session.alerts()
display(HTML(views.alerts_html(alert_run)))
"""),
    md("""
## Summary

Headline numbers for the period. Percentiles are exact (from every request), not histogram estimates.
"""),
    code("""
display(HTML(views.kpi_html(figures)))
from obskit.analyze.serving import window_stats
stats = window_stats(requests, every=window) if requests is not None else None
"""),
    md("""
## Traffic

Requests per second in each window. A daily cycle is normal; a sudden drop to zero usually means an upstream
outage or a routing change, a spike means retries or a new client. Compare with the GPU section: a peak that
pushes utilization past 80% is the moment to add a replica.
"""),
    code("""
if stats is not None:
    charts.show(charts.traffic_chart(stats))
"""),
    md("""
## Latency and SLOs

Exact p50/p95/p99 per window on a log scale; the dashed line is the latency SLO. If only the p99 rises, look for
queueing or memory pressure on the GPU; if every percentile rises together, look for a slower model version or
bigger inputs. Below: the share of each window inside the SLOs and the error budget left at the end of the period.
"""),
    code("""
from obskit.analyze.slo import availability_slo, error_budget, latency_slo
if stats is not None:
    charts.show(charts.latency_chart(stats, slo_ms=cfg.slo.latency_ms))
    lat_slo = latency_slo(requests, cfg.slo.latency_ms, cfg.slo.latency_quantile, every=window)
    avail = availability_slo(requests, cfg.slo.availability, every=window)
    budgets = pl.concat([error_budget(lat_slo).tail(1).with_columns(pl.lit("latency").alias("slo")),
                         error_budget(avail).tail(1).with_columns(pl.lit("availability").alias("slo"))])
    display(HTML(views.table_html(
        budgets.select("slo", "total_to_date", "bad_to_date", "allowed_bad", "budget_remaining"),
        formats={"budget_remaining": "{:.1%}"}, caption="Error budget left at the end of the period")))
"""),
    md("""
## Errors

Share of failed requests per window; the dashed line is 1%. A burst above it for more than a minute is worth an
alert. The table lists the most frequent error messages: restarts (503), out-of-memory and timeouts each point to a
different fix — capacity, batch size or memory, and upstream dependencies.
"""),
    code("""
if stats is not None:
    charts.show(charts.error_rate_chart(stats, threshold=0.01))
    top_errors = (requests.filter(pl.col("status") == "error")
                  .group_by("error", "status_code").agg(pl.len().alias("requests"))
                  .sort("requests", descending=True))
    display(HTML(views.table_html(top_errors, caption="Error messages")))
"""),
    md("""
## GPU

Utilization and memory per GPU per window. Sustained memory above 90% precedes out-of-memory errors and latency
spikes from allocator thrashing; utilization above 80% at the daily peak means the service needs another replica.
"""),
    code("""
from obskit.analyze.capacity import replicas_needed
from obskit.analyze.gpu import energy_per_1k_inferences, gpu_stats, memory_pressure
if gpu is not None and gpu.height:
    g = gpu_stats(gpu, every=window)
    charts.show(charts.lines_chart(g, ["util_mean_pct", "util_max_pct"], title="GPU utilization", y_title="%",
                                   thresholds={"80% target": 80.0}))
    charts.show(charts.lines_chart(g, ["memory_share_mean", "memory_share_max"], title="GPU memory used",
                                   y_title="share",
                                   y_format="%", thresholds={"pressure": 0.9}))
    display(HTML(views.table_html(memory_pressure(gpu), caption="Memory-pressure episodes (>= 90% for >= 2 min)")))
    if requests is not None:
        plan = replicas_needed(requests, gpu)
        display(HTML(views.note(plan.explanation)))
        energy = energy_per_1k_inferences(gpu, requests, every=None)
        display(HTML(views.table_html(energy, caption="Energy per 1,000 inferences")))
else:
    display(HTML(views.note("No GPU trace configured or loaded for this period.", kind="warning")))
"""),
    md("""
## Drift against the training set

Each feature's production distribution against the training reference. Two verdicts: **Evidently-compatible**
(the same tests and thresholds Evidently 0.7 picks) and **obskit** (p-values corrected for testing many columns
with Benjamini-Hochberg, and an effect size large enough to matter). With many rows, p-value tests flag tiny,
harmless shifts; the obskit verdict keeps only shifts that are both real and material. The heatmap shows when a
shift started; the bars compare the most drifted feature's distributions.
"""),
    code("""
from obskit.analyze.distributions import distributions
from obskit.analyze.drift import column_drift
features = [c for c in cfg.features.all if requests is not None and reference is not None
            and c in requests.columns and c in reference.columns]
if features:
    ok = requests.filter(pl.col("status") == "ok")
    drift = column_drift(reference, ok, columns=features)
    display(HTML(views.table_html(
        drift.select("column", "method", "statistic", "threshold", "drifted", "obskit_drifted",
                     "effect_name", "effect_size", "effect_ci_low", "effect_ci_high"),
        caption="Feature drift, whole period")))
    over_time = session.signal_frames()["drift_over_time"]  # the same hourly KL the alert rules read
    charts.show(charts.heatmap_chart(over_time, title="KL divergence per feature and hour (outlined: obskit drift)",
                                     color_title="KL"))
    worst = drift.sort("effect_size", descending=True, nulls_last=True)["column"][0]
    charts.show(charts.distribution_chart(distributions(reference, ok, worst),
                                          title=f"{worst}: training vs production", x_title=worst))
else:
    display(HTML(views.note("Drift needs the reference set and [features] in the config.", kind="warning")))
"""),
    md("""
## Business signals

Attempts, the share of confident predictions (confidence at or above the threshold) and the correction rate
(confident predictions users corrected). A falling confident rate with rising corrections is the model being
confidently wrong — usually a data shift (see Drift) rather than a serving problem. The dashed line is the
correction-rate alarm level.
"""),
    code("""
if requests is not None and "confidence" in requests.columns:
    biz = session.signal_frames()["business"]  # hourly, the same frame the alert rules read
    charts.show(charts.lines_chart(biz, ["confident_rate"], title="Confident predictions", y_format="%"))
    charts.show(charts.lines_chart(biz, ["correction_rate"], title="Correction rate", y_format="%",
                                   thresholds={"alarm": cfg.business.correction_rate_max}))
    totals = biz.select(pl.col("confident").sum(), pl.col("answered").sum(), pl.col("corrected_confident").sum())
    figures["confident_rate"] = totals["confident"][0] / max(totals["answered"][0], 1)
    figures["correction_rate"] = totals["corrected_confident"][0] / max(totals["confident"][0], 1)
"""),
    md("""
## Versions

Which model versions served when, and, when two versions shared traffic, how the newer one compares: latency
distributions, error rate, confidence and corrections, with a plain verdict.
"""),
    code("""
from obskit.analyze.versions import canary_comparison, version_traffic
if requests is not None:
    vt = version_traffic(requests, every=window)
    charts.show(charts.lines_chart(vt, ["share"], color_by="model_version", title="Traffic share per version",
                                   y_format="%"))
    versions = requests.group_by("model_version").agg(pl.len().alias("n")).sort("n", descending=True)
    if versions.height >= 2:
        cmp = canary_comparison(requests, versions["model_version"][0], versions["model_version"][1])
        display(HTML(views.note(cmp.verdict)))
"""),
    md("""
## One timeline

The main signals of every section on one time axis: when several move together, the earliest one is usually
the cause. Drag on any panel to zoom all of them.
"""),
    code("""
from obskit.analyze.timeline import one_timeline
if requests is not None:
    tl = one_timeline(requests, gpu=gpu, every=window, confidence_threshold=cfg.business.confidence_threshold)
    charts.show(charts.timeline_chart(tl, {"rps": "req/s", "error_rate": "error rate", "p99_ms": "p99 ms",
                                           "gpu_util_pct": "GPU %", "gpu_memory_share": "GPU mem",
                                           "confident_rate": "confident", "correction_rate": "corrections"}))
"""),
])

DRIFT = notebook("Drift report: training vs production", [
    md("""
# Drift report: training vs production

Does production still look like training? Per feature and per prediction, for the whole period and hour by
hour, with two verdicts side by side (Evidently-compatible, and obskit's FDR-controlled, effect-size-aware one),
multivariate drift from a domain classifier, and data-quality violations against a baseline inferred from the
training set. Use it when the health report's drift section or the business signals look wrong.
"""),
    md("""
## Feature drift, whole period

`method` is the test Evidently 0.7 would choose for the column; `drifted` is its verdict. `obskit_drifted` adds
Benjamini-Hochberg across columns and requires an effect size above a material minimum, with its confidence
interval. When the two disagree on a large sample, the shift is statistically real but small: check the effect
size before retraining.
"""),
    code("""
from obskit.analyze.drift import column_drift, dataset_drift, drift_over_time, prediction_drift_over_time
features = [c for c in cfg.features.all if requests is not None and reference is not None
            and c in requests.columns and c in reference.columns]
ok = requests.filter(pl.col("status") == "ok") if requests is not None else None
if features:
    drift = column_drift(reference, ok, columns=features)
    display(HTML(views.table_html(drift.drop("kind"), caption="Per-feature drift")))
    verdict = dataset_drift(drift)
    display(HTML(views.note(str(verdict))))
"""),
    md("""
## When did it start?

The same tests hour by hour against the whole training set (KL divergence; the seeds alarm above 0.3). A column
that lights up from one hour on points to an upstream change at that time: a client release, a camera, a
preprocessing step.
"""),
    code("""
if features:
    over_time = drift_over_time(reference, ok, every="1h", columns=features, method="kl_div", n_boot=50)
    charts.show(charts.heatmap_chart(over_time, title="KL divergence per feature and hour", color_title="KL"))
    kl = over_time.select("window_start", "column", "statistic").pivot(on="column", index="window_start",
                                                                       values="statistic")
    charts.show(charts.lines_chart(kl, [c for c in features if c in kl.columns], title="KL divergence per hour",
                                   thresholds={"alert": 0.3}))
"""),
    md("""
## Distributions

Training (grey) vs production (orange) for every feature, most drifted first.
"""),
    code("""
from obskit.analyze.distributions import distributions
if features:
    for col in drift.sort("effect_size", descending=True, nulls_last=True)["column"].to_list():
        charts.show(charts.distribution_chart(distributions(reference, ok, col), title=col, x_title=col))
"""),
    md("""
## Prediction drift

The predicted class mix and the confidence distribution over time. A class mix that moves with a feature shift
means the shift reaches the model's output; a confidence drop means the model knows it is unsure.
"""),
    code("""
if ok is not None and reference is not None and "prediction" in reference.columns:
    pred = prediction_drift_over_time(reference, ok, every="1h")
    charts.show(charts.heatmap_chart(pred, title="Prediction drift per hour", color_title="statistic"))
    charts.show(charts.distribution_chart(distributions(reference, ok, "prediction"),
                                          title="Predicted classes: training vs production"))
"""),
    md("""
## Multivariate drift

A classifier trained to tell training rows from production rows: an AUC near 0.5 means it cannot, i.e. no joint
drift; the importances say which features give production away.
"""),
    code("""
from obskit.analyze.multivariate import domain_classifier_drift
if features:
    mv = domain_classifier_drift(reference, ok, columns=features, max_rows=10_000)  # sampled, stated below
    display(HTML(views.note(mv.summary())))
    display(HTML(views.table_html(mv.importance, caption="What drives it")))
"""),
    md("""
## Data quality against the training baseline

Types, ranges, missing shares and category sets inferred from the training set, checked on production: the
checks a model monitor's constraint violations cover. Violations here often explain drift (a new category, a
unit change).
"""),
    code("""
from obskit.analyze.quality import check_quality, infer_baseline
if features:
    violations = check_quality(infer_baseline(reference, columns=features), ok.select(features))
    display(HTML(views.table_html(violations, caption="Violations") if violations.height
                 else views.note("No data-quality violation.")))
"""),
])

GPU_NB = notebook("GPU report", [
    md("""
# GPU report

How the GPU was used: utilization, memory, power and temperature over time; idle and saturated periods;
memory-pressure episodes; energy and cost per 1,000 inferences; and whether the service needs more replicas.
"""),
    md("""
## Utilization and memory

Mean and max per window. Idle periods are money spent on nothing (scale down or share the GPU); saturated periods
queue requests (latency goes up first, then errors).
"""),
    code("""
from obskit.analyze.gpu import gpu_stats, idle_periods, memory_pressure, saturated_periods
if gpu is not None and gpu.height:
    g = gpu_stats(gpu, every=window)
    charts.show(charts.lines_chart(g, ["util_mean_pct", "util_max_pct"], title="GPU utilization", y_title="%",
                                   thresholds={"80% target": 80.0}))
    charts.show(charts.lines_chart(g, ["memory_share_mean", "memory_share_max"], title="GPU memory used",
                                   y_format="%", thresholds={"pressure": 0.9}))
    charts.show(charts.lines_chart(g, ["power_mean_w"], title="Power", y_title="W"))
    charts.show(charts.lines_chart(g, ["temperature_mean_c", "temperature_max_c"], title="Temperature",
                                   y_title="°C"))
    display(HTML(views.table_html(idle_periods(gpu), caption="Idle periods (< 5% for >= 10 min)")))
    display(HTML(views.table_html(saturated_periods(gpu), caption="Saturated periods (> 90% for >= 5 min)")))
    display(HTML(views.table_html(memory_pressure(gpu), caption="Memory-pressure episodes")))
else:
    display(HTML(views.note("No GPU trace configured or loaded for this period.", kind="warning")))
"""),
    md("""
## Capacity, energy and cost

Replicas needed to keep the daily peak under 80% utilization (fit of utilization against throughput), energy per
1,000 inferences from the power draw, and cost per 1,000 inferences at the GPU-hour price given below.
"""),
    code("""
from obskit.analyze.capacity import replicas_needed
from obskit.analyze.cost import cost_per_1k
from obskit.analyze.gpu import energy_per_1k_inferences
if gpu is not None and gpu.height and requests is not None:
    display(HTML(views.note(replicas_needed(requests, gpu).explanation)))
    display(HTML(views.table_html(energy_per_1k_inferences(gpu, requests, every="6h"),
                                  caption="Energy per 1,000 inferences")))
    display(HTML(views.table_html(cost_per_1k(gpu, requests, price_per_gpu_hour=gpu_hour_price, every="6h"),
                                  caption=f"Cost per 1,000 inferences at ${gpu_hour_price}/GPU-hour")))
"""),
    md("""
## Serving-side view (Triton)

Where Triton's metrics were exported: time per request split into queueing and compute, from the cumulative
`*_duration_us` counters (counter resets handled as PromQL does).
"""),
    code("""
from obskit.analyze.latency import triton_latency_breakdown
metrics = session.metrics
if metrics is not None and metrics.height:
    bd = triton_latency_breakdown(metrics)
    if bd.height:
        cols = [c for c in ("queue_us", "compute_us") if c in bd.columns]
        charts.show(charts.lines_chart(bd.group_by("window_start").agg(pl.col(cols).mean()).sort("window_start"),
                                       cols, title="Triton: queue vs compute per request", y_title="µs"))
"""),
], extra_params='gpu_hour_price: float = 1.2\n')

CANARY = notebook("Canary report: two model versions", [
    md("""
# Canary report: two model versions

Is the new version at least as good as the old one on the traffic they shared? Latency distributions with
confidence intervals, error rates with a two-proportion test, confidence and corrections, and a plain verdict.
Leave `baseline` and `canary` empty to compare the two busiest versions.
"""),
    code("""
from obskit.analyze.versions import canary_comparison, rollout_episodes, version_latency_ratio, version_traffic
if requests is not None:
    counts = requests.group_by("model_version").agg(pl.len().alias("requests")).sort("requests", descending=True)
    base = baseline or counts["model_version"][0]
    new = canary or (counts["model_version"][1] if counts.height > 1 else "")
    display(HTML(views.table_html(rollout_episodes(requests, every=window), caption="Rollouts and rollbacks")))
"""),
    md("""
## Traffic and latency ratio

The share of traffic each version took, and each version's median latency relative to the rest of the traffic
of the same window (same load, same inputs): above 1 means slower.
"""),
    code("""
if requests is not None and new:
    charts.show(charts.lines_chart(version_traffic(requests, every=window), ["share"], color_by="model_version",
                                   title="Traffic share", y_format="%"))
    charts.show(charts.lines_chart(version_latency_ratio(requests, every=window), ["ratio"],
                                   color_by="model_version", title="p50 latency vs the other versions",
                                   thresholds={"no difference": 1.0}))
"""),
    md("""
## Verdict

Compared over the windows where both versions served.
"""),
    code("""
if requests is not None and new:
    cmp = canary_comparison(requests, base, new, confidence_threshold=cfg.business.confidence_threshold)
    display(HTML(views.note(cmp.verdict)))
    display(HTML(views.table_html(cmp.table)))
elif requests is not None:
    display(HTML(views.note("Only one version served in this period: nothing to compare.")))
"""),
], extra_params='baseline: str = ""\ncanary: str = ""\n')


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, nb in (("health_report", HEALTH), ("drift_report", DRIFT), ("gpu_report", GPU_NB),
                     ("canary_report", CANARY)):
        nbf.write(nb, OUT / f"{name}.ipynb")
        print("wrote", OUT / f"{name}.ipynb")
