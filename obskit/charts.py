"""Altair charts from *aggregated* result frames, and their offline display.

A chart never embeds raw rows: every function here takes a result frame (one row per
window), so the page size does not grow with the data.

:func:`show` displays a chart with two representations: the Vega-Lite mimetype (rendered
natively by JupyterLab) and an HTML placeholder holding the spec as escaped JSON. The
report template (``templates/obskit``) inlines the Vega JavaScript bundle once per page
and renders every placeholder, so reports work with no network.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import altair as alt
import polars as pl

__all__ = ["error_rate_chart", "latency_chart", "safe_json", "show", "spec_html", "traffic_chart"]

WIDTH = 760
HEIGHT = 200


def safe_json(obj: Any) -> str:
    """JSON that is safe inside an HTML ``<script>`` element (no ``<``, ``>`` or ``&``).

    >>> safe_json({"name": "</script><script>alert(1)</script>"})
    '{"name": "\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(obj, allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _to_dict(chart: alt.TopLevelMixin) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict()
    return spec


def spec_html(chart: alt.TopLevelMixin) -> str:
    """The HTML placeholder the report template renders offline."""
    cid = f"obskit-chart-{uuid.uuid4().hex[:12]}"
    return (
        f'<div class="obskit-chart" id="{cid}"></div>'
        f'<script type="application/json" class="obskit-chart-spec" data-target="{cid}">'
        f"{safe_json(_to_dict(chart))}</script>"
    )


def show(chart: alt.TopLevelMixin) -> None:
    """Display ``chart`` in a notebook (JupyterLab renders it; reports render it offline)."""
    from IPython.display import display

    spec = _to_dict(chart)
    major = str(alt.SCHEMA_VERSION).lstrip("v").split(".")[0]
    display({f"application/vnd.vegalite.v{major}+json": spec, "text/html": spec_html(chart)}, raw=True)


def _frame(df: pl.DataFrame, cols: list[str]) -> alt.Data:
    sub = df.select(cols).with_columns(pl.col("window_start").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return alt.Data(values=sub.to_dicts())


def traffic_chart(stats: pl.DataFrame, *, title: str = "Requests per second") -> alt.Chart:
    """Throughput per window (``rps``) from :func:`obskit.analyze.serving.window_stats`."""
    return (
        alt.Chart(_frame(stats, ["window_start", "rps", "requests"]), title=title)
        .mark_area(opacity=0.35, line=True)
        .encode(
            x=alt.X("window_start:T", title=None),
            y=alt.Y("rps:Q", title="requests/s"),
            tooltip=[alt.Tooltip("window_start:T", format="%H:%M"), "requests:Q", alt.Tooltip("rps:Q", format=".2f")],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )


def error_rate_chart(stats: pl.DataFrame, *, threshold: float | None = 0.01) -> alt.TopLevelMixin:
    """Error rate per window, with a dashed threshold line."""
    base = (
        alt.Chart(_frame(stats, ["window_start", "error_rate", "errors", "requests"]), title="Error rate")
        .mark_line(color="#c0392b")
        .encode(
            x=alt.X("window_start:T", title=None),
            y=alt.Y("error_rate:Q", title="errors / requests", axis=alt.Axis(format="%")),
            tooltip=[alt.Tooltip("window_start:T", format="%H:%M"), alt.Tooltip("error_rate:Q", format=".2%"),
                     "errors:Q", "requests:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    if threshold is None:
        return base
    rule = alt.Chart(alt.Data(values=[{"y": threshold}])).mark_rule(strokeDash=[4, 4], color="#555").encode(y="y:Q")
    layered: alt.TopLevelMixin = alt.layer(base, rule)
    return layered


def latency_chart(
    stats: pl.DataFrame, *, columns: tuple[str, ...] = ("p50_ms", "p95_ms", "p99_ms"), slo_ms: float | None = None
) -> alt.TopLevelMixin:
    """Latency percentiles per window (log scale), with the SLO as a dashed line."""
    cols = [c for c in columns if c in stats.columns]
    long = stats.select(["window_start", *cols]).unpivot(index="window_start", variable_name="percentile",
                                                         value_name="ms")
    data = alt.Data(values=long.with_columns(pl.col("window_start").dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_dicts())
    base = (
        alt.Chart(data, title="Latency percentiles (exact, from request logs)")
        .mark_line()
        .encode(
            x=alt.X("window_start:T", title=None),
            y=alt.Y("ms:Q", title="ms", scale=alt.Scale(type="log")),
            color=alt.Color("percentile:N", sort=list(cols)),
            tooltip=[alt.Tooltip("window_start:T", format="%H:%M"), "percentile:N", alt.Tooltip("ms:Q", format=".1f")],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    if slo_ms is None:
        return base
    rule = alt.Chart(alt.Data(values=[{"y": slo_ms}])).mark_rule(strokeDash=[4, 4], color="#c0392b").encode(y="y:Q")
    layered: alt.TopLevelMixin = alt.layer(base, rule)
    return layered
