"""Altair charts from *aggregated* result frames, and their offline display.

A chart never embeds raw rows: every function here takes a result frame (one row per
window, per column, or per bin), so the page size does not grow with the data.

:func:`show` displays a chart with two representations: the Vega-Lite mimetype (rendered
natively by JupyterLab) and an HTML placeholder holding the spec as escaped JSON. The
report template (``templates/obskit``) inlines the Vega JavaScript bundle once per page
and renders every placeholder, so reports work with no network.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import polars as pl
from altair.utils import schemapi

from obskit.errors import AnalysisError

__all__ = [
    "distribution_chart",
    "error_rate_chart",
    "fill_gaps",
    "heatmap_chart",
    "latency_chart",
    "lines_chart",
    "partial_windows",
    "regular_step",
    "safe_json",
    "show",
    "spec_html",
    "time_tooltip",
    "time_x",
    "timeline_chart",
    "traffic_chart",
    "with_segments",
]

WIDTH = 760
HEIGHT = 200
_TIME_FMT = "%Y-%m-%dT%H:%M:%SZ"


def safe_json(obj: Any) -> str:
    """JSON that is safe inside an HTML ``<script>`` element (no ``<``, ``>`` or ``&``).

    >>> safe_json({"name": "</script><script>alert(1)</script>"})
    '{"name":"\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(obj, allow_nan=False, default=str, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _to_dict(chart: alt.TopLevelMixin) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Automatically deduplicated selection parameter")
        spec: dict[str, Any] = chart.to_dict()
    return spec


def spec_html(chart: alt.TopLevelMixin) -> str:
    """The HTML placeholder the report template renders offline (the spec as escaped JSON)."""
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
    # JupyterLab 4 renders the Vega-Lite v5 mimetype natively (not v6); altair's specs render there.
    display({"application/vnd.vegalite.v5+json": spec, "text/html": spec_html(chart)}, raw=True)


def _values(df: pl.DataFrame) -> alt.Data:
    """Compact chart data from a small frame.

    Datetimes become epoch milliseconds (Vega-Lite reads them as times), floats keep 4
    significant digits, NaN/inf become null. Together with wide rows (see :func:`lines_chart`)
    this keeps a day's chart to a few KB.
    """
    out = df.with_columns(
        [pl.col(c).dt.epoch("ms") for c, t in df.schema.items() if isinstance(t, pl.Datetime)]
        + [pl.when(pl.col(c).is_finite()).then(pl.col(c).round_sig_figs(4)).otherwise(None).alias(c)
           for c, t in df.schema.items() if t.is_float()]
    )
    # Rows we built ourselves: altair's check on construction would walk every one of them
    # (most of a chart's build time).
    with schemapi.debug_mode(False):
        return alt.Data(values=out.to_dicts())


def _rules(thresholds: Mapping[str, float] | None) -> list[alt.Chart]:
    rules = []
    for label, value in (thresholds or {}).items():
        base = alt.Chart(alt.Data(values=[{"y": value, "label": label}]))
        # channel objects, not shorthand strings: altair resolves a string through a costly schema lookup
        rules.append(base.mark_rule(strokeDash=[4, 4], color="#c0392b").encode(
            y=alt.Y("y:Q"), tooltip=[alt.Tooltip("label:N"), alt.Tooltip("y:Q")]))
    return rules


def regular_step(times: pl.Series) -> timedelta | None:
    """The window length of a windowed time column: the most common gap between distinct times.

    >>> from datetime import datetime, UTC
    >>> t = pl.Series([datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in (0, 5, 10, 30)])
    >>> regular_step(t)
    datetime.timedelta(seconds=300)
    """
    uniq = times.drop_nulls().unique().sort()
    if uniq.len() < 2:
        return None
    diffs = uniq.diff().drop_nulls()
    step = diffs.mode().min()
    return step if isinstance(step, timedelta) and step > timedelta(0) else None


def fill_gaps(frame: pl.DataFrame, x: str = "window_start", by: str | None = None,
              *, max_rows: int = 20_000) -> pl.DataFrame:
    """Insert empty (null) rows for the windows missing between the first and the last one.

    A window without data (an outage, a capture that stopped) then draws as a gap instead
    of a line holding the last value across it. The window length is the most common step.

    >>> from datetime import datetime, UTC
    >>> f = pl.DataFrame({"window_start": [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in (0, 5, 20)],
    ...                   "rps": [1.0, 2.0, 3.0]})
    >>> fill_gaps(f)["rps"].to_list()
    [1.0, 2.0, None, None, 3.0]
    """
    if x not in frame.columns or frame.height < 2 or not isinstance(frame.schema[x], pl.Datetime):
        return frame
    step = regular_step(frame[x])
    lo, hi = frame[x].min(), frame[x].max()
    if step is None or not isinstance(lo, datetime) or not isinstance(hi, datetime):
        return frame
    n = int((hi - lo) / step) + 1
    groups = frame[by].unique(maintain_order=True) if by else None
    if n * (groups.len() if groups is not None else 1) > max_rows or n <= frame[x].n_unique():
        return frame
    step_us = int(step / timedelta(microseconds=1))
    offsets = frame[x].dt.epoch("us") - int((lo - datetime(1970, 1, 1, tzinfo=lo.tzinfo or UTC))
                                           / timedelta(microseconds=1))
    if (offsets % step_us != 0).any():  # not a regular grid of windows: nothing to fill
        return frame
    grid = pl.DataFrame({x: pl.datetime_range(lo, hi, step, time_unit=frame.schema[x].time_unit,  # type: ignore[attr-defined]
                                              time_zone=frame.schema[x].time_zone, eager=True)})  # type: ignore[attr-defined]
    if groups is not None and by is not None:
        grid = grid.join(groups.to_frame(), how="cross")
        return grid.join(frame, on=[x, by], how="left", nulls_equal=True).sort(by, x, nulls_last=True)
    return grid.join(frame, on=x, how="left").sort(x)


def with_segments(frame: pl.DataFrame, columns: Sequence[str], by: str | None = None) -> pl.DataFrame:
    """Add ``_seg``: a run number that changes at every gap row (all of ``columns`` null).

    Charts draw one path per run, so a line breaks at a gap in any Vega-Lite version.

    >>> f = pl.DataFrame({"v": [1.0, None, None, 2.0, 3.0]})
    >>> with_segments(f, ["v"])["_seg"].to_list()
    [0, 1, 2, 2, 2]
    """
    gap = pl.all_horizontal([pl.col(c).is_null() for c in columns]) if columns else pl.lit(False)
    seg = gap.cast(pl.Int32).cum_sum()
    return frame.with_columns((seg.over(by) if by else seg).alias("_seg"))


def _span_of(frame: pl.DataFrame, x: str) -> timedelta:
    lo, hi = frame[x].min(), frame[x].max()
    return hi - lo if isinstance(lo, datetime) and isinstance(hi, datetime) else timedelta(0)


def _daily(frame: pl.DataFrame, x: str) -> bool:
    """Windows of a day or more (a trend): points joined by lines, not steps."""
    step = regular_step(frame[x]) if x in frame.columns and isinstance(frame.schema[x], pl.Datetime) else None
    return step is not None and step >= timedelta(days=1)


def time_x(frame: pl.DataFrame, x: str = "window_start") -> alt.X:
    """A UTC, 24-hour time axis; the date appears in labels when the span passes two days, alone for daily data."""
    fmt = "%H:%M" if _span_of(frame, x) <= timedelta(days=2) else "%m-%d %H:%M"
    if _span_of(frame, x) < timedelta(minutes=5):
        fmt = "%H:%M:%S"
    if _daily(frame, x):
        fmt = "%Y-%m-%d"
        return alt.X(f"{x}:T", title="UTC", scale=alt.Scale(type="utc"),
                     axis=alt.Axis(format=fmt, labelAngle=0, tickCount={"interval": "day", "step": 1}))
    return alt.X(f"{x}:T", title="UTC", scale=alt.Scale(type="utc"), axis=alt.Axis(format=fmt, labelAngle=0))


def time_tooltip(x: str = "window_start") -> alt.Tooltip:
    """A tooltip of a time column, in UTC."""
    return alt.Tooltip(f"{x}:T", format="%Y-%m-%d %H:%M:%S UTC", formatType="utc", title=x)


def partial_windows(frame: pl.DataFrame, every: str, start: datetime, end: datetime, *, x: str = "window_start",
                    rates: Sequence[str] = ("rps",), full_share: float = 0.98) -> pl.DataFrame:
    """Mark the windows the period ``[start, end]`` covers only in part, and give their true rate.

    A capture that stops at 10:14:37 leaves the 10:14 window with 37 seconds of requests:
    divided by the whole minute, its requests per second look like a drop in traffic. Here
    ``covered_s`` is the part of each window inside the period, ``partial`` is true when it
    is less than ``full_share`` of the window, and the ``rates`` of partial windows are
    rescaled to per second of the covered part (``requests / covered_s``). Charts draw
    partial windows apart (:func:`lines_chart` ``partial=``).

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    >>> f = pl.DataFrame({"window_start": [t, t + timedelta(minutes=1)], "rps": [10.0, 370 / 60]})
    >>> out = partial_windows(f, "1m", t, t + timedelta(minutes=1, seconds=37))
    >>> out.select("partial", "covered_s", pl.col("rps").round(6)).rows()
    [(False, 60.0, 10.0), (True, 37.0, 10.0)]
    """
    from obskit.timeutil import parse_duration

    if x not in frame.columns or not frame.height or not isinstance(frame.schema[x], pl.Datetime):
        return frame
    step = parse_duration(every)
    dtype = frame.schema[x]
    lo, hi = pl.lit(start).cast(dtype), pl.lit(end).cast(dtype)
    covered = ((pl.min_horizontal(pl.col(x) + step, hi) - pl.max_horizontal(pl.col(x), lo)).dt.total_microseconds()
               / 1e6).clip(lower_bound=0.0)
    out = frame.with_columns(covered.alias("covered_s"))
    out = out.with_columns((pl.col("covered_s") < step.total_seconds() * full_share).alias("partial"))
    scale = pl.lit(step.total_seconds()) / pl.col("covered_s")
    return out.with_columns(
        [pl.when(pl.col("partial") & (pl.col("covered_s") > 0)).then(pl.col(c) * scale).otherwise(pl.col(c)).alias(c)
         for c in rates if c in out.columns])


def lines_chart(
    frame: pl.DataFrame,
    columns: Sequence[str],
    *,
    x: str = "window_start",
    title: str = "",
    y_title: str = "",
    y_format: str | None = None,
    log: bool = False,
    color_by: str | None = None,
    thresholds: Mapping[str, float] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
    params: Sequence[Any] = (),
    partial: str | None = None,
) -> alt.TopLevelMixin:
    """One line per column (or per value of ``color_by``) over time, with dashed thresholds.

    ``params`` (e.g. a brush selection) are added to the lines. ``partial`` names a boolean
    column (see :func:`partial_windows`): its true windows are drawn as hollow grey points
    on top and the chart's subtitle says the period covers them only in part.

    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> f = pl.DataFrame({"window_start": [datetime(2026, 1, 1, tzinfo=UTC)], "p99_ms": [12.0]})
    >>> lines_chart(f, ["p99_ms"], thresholds={"SLO": 100.0}).to_dict()["layer"][1]["mark"]["type"]
    'rule'
    """
    missing = [c for c in (x, *columns, *([color_by] if color_by else [])) if c not in frame.columns]
    if missing:
        raise AnalysisError(f"chart needs columns {missing}; the frame has {frame.columns}")
    cols = list(columns)
    if frame.height == 0:
        # an empty (log-scale) chart can hang a Vega renderer: say so in text instead
        empty: alt.TopLevelMixin = alt.Chart(alt.Data(values=[{"text": "No data in this period"}]), title=title
                                             ).mark_text(size=14, color="#777").encode(text="text:N").properties(
            width=width, height=height)
        return empty
    axis = alt.Axis(format=y_format) if y_format else alt.Axis()
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    tip_fmt = y_format or ".4~g"
    frame = with_segments(fill_gaps(frame, x, color_by), cols, color_by)
    if color_by is None:
        # wide rows (one per window), folded to long in the browser: the time is stored once
        fold: list[Any] = list(cols)
        values = _values(frame.select(x, "_seg", *cols))
        base = alt.Chart(title=title).transform_fold(fold, as_=["series", "value"])
        series = "series"
    else:
        values = _values(frame.select(x, "_seg", color_by, pl.col(cols[0]).alias("value")))
        base = alt.Chart(title=title)
        series = color_by
    # few windows: mark each one, so a lone window between gaps still shows
    point: Any = alt.OverlayMarkDef(size=14) if frame[x].n_unique() <= 120 else False
    line = (
        base.mark_line(interpolate="linear" if log or _daily(frame, x) else "step-after", point=point)
        .encode(
            x=time_x(frame, x),
            y=alt.Y("value:Q", title=y_title, axis=axis, scale=scale),
            color=alt.Color(f"{series}:N", sort=list(cols) if color_by is None else "ascending", title=None),
            detail=alt.Detail("_seg:N"),  # a gap (a window without data) ends one path and starts another
            tooltip=[time_tooltip(x), alt.Tooltip(f"{series}:N"), alt.Tooltip("value:Q", format=tip_fmt)],
        )
        .properties(width=width, height=height)
    )
    if params:
        line = line.add_params(*params)
    rules = _rules(thresholds)
    marks = _partial_marks(frame, cols, x, color_by, partial, tip_fmt)
    if marks is not None:
        rules.append(marks)
        line = line.properties(title=alt.TitleParams(
            title, subtitle="Hollow grey point: a window the period covers only in part (its rate, not a drop)"))
    out: alt.TopLevelMixin = alt.layer(line, *rules) if rules else line
    # The rows go in last: altair copies a chart (and its data) at every method call.
    (out.layer[0] if rules else out).data = values  # type: ignore[attr-defined]
    return out


def _partial_marks(frame: pl.DataFrame, cols: list[str], x: str, color_by: str | None, partial: str | None,
                   tip_fmt: str) -> alt.Chart | None:
    """Hollow grey points on the windows ``partial`` marks (None when there is none)."""
    if partial is None or partial not in frame.columns:
        return None
    rows = frame.filter(pl.col(partial).fill_null(False))
    if not rows.height:
        return None
    index = [x, *([color_by] if color_by else [])]
    keep = [*index, *(["covered_s"] if "covered_s" in rows.columns else [])]
    # the same row shape as the lines' data (wide, folded in the browser), so readers of the spec see one shape
    long = rows.select(*keep, *cols) if color_by is None else rows.select(*keep, pl.col(cols[0]).alias("value"))
    long = long.with_columns(pl.lit(True).alias(partial))
    tips = [time_tooltip(x), alt.Tooltip("value:Q", format=tip_fmt, title="rate over the covered part")]
    if "covered_s" in long.columns:
        tips.append(alt.Tooltip("covered_s:Q", format=".0f", title="seconds covered"))
    base = alt.Chart(_values(long))
    if color_by is None:
        base = base.transform_fold(list(cols), as_=["series", "value"])
    chart: alt.Chart = base.mark_point(
        shape="circle", size=70, filled=True, fill="white", stroke="#888", strokeWidth=2, strokeDash=[2, 2]
    ).encode(x=time_x(frame, x), y=alt.Y("value:Q"), tooltip=tips)
    return chart


def traffic_chart(stats: pl.DataFrame, *, title: str = "Requests per second") -> alt.TopLevelMixin:
    """Throughput per window (``rps``) from :func:`obskit.analyze.serving.window_stats`.

    With a ``partial`` column (:func:`partial_windows`), partial windows are drawn apart.
    """
    return lines_chart(stats, ["rps"], title=title, y_title="requests/s",
                       partial="partial" if "partial" in stats.columns else None)


def error_rate_chart(stats: pl.DataFrame, *, threshold: float | None = 0.01) -> alt.TopLevelMixin:
    """Error rate per window, with a dashed threshold line."""
    th = {f"{threshold:.0%} threshold": threshold} if threshold is not None else None
    return lines_chart(stats, ["error_rate"], title="Error rate", y_title="errors / requests", y_format="%",
                       thresholds=th)


def latency_chart(
    stats: pl.DataFrame, *, columns: Sequence[str] = ("p50_ms", "p95_ms", "p99_ms"), slo_ms: float | None = None,
    title: str = "Latency percentiles (exact, from request logs)",
) -> alt.TopLevelMixin:
    """Latency percentiles per window (log scale), with the SLO as a dashed line."""
    th = {"SLO": slo_ms} if slo_ms is not None else None
    return lines_chart(stats, columns, title=title, y_title="ms", log=True, thresholds=th)


def anomaly_rings(frame: pl.DataFrame, column: str, flag: str, label: str, *, x: str = "window_start",
                  data: bool = False) -> alt.Chart:
    """Red rings on the rows of ``column`` where the boolean ``flag`` is true (anomalies).

    Without ``data`` the rings read their parent chart's data (a layer of a shared table).

    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> f = pl.DataFrame({"window_start": [datetime(2026, 1, 1, tzinfo=UTC)], "rps": [3.0], "rps_anomaly": [True]})
    >>> anomaly_rings(f, "rps", "rps_anomaly", "requests/s", data=True).to_dict()["mark"]["shape"]
    'circle'
    """
    base = alt.Chart(_values(frame.filter(pl.col(flag)).select(x, column))) if data else alt.Chart()
    ring: alt.Chart = (
        base.mark_point(shape="circle", size=90, color="#d62728", strokeWidth=2, filled=False)
        .encode(x=time_x(frame, x), y=f"{column}:Q",
                tooltip=[time_tooltip(x), alt.Tooltip(f"{column}:Q", format=".4~g", title=f"{label} (anomaly)")])
    )
    return ring if data else ring.transform_filter(f"datum['{flag}'] === true")


def timeline_chart(frame: pl.DataFrame, panels: Mapping[str, str], *, x: str = "window_start",
                   title: str = "One timeline", height: int = 90,
                   markers: Mapping[str, str] | None = None) -> alt.TopLevelMixin:
    """Small multiples stacked on one shared time axis: ``{column: panel title}``.

    Brushing the x axis of any panel zooms all of them (a shared interval selection).
    ``markers`` maps a panel column to a boolean column of ``frame``; its true rows are
    drawn as red rings on that panel (anomalies, alerts).
    """
    brush = alt.selection_interval(encodings=["x"], bind="scales")
    charts = []
    missing = [c for c in (x, *panels) if c not in frame.columns]
    if missing:
        raise AnalysisError(f"timeline needs columns {missing}; the frame has {frame.columns}")
    marks = {c: m for c, m in (markers or {}).items()
             if c in panels and m in frame.columns and bool(frame[m].fill_null(False).any())}
    frame = with_segments(fill_gaps(frame.select(x, *panels, *dict.fromkeys(marks.values())), x), list(panels))
    point: Any = alt.OverlayMarkDef(size=10) if frame.height <= 120 else False
    for col, label in panels.items():
        line = (
            alt.Chart()
            .mark_line(interpolate="step-after", point=point)
            .encode(x=time_x(frame, x), y=alt.Y(f"{col}:Q", title=label, scale=alt.Scale(zero=False)),
                    detail="_seg:N", tooltip=[time_tooltip(x), alt.Tooltip(f"{col}:Q", format=".4~g")])
        )
        layer: Any = line
        if col in marks:
            layer = alt.layer(line, anomaly_rings(frame, col, marks[col], label, x=x))
        charts.append(layer.properties(width=WIDTH, height=height).add_params(brush))
    data = _values(frame)  # one shared table for all panels
    with warnings.catch_warnings():
        # one zoom shared by all panels is what we want; altair notes that it deduplicates it
        warnings.filterwarnings("ignore", message="Automatically deduplicated selection parameter")
        stacked: alt.TopLevelMixin = alt.vconcat(*charts, title=title, data=data).resolve_scale(x="shared")
        stacked.to_dict()
    return stacked


def heatmap_chart(frame: pl.DataFrame, *, x: str = "window_start", y: str = "column", color: str = "statistic",
                  flag: str | None = "obskit_drifted", title: str = "", color_title: str = "") -> alt.TopLevelMixin:
    """Windows × items coloured by a value; flagged cells get a dark outline."""
    keep = [c for c in (x, y, color, flag) if c and c in frame.columns]
    step = regular_step(frame[x]) if x in frame.columns and frame.height else None
    data = frame.select(keep)
    if step is not None:  # each cell spans its own window, never more
        data = data.with_columns((pl.col(x) + step).alias("_end"))
    x_enc = time_x(frame, x)
    base = alt.Chart(_values(data), title=title).encode(x=x_enc, y=alt.Y(f"{y}:N", title=None))
    if step is not None:
        base = base.encode(x2=alt.X2("_end:T"))
    rect = base.mark_rect().encode(color=alt.Color(f"{color}:Q", title=color_title or color,
                                                   scale=alt.Scale(scheme="orangered")),
                                   tooltip=[time_tooltip(x), f"{y}:N",
                                            alt.Tooltip(f"{color}:Q", format=".4~g"),
                                            *([f"{flag}:N"] if flag and flag in keep else [])])
    if flag and flag in keep:
        outline = base.mark_rect(fill=None, stroke="#222", strokeWidth=1.5).transform_filter(f"datum.{flag}")
        out: alt.TopLevelMixin = alt.layer(rect, outline).properties(width=WIDTH, height=22 * frame[y].n_unique())
        return out
    return rect.properties(width=WIDTH, height=22 * frame[y].n_unique())


def distribution_chart(frame: pl.DataFrame, *, title: str = "", x_title: str = "") -> alt.TopLevelMixin:
    """Reference vs current shares per bin or category (from :func:`obskit.analyze.distributions`).

    ``frame`` has ``bin`` (label), ``order``, ``reference`` and ``current`` share columns.
    """
    long = frame.unpivot(index=["bin", "order"], on=["reference", "current"], variable_name="set",
                         value_name="share")
    return (
        alt.Chart(_values(long), title=title)
        .mark_bar(opacity=0.55)
        .encode(
            x=alt.X("bin:N", sort=alt.EncodingSortField("order"), title=x_title,
                    axis=alt.Axis(labelAngle=-40, labelLimit=140, labelOverlap="greedy")),
            y=alt.Y("share:Q", stack=None, axis=alt.Axis(format="%"), title="share"),
            color=alt.Color("set:N", scale=alt.Scale(domain=["reference", "current"], range=["#7f8c8d", "#e67e22"]),
                            title=None),
            tooltip=["bin:N", "set:N", alt.Tooltip("share:Q", format=".2%")],
        )
        .properties(width=360, height=160)
    )
