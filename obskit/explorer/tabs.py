"""The explorer's tabs: from the data layer's selection to frames, charts and drill-down tables.

Each ``tab_<name>(data, options)`` is a pure function returning a :class:`TabResult`; the
widget app only puts its charts and tables on screen. Charts are those of
:mod:`obskit.charts` (gaps for missing windows, 24-hour UTC axis) with a brushable x
interval named ``brush``.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> from obskit.explorer.data import ExplorerData
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> req = pl.DataFrame({"timestamp": [t0 + timedelta(minutes=m) for m in range(30)], "request_id": list("x" * 30),
...                     "model": "m", "model_version": "a", "latency_ms": [10.0] * 30, "status": ["ok"] * 30})
>>> res = build("gpu", ExplorerData(req), TabOptions())
>>> res.note
'No GPU source: add one to the config (kind = "nvidia_smi", "dcgm" or "dmon") or pass gpu=.'
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import polars as pl

from obskit import charts
from obskit.analyze.distributions import distributions
from obskit.analyze.errors import sustained
from obskit.analyze.gpu import device_names
from obskit.analyze.serving import DEFAULT_QUANTILES, quantile_column
from obskit.explorer.data import DRILL_COLUMNS, ExplorerData
from obskit.explorer.explain import explain_range
from obskit.explorer.tables import cell_text, table_html
from obskit.timeutil import parse_duration

__all__ = ["TABS", "TITLES", "TabOptions", "TabResult", "build", "empty_chart"]

#: Tab keys, in display order.
TABS: tuple[str, ...] = ("traffic", "errors", "gpu", "drift", "business", "timeline")
TITLES = {
    "traffic": "Traffic & latency",
    "errors": "Errors",
    "gpu": "GPU",
    "drift": "Drift",
    "business": "Business & corrections",
    "timeline": "One timeline",
}
WIDTH = 700
HEIGHT = 170


@dataclass(frozen=True)
class TabOptions:
    """What the tabs draw besides the data: thresholds, the drift feature, sizes."""

    slo_ms: float | None = None
    correction_rate_max: float | None = 0.01
    feature: str | None = None
    width: int = WIDTH
    height: int = HEIGHT


@dataclass
class TabResult:
    """One tab's frames, charts (by slot), drill-down tables (escaped HTML by slot) and note."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    charts: dict[str, alt.TopLevelMixin] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    note: str = ""
    picks: list[tuple[str, str]] = field(default_factory=list)


def empty_chart(title: str, width: int = WIDTH) -> alt.TopLevelMixin:
    """A placeholder saying there is nothing to draw (an empty log-scale chart can hang Vega)."""
    chart: alt.TopLevelMixin = (
        alt.Chart(alt.Data(values=[{"text": "No data in the selected range"}]), title=title)
        .mark_text(size=13, color="#777")
        .encode(text="text:N")
        .properties(width=width, height=40)
    )
    return chart


def _brush() -> Any:
    return alt.selection_interval(encodings=["x"], name="brush")


def _lines(frame: pl.DataFrame, columns: Sequence[str], brush: Any, **kw: Any) -> alt.TopLevelMixin:
    """A brushable :func:`obskit.charts.lines_chart`, or a placeholder without data."""
    cols = [c for c in columns if c in frame.columns]
    if frame.is_empty() or all(frame.get_column(c).null_count() == frame.height for c in cols):
        return empty_chart(str(kw.get("title", "")), int(kw.get("width", WIDTH)))
    out: alt.TopLevelMixin = charts.lines_chart(frame, columns, params=[brush], **kw)
    return out


def tab_traffic(data: ExplorerData, o: TabOptions) -> TabResult:
    stats = data.windowed("stats")
    key = data.selection
    versions = data.in_range(data.versions_frame)
    if key != data.all:
        versions = versions.filter(pl.col("model_version").is_in(sorted({v for _, v in key})))
    slow = data.in_selection(data.slow).top_k(data.top, by="latency_ms").drop("model")
    qcols = [quantile_column(q) for q in DEFAULT_QUANTILES if q >= 0.5 and q != 0.9]
    b = _brush()
    built = {
        "rps": _lines(stats, ["rps"], title="Requests per second", y_title="requests/s", width=o.width,
                      height=o.height, brush=b),
        "latency": _lines(stats, qcols, title=f"Latency percentiles ({data.latency_method})", y_title="ms", log=True,
                          thresholds={"SLO": o.slo_ms} if o.slo_ms else None, width=o.width, height=o.height,
                          brush=b),
        "versions": _lines(versions.select("window_start", "model_version", "requests"), ["requests"],
                           color_by="model_version", title="Requests per window by version", width=o.width,
                           height=120, brush=b),
    }
    explain = explain_range(data, "slow requests")
    return TabResult({"stats": stats, "versions": versions, "slowest": slow, "explain": explain}, built,
                     {"slowest": table_html(slow, title="Slowest requests in the range", max_rows=data.top),
                      "explain": table_html(explain, title="What explains the slow requests of this range")})


def tab_errors(data: ExplorerData, o: TabOptions) -> TabResult:
    errors = data.windowed("errors")
    episodes = sustained(errors, "error_rate", ">", 0.01, for_=data.every, every=data.every)
    failed = data.in_selection(data.failed)
    messages = data.failure_counts()
    frames = {"errors": errors, "episodes": episodes, "messages": messages, "failed": failed.drop("model"),
              "explain": explain_range(data, "failures")}
    built = {"error_rate": _lines(errors, ["error_rate"], title="Error rate", y_title="errors / requests",
                                  y_format="%", thresholds={"1% threshold": 0.01}, width=o.width, height=o.height,
                                  brush=_brush())}
    tables = {"episodes": table_html(episodes, title="Error rate above 1% for more than one window"),
              "messages": table_html(messages, title="Failures by code and message"),
              "explain": table_html(frames["explain"], title="What explains the failures of this range"),
              "failed": table_html(frames["failed"], title="Failed requests in the range", max_rows=data.top)}
    return TabResult(frames, built, tables, data.failed_note)


def tab_gpu(data: ExplorerData, o: TabOptions) -> TabResult:
    if data.gpu_stats is None or data.gpu_pressure is None or data.gpu is None:
        return TabResult(tables={"pressure": ""},
                         note='No GPU source: add one to the config (kind = "nvidia_smi", "dcgm" or "dmon") or '
                              "pass gpu=.")
    keys = [c for c in ("host", "gpu") if c in data.gpu_stats.columns]
    stats = data.in_range(data.gpu_stats)
    if keys:  # a named line per device ("node2 · gpu 0 · NVIDIA A10G"), not "0"
        named = stats.join(device_names(data.gpu, keys), on=keys, how="left")
    else:
        named = stats.with_columns(pl.lit("gpu").alias("device"))
    pressure = data.gpu_pressure.filter((pl.col("end") >= data.start) & (pl.col("start") < data.end))
    b = _brush()
    built = {
        "utilization": _lines(named, ["util_mean_pct"], color_by="device", title="GPU utilization (mean per window)",
                              y_title="%", width=o.width, height=o.height, brush=b),
        "memory": _lines(named, ["memory_share_max"], color_by="device",
                         title="GPU memory used (max share per window)", y_format="%", thresholds={"90%": 0.9},
                         width=o.width, height=o.height, brush=b),
    }
    return TabResult({"stats": stats, "pressure": pressure}, built,
                     {"pressure": table_html(pressure, title="Memory pressure episodes (>= 90% for 2 min or more)")})


def tab_drift(data: ExplorerData, o: TabOptions) -> TabResult:
    if data.reference is None or not data.drift_features:
        return TabResult(tables={"drift": ""},
                         note="No reference set (or no shared feature column): drift is not available.")
    rows = data.rows()
    if rows.is_empty():
        return TabResult(tables={"drift": ""}, note="No requests in the selected range.")
    drift = data.range_drift()
    feature = o.feature if o.feature in data.drift_features else data.drift_features[0]
    over = data.drift_over_time(data.selection)
    step = parse_duration(data.drift_every)
    if over.height:
        over = over.filter((pl.col("window_start") < data.end) & (pl.col("window_start") + step > data.start))
    hist = distributions(data.reference, rows, feature)
    one = over.filter(pl.col("column") == feature) if over.height else over
    thr = one.get_column("threshold").drop_nulls() if one.height else pl.Series([], dtype=pl.Float64)
    built: dict[str, alt.TopLevelMixin] = {
        "histogram": charts.distribution_chart(hist, title=f"{feature}: reference vs selected range", x_title=feature),
    }
    if one.height:
        # the score (1 = the test's threshold), not the statistic: a p-value test's statistic falls as drift grows
        built["over_time"] = _lines(
            one.select("window_start", "drift_score"), ["drift_score"],
            title=f"{feature}: drift per {data.drift_every} ({one.get_column('method')[0]})",
            y_title="drift score (× threshold, higher = more drift)",
            thresholds={"threshold": 1.0} if thr.len() else None, width=o.width, height=140,
            brush=_brush())
    shown = drift.select("column", "kind", "method", "statistic", "threshold", "drifted", "effect_size",
                         "obskit_drifted", "n_current")
    return TabResult({"drift": drift, "over_time": over, "histogram": hist}, built,
                     {"drift": table_html(shown, title="Drift of the selected range",
                                          max_rows=len(data.drift_features))}, data.sample_note)


def tab_business(data: ExplorerData, o: TabOptions) -> TabResult:
    if not data.has_confidence:
        return TabResult(tables={"low_confidence": "", "corrected": ""}, note="The requests have no confidence column.")
    metrics = data.windowed("business")
    low = data.in_selection(data.lowconf).sort("confidence", "timestamp").head(data.top).drop("model")
    corrected = data.corrected_rows()
    shown = corrected.select([c for c in DRILL_COLUMNS if c in corrected.columns])
    th = {"max correction rate": o.correction_rate_max} if o.correction_rate_max else None
    rates = [c for c in ("confident_rate", "correction_rate") if c in metrics.columns
             and metrics.get_column(c).null_count() < metrics.height]
    built = {"rates": _lines(metrics, rates or ["confident_rate"], title="Confident and corrected predictions",
                             y_format="%", thresholds=th, width=o.width, height=o.height, brush=_brush())}
    picks = []
    if "request_id" in corrected.columns:
        for r in corrected.head(500).iter_rows(named=True):
            label = f"{cell_text(r['timestamp'])}  {r['request_id']}  {r.get('prediction')} → {r['corrected_label']}"
            picks.append((label, r["request_id"]))
    note = "" if "corrected_label" in data.columns else \
        "No feedback source: the correction rate is unknown (add a feedback source to the config)."
    return TabResult({"metrics": metrics, "low_confidence": low, "corrected": shown}, built,
                     {"low_confidence": table_html(low, title="Least confident answers in the range",
                                                   max_rows=data.top),
                      "corrected": table_html(shown, title="Corrected examples in the range", max_rows=data.top)},
                     note, picks)


_PANELS = {"rps": "requests/s", "error_rate": "error rate", "p99_ms": "p99 ms", "gpu_util_pct": "GPU util %",
           "gpu_memory_share": "GPU memory", "host_cpu_pct": "host CPU %", "host_memory_share": "host memory",
           "confident_rate": "confident", "correction_rate": "corrected",
           "drift_score": "drift (× threshold)"}


def tab_timeline(data: ExplorerData, o: TabOptions) -> TabResult:
    """The one timeline of the selection, each panel's anomalous windows ringed in red.

    The anomalies are the report's (:func:`obskit.analyze.timeline.timeline_anomalies`, one
    false alarm in 10,000 windows, where the window's requests carry the value), scored over
    the selection's whole period so that narrowing the range never changes which windows
    are anomalous.
    """
    full = data.timeline_full()
    panels = {c: label for c, label in _PANELS.items()
              if c in full.columns and full.get_column(c).null_count() < full.height}
    tl = data.in_range(data.timeline_anomalies(list(panels)))
    b = _brush()
    rows: list[Any] = []
    found: list[str] = []
    for col, label in panels.items():
        if tl.get_column(col).null_count() == tl.height:
            continue
        chart: Any = _lines(tl, [col], y_title=label, width=o.width, height=70, brush=b)
        flag = f"{col}_anomaly"
        if tl.get_column(flag).any():
            chart = alt.layer(chart, charts.anomaly_rings(tl, col, flag, label, data=True))
            when = ", ".join(f"{t:%m-%d %H:%M}" for t in tl.filter(pl.col(flag))["window_start"])
            found.append(f"{label} at {when}")
        rows.append(chart)
    if not rows:
        return TabResult({"timeline": tl}, {"timeline": empty_chart("One timeline")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        stacked: alt.TopLevelMixin = alt.vconcat(*rows, title="One timeline").resolve_scale(x="shared")
    note = ("Anomalies (online detector, red rings): " + "; ".join(found) + ".") if found else ""
    return TabResult({"timeline": tl}, {"timeline": stacked}, note=note)


_BUILDERS = {"traffic": tab_traffic, "errors": tab_errors, "gpu": tab_gpu, "drift": tab_drift,
             "business": tab_business, "timeline": tab_timeline}


def build(tab: str, data: ExplorerData, options: TabOptions) -> TabResult:
    """The tab ``tab`` for the data's current selection."""
    return _BUILDERS[tab](data, options)
