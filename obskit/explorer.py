"""Interactive investigation in JupyterLab: one ipywidgets app over the obskit analyses.

:func:`explore` opens a :class:`Explorer`: a time-range slider, model and version filters,
and one tab per question (traffic & latency, errors, GPU, drift, business & corrections,
the one timeline), each with drill-down tables of the requests behind the numbers.

The explorer is wiring only: every number comes from the functions of
:mod:`obskit.analyze` (``window_stats``, ``error_rate``, ``sustained``,
``business_metrics``, ``version_traffic``, ``gpu_stats``, ``memory_pressure``,
``column_drift``, ``drift_over_time``, ``distributions``, ``one_timeline``) and the
flywheel action calls :mod:`obskit.flywheel`.

Responsive on large data
    The per-window analyses are called **once** at load, on all requests, both overall and
    per ``(model, model_version)`` group (``by=``). Their windows are independent, so
    the result for a time range that starts and ends on window boundaries is simply the
    rows of those windows: a re-filter reads a few hundred precomputed rows instead of
    re-scanning millions of requests. A selection of several (but not all) groups is
    computed once from the rows the first time it is asked for and cached. Drill-down
    tables read small precomputed subsets (the ``top`` slowest and least confident
    requests of each window and group, which contain the ``top`` of any range; all failed
    and all corrected requests). Only the visible tab is redrawn; the others are redrawn
    when opened. Drift of the selected range (``column_drift``) does need the rows and is
    computed when the drift tab is open, with a busy indicator.

Cross-filtering
    Time-series charts carry an altair ``selection_interval`` named ``brush`` on x. With
    ``anywidget`` installed they are rendered through :class:`altair.JupyterChart`
    (offline: the Vega bundle comes from ``vl-convert``), whose ``selections`` are
    observed from Python: brushing a range (and pausing) sets the time-range slider,
    which filters every tab. Without ``anywidget`` charts are shown in ``Output``
    widgets through JupyterLab's own Vega renderer; the slider still filters them.

Examples
--------
>>> ex = explore("data/samples/obskit.toml")  # doctest: +SKIP
>>> ex.set_range("2026-11-22T19:00:00Z", "2026-11-22T20:00:00Z")  # doctest: +SKIP
>>> ex.frames["traffic"]["stats"].select("window_start", "p99_ms")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import altair as alt
import ipywidgets as widgets
import numpy as np
import polars as pl
from altair.utils import schemapi

from obskit import charts
from obskit.analyze.business import business_metrics
from obskit.analyze.distributions import distributions
from obskit.analyze.drift import column_drift, drift_over_time
from obskit.analyze.errors import error_rate, sustained
from obskit.analyze.gpu import gpu_stats, memory_pressure
from obskit.analyze.serving import DEFAULT_QUANTILES, quantile_column, window_stats
from obskit.analyze.timeline import one_timeline
from obskit.analyze.versions import version_traffic
from obskit.errors import AnalysisError, ObskitError
from obskit.flywheel import flywheel_increment, write_flywheel
from obskit.timeutil import parse_duration, parse_time

__all__ = ["TABS", "Explorer", "explore", "has_jupyter_chart", "table_html"]

#: Tab keys, in display order.
TABS: tuple[str, ...] = ("traffic", "errors", "gpu", "drift", "business", "timeline")
_TITLES = {
    "traffic": "Traffic & latency",
    "errors": "Errors",
    "gpu": "GPU",
    "drift": "Drift",
    "business": "Business & corrections",
    "timeline": "One timeline",
}
_GROUP = ("model", "model_version")
_CANONICAL = {
    "timestamp", "request_id", "model", "model_version", "latency_ms", "status", "status_code", "error",
    "prediction", "confidence", "label", "corrected_label", "corrected_at",
}
_DRILL_COLUMNS = (
    "timestamp", "request_id", "model_version", "latency_ms", "status", "status_code", "error", "prediction",
    "confidence", "corrected_label",
)
_WIDTH = 700
_HEIGHT = 170

Key = frozenset[tuple[str, str]]
ChartBackend = Literal["auto", "jupyterchart", "output"]
Progress = Callable[[int, int, str], None]


def has_jupyter_chart() -> bool:
    """Whether :class:`altair.JupyterChart` can be used (the ``anywidget`` package is installed).

    >>> isinstance(has_jupyter_chart(), bool)
    True
    """
    return importlib.util.find_spec("anywidget") is not None


# --------------------------------------------------------------------------- HTML tables


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "NaN"
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def table_html(frame: pl.DataFrame, *, title: str = "", max_rows: int = 20, total: int | None = None,
               empty: str = "Nothing in the selected range.") -> str:
    """A small HTML table of ``frame``; every header, cell and title is HTML-escaped.

    Parameters
    ----------
    frame
        The rows to show (only the first ``max_rows``).
    title
        Caption above the table.
    max_rows
        Most rows shown.
    total
        Rows behind the table (default ``frame.height``), shown in the caption when larger.
    empty
        Text shown instead of an empty table.

    Returns
    -------
    str
        An HTML fragment.

    Examples
    --------
    >>> import polars as pl
    >>> "&lt;script&gt;" in table_html(pl.DataFrame({"error": ["<script>x</script>"]}))
    True
    """
    n = frame.height if total is None else total
    cap = html.escape(title)
    if n > min(max_rows, frame.height):
        cap += html.escape(f" (first {min(max_rows, frame.height):,} of {n:,})")
    head = f"<div class='obskit-drill-title' style='font-weight:600;margin:6px 0 2px'>{cap}</div>" if cap else ""
    if frame.is_empty():
        return f'<div class="obskit-drill">{head}<p style="color:#666">{html.escape(empty)}</p></div>'
    style = "border-collapse:collapse;font-size:12px;font-family:monospace"
    th = "".join(f"<th style='text-align:left;border-bottom:1px solid #999;padding:2px 8px'>{html.escape(c)}</th>"
                 for c in frame.columns)
    body = []
    for row in frame.head(max_rows).iter_rows():
        tds = "".join(f"<td style='padding:1px 8px;border-bottom:1px solid #eee'>{html.escape(_cell(v))}</td>"
                      for v in row)
        body.append(f"<tr>{tds}</tr>")
    return (f'<div class="obskit-drill">{head}<table class="obskit-table" style="{style}">'
            f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _note(text: str, kind: str = "info") -> str:
    colors = {"info": "#eef4fb", "warning": "#fff6e0", "error": "#fdecea"}
    return (f"<div style='background:{colors.get(kind, colors['info'])};padding:6px 10px;border-radius:4px;"
            f"margin:4px 0'>{html.escape(text)}</div>")


# --------------------------------------------------------------------------- chart views


class _ChartView:
    """One chart slot: an ``altair.JupyterChart`` (brush observable) or an ``Output`` widget."""

    def __init__(self, backend: str, on_brush: Callable[[Any], None]) -> None:
        self.backend = backend
        self._on_brush = on_brush
        self.chart: alt.TopLevelMixin | None = None
        self._jc: Any = None
        self._wired = False
        self.widget = widgets.VBox(layout=widgets.Layout(min_height="60px"))
        self.widget.add_class("obskit-explorer-chart")
        self._out: Any = None
        if backend == "output":
            self._out = widgets.Output()
            self.widget.children = (self._out,)

    def set(self, chart: Any) -> None:
        self.chart = chart
        if self.backend == "jupyterchart":
            params = getattr(chart, "params", None)
            brushed = isinstance(params, list) and any(getattr(p, "name", None) == "brush" for p in params)
            if self._jc is None:
                self._jc = alt.JupyterChart(chart, debounce_wait=400, max_wait=False)
                self.widget.children = (self._jc,)
            elif brushed and not self._wired:
                self._jc.chart = chart
            else:
                # Later charts only replace the spec, unvalidated: every chart of a view has the
                # same "brush" parameter, and altair's schema check walks every data row.
                self._jc.spec = chart.to_dict(validate=False)
                return
            sel = getattr(self._jc, "selections", None)
            if sel is not None and "brush" in sel.trait_names():
                sel.observe(self._brushed, names=["brush"])
                self._wired = True
            return
        spec = chart.to_dict(validate=False)
        # JupyterLab 4 renders Vega-Lite 5 natively; these v6 specs render there too.
        bundle = {"application/vnd.vegalite.v5+json": spec, "text/plain": "<obskit chart>"}
        self._out.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    def _brushed(self, change: Mapping[str, Any]) -> None:
        value = getattr(change.get("new"), "value", None)
        if value:
            self._on_brush(value)


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
    return parse_time(str(value))


def _empty_chart(title: str, width: int = _WIDTH) -> alt.TopLevelMixin:
    """A placeholder saying there is nothing to draw (an empty log-scale chart can hang Vega)."""
    chart: alt.TopLevelMixin = (
        alt.Chart(alt.Data(values=[{"text": "No data in the selected range"}]), title=title)
        .mark_text(size=13, color="#777")
        .encode(text="text:N")
        .properties(width=width, height=40)
    )
    return chart


def _lines(frame: pl.DataFrame, columns: Sequence[str], brush: Any, **kw: Any) -> alt.TopLevelMixin:
    """A brushable :func:`obskit.charts.lines_chart` of an aggregated frame, or a placeholder without data."""
    cols = [c for c in columns if c in frame.columns]
    if frame.is_empty() or all(frame.get_column(c).null_count() == frame.height for c in cols):
        return _empty_chart(str(kw.get("title", "")), int(kw.get("width", _WIDTH)))
    return _with_brush(charts.lines_chart(frame, columns, **kw), brush)


def _with_brush(chart: Any, brush: Any) -> alt.TopLevelMixin:
    out: alt.TopLevelMixin = chart.add_params(brush)
    return out


# --------------------------------------------------------------------------- the app


class Explorer:
    """The explorer app: filters, tabs, drill-downs, and a Python API to drive them.

    Build it with :func:`explore`. Drive it from Python with :meth:`set_range`,
    :meth:`set_versions`, :meth:`set_model`, :meth:`select_tab`, :meth:`set_feature` and
    :meth:`append_corrections`; read the current results from :attr:`frames` and
    :attr:`charts`; show it with :attr:`widget` (or by leaving it last in a cell).

    Parameters
    ----------
    requests
        A canonical ``requests`` frame.
    reference
        The training reference set (drift tab); None disables drift.
    gpu
        A canonical ``gpu`` frame (GPU tab and timeline); None disables them.
    every
        Window length of every per-window analysis and the slider step.
    features
        Feature columns for drift and the flywheel; default: the reference's columns
        that ``requests`` also has, less the canonical ones.
    slo_ms
        Latency objective drawn on the latency chart.
    confidence_threshold
        A prediction at or above it is confident (business metrics, timeline).
    correction_rate_max
        Drawn as a threshold on the business chart.
    drift_every
        Window length of drift over time.
    flywheel_path
        The training increment Parquet file the flywheel action appends to.
    top
        Rows of each drill-down table.
    chart_backend
        ``"jupyterchart"`` (needs ``anywidget``), ``"output"`` or ``"auto"``.
    title
        Heading of the app.
    problems_html
        Escaped HTML about failed sources, shown under the heading.
    on_progress
        Called as ``on_progress(step, steps, what)`` during the initial load.
    """

    def __init__(
        self,
        requests: pl.DataFrame,
        *,
        reference: pl.DataFrame | None = None,
        gpu: pl.DataFrame | None = None,
        every: str = "5m",
        features: Sequence[str] | None = None,
        slo_ms: float | None = None,
        confidence_threshold: float = 0.8,
        correction_rate_max: float | None = 0.01,
        drift_every: str = "1h",
        flywheel_path: str | Path = "flywheel/increment.parquet",
        top: int = 20,
        chart_backend: ChartBackend = "auto",
        title: str = "obskit explorer",
        problems_html: str = "",
        on_progress: Progress | None = None,
    ) -> None:
        missing = [c for c in ("timestamp", "latency_ms", "status", "model_version") if c not in requests.columns]
        if missing:
            raise AnalysisError(f"explore: requests frame lacks {', '.join(missing)}")
        if requests.is_empty():
            raise AnalysisError("explore: the requests frame is empty")
        if chart_backend == "auto":
            chart_backend = "jupyterchart" if has_jupyter_chart() else "output"
        if chart_backend == "jupyterchart":
            alt.JupyterChart.enable_offline()
        self.backend: str = chart_backend
        self.every = every
        self.drift_every = drift_every
        self.slo_ms = slo_ms
        self.confidence_threshold = confidence_threshold
        self.correction_rate_max = correction_rate_max
        self.flywheel_path = Path(flywheel_path)
        self.top = top
        self.load_seconds = 0.0
        self.last_refresh_s = 0.0
        self._progress = on_progress
        self._steps = 9
        self._step = 0
        t0 = time.perf_counter()

        self._tick("sorting requests")
        req = requests if "model" in requests.columns else requests.with_columns(pl.lit("").alias("model"))
        req = req.with_columns(pl.col("model", "model_version").cast(pl.String))
        self._req = req if req.get_column("timestamp").is_sorted() else req.sort("timestamp", maintain_order=True)
        self._ts = self._req.get_column("timestamp").dt.epoch("us").to_numpy()
        self._reference = reference
        self._gpu = gpu
        ref_cols = [] if reference is None else list(reference.columns)
        if features is None:
            features = [c for c in ref_cols if c in self._req.columns and c not in _CANONICAL]
        self.features: list[str] = [f for f in features if f in self._req.columns]
        self._drift_features = [f for f in self.features if f in ref_cols]
        pairs = self._req.select(*_GROUP).unique().sort(list(_GROUP)).rows()
        self._pairs: list[tuple[str, str]] = [(str(m), str(v)) for m, v in pairs]
        self._all: Key = frozenset(self._pairs)

        # Per-window analyses, once, overall and per (model, version).
        self._cache: dict[str, dict[Key, pl.DataFrame]] = {}
        self._fns: dict[str, Callable[[pl.DataFrame | pl.LazyFrame, Sequence[str]], pl.DataFrame]] = {}
        self._tick("latency percentiles per window")
        self._precompute("stats", lambda lf, by: window_stats(lf, every=every, by=by))
        self._tick("errors per window")
        self._precompute("errors", lambda lf, by: error_rate(lf, every, by=by))
        self._tick("business metrics per window")
        self._has_confidence = "confidence" in self._req.columns
        if self._has_confidence:
            self._precompute("business", lambda lf, by: business_metrics(
                lf, every, confidence_threshold=confidence_threshold, by=by))
        self._tick("version traffic")
        self._versions_frame = version_traffic(self._req, every)
        self._tick("drill-down subsets")
        self._precompute_drilldowns()
        self._tick("GPU")
        self._gpu_stats = gpu_stats(gpu, every) if gpu is not None else None
        self._gpu_pressure = memory_pressure(gpu) if gpu is not None else None
        self._cache["timeline"] = {}
        self._cache["drift_time"] = {}
        self._drift_cache: dict[tuple[Key, int, int], pl.DataFrame] = {}

        # Window boundaries of the slider.
        all_stats = self._cache["stats"][self._all]
        first = all_stats.get_column("window_start").min()
        last = all_stats.get_column("window_start").max()
        assert isinstance(first, datetime) and isinstance(last, datetime)
        self._step_td = parse_duration(every)
        n = int((last - first) / self._step_td) + 1
        self._bounds: list[datetime] = [first + i * self._step_td for i in range(n + 1)]
        self._lo, self._hi = 0, n

        self._tick("building widgets")
        self._frames: dict[str, dict[str, pl.DataFrame]] = {t: {} for t in TABS}
        self._charts: dict[str, dict[str, alt.TopLevelMixin]] = {t: {} for t in TABS}
        self._notes: dict[str, str] = {}
        self._stale: set[str] = set(TABS)
        self._updating = False
        self._build_widgets(title, problems_html)
        self._refresh()
        self._tick("ready")
        self.load_seconds = time.perf_counter() - t0

    # ------------------------------------------------------------------ loading helpers
    def _tick(self, what: str) -> None:
        self._step += 1
        if self._progress is not None:
            self._progress(min(self._step, self._steps), self._steps, what)

    def _precompute(self, name: str, fn: Callable[[pl.DataFrame | pl.LazyFrame, Sequence[str]], pl.DataFrame]) -> None:
        # One call per (model, version) on its rows (a filter is a cheap scan; polars'
        # grouped exact quantiles over string keys cost more), and one over everything.
        self._fns[name] = fn
        cache: dict[Key, pl.DataFrame] = {}
        for pair in self._pairs:
            key = frozenset({pair})
            cache[key] = fn(self._req.lazy().filter(self._key_expr(key)), ())
        cache[self._all] = fn(self._req, ())
        self._cache[name] = cache

    def _precompute_drilldowns(self) -> None:
        step_us = int(parse_duration(self.every).total_seconds() * 1_000_000)
        win = (pl.col("timestamp").dt.epoch("us") // step_us).alias("_win")
        cols = [c for c in _DRILL_COLUMNS if c in self._req.columns] + ["model"]
        lf = self._req.lazy().select(*cols, win)
        # The `top` slowest of any range are among the `top` slowest of its windows and groups:
        # keep the rows at or above each window and group's `top`-th largest latency.
        self._slow = self._top_rows(lf, pl.col("latency_ms"), descending=True)
        err = pl.col("status").cast(pl.String) == "error"
        self._failed = self._req.filter(err).select(cols)
        if self._has_confidence:
            answered = (pl.col("status").cast(pl.String) == "ok") & pl.col("confidence").is_not_null()
            self._lowconf = self._top_rows(lf.filter(answered), pl.col("confidence"), descending=False)
        else:
            self._lowconf = self._req.clear().select(cols)
        if "corrected_label" in self._req.columns:
            self._corrected = self._req.filter(pl.col("corrected_label").is_not_null())
        else:
            self._corrected = self._req.clear()

    def _top_rows(self, lf: pl.LazyFrame, value: pl.Expr, *, descending: bool) -> pl.DataFrame:
        """Rows whose ``value`` is among the ``top`` largest (smallest) of their window and group."""
        cut = value.top_k(self.top).min() if descending else value.bottom_k(self.top).max()
        keep = value >= pl.col("_cut") if descending else value <= pl.col("_cut")
        parts = []
        for pair in self._pairs:
            sub = lf.filter(self._key_expr(frozenset({pair})))
            bounds = sub.group_by("_win").agg(cut.alias("_cut"))
            parts.append(sub.join(bounds, on="_win", how="inner").filter(keep).drop("_win", "_cut"))
        return pl.concat(pl.collect_all(parts))

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self, title: str, problems_html: str) -> None:
        first = self._bounds[0]
        labels = [f"{b:%H:%M}" if b.date() == first.date() else f"+{(b.date() - first.date()).days}d {b:%H:%M}"
                  for b in self._bounds]
        if self._bounds[-1] - first <= timedelta(days=1) and labels[-1] == "+1d 00:00":
            labels[-1] = "24:00"  # one calendar day: the end of the last window reads as 24:00
        elif self._bounds[-1] - first > timedelta(days=1):
            labels = [f"{b:%m-%d %H:%M}" for b in self._bounds]
        self.range_slider = widgets.SelectionRangeSlider(
            options=[(lab, i) for i, lab in enumerate(labels)], index=(0, len(labels) - 1),
            description="Time (UTC)", continuous_update=False, layout=widgets.Layout(width="520px"),
            style={"description_width": "80px"},
        )
        models = sorted({m for m, _ in self._pairs})
        self.model_select = widgets.Dropdown(options=["(all)", *models], value="(all)", description="Model",
                                             layout=widgets.Layout(width="240px"))
        self.version_select = widgets.SelectMultiple(options=self._versions_of(None), value=(),
                                                     description="Versions", rows=min(4, len(self._pairs) + 1),
                                                     layout=widgets.Layout(width="240px"))
        self.reset_button = widgets.Button(description="Reset filters", icon="undo")
        self.range_slider.add_class("obskit-explorer-range")
        self.model_select.add_class("obskit-explorer-model")
        self.version_select.add_class("obskit-explorer-versions")
        self.summary = widgets.HTML()
        self.summary.add_class("obskit-explorer-summary")
        self.busy = widgets.HTML("")
        self.busy.add_class("obskit-explorer-busy")

        on_brush = self._on_brush
        self._views: dict[str, dict[str, _ChartView]] = {
            "traffic": {k: _ChartView(self.backend, on_brush) for k in ("rps", "latency", "versions")},
            "errors": {"error_rate": _ChartView(self.backend, on_brush)},
            "gpu": {k: _ChartView(self.backend, on_brush) for k in ("utilization", "memory")},
            "drift": {k: _ChartView(self.backend, on_brush) for k in ("histogram", "over_time")},
            "business": {"rates": _ChartView(self.backend, on_brush)},
            "timeline": {"timeline": _ChartView(self.backend, on_brush)},
        }
        self._tables: dict[str, dict[str, widgets.HTML]] = {
            "traffic": {"slowest": widgets.HTML()},
            "errors": {k: widgets.HTML() for k in ("episodes", "messages", "failed")},
            "gpu": {"pressure": widgets.HTML()},
            "drift": {"drift": widgets.HTML()},
            "business": {k: widgets.HTML() for k in ("low_confidence", "corrected")},
            "timeline": {},
        }
        self._tab_notes = {t: widgets.HTML() for t in TABS}
        self.feature_select = widgets.Dropdown(options=self._drift_features or ["(none)"], description="Feature")
        self.corrected_pick = widgets.SelectMultiple(options=[], description="Pick", rows=6,
                                                     layout=widgets.Layout(width="640px"))
        self.flywheel_button = widgets.Button(description="Append to flywheel", icon="plus", button_style="primary",
                                              tooltip="Append the picked corrected examples (all in range if none)")
        self.flywheel_result = widgets.HTML()

        pages = []
        for tab in TABS:
            parts: list[Any] = [self._tab_notes[tab]]
            if tab == "drift":
                parts.append(self.feature_select)
            parts += [v.widget for v in self._views[tab].values()]
            parts += list(self._tables[tab].values())
            if tab == "business":
                parts += [self.corrected_pick, widgets.HBox([self.flywheel_button, self.flywheel_result])]
            pages.append(widgets.VBox(parts))
        self.tabs = widgets.Tab(children=pages)
        for i, tab in enumerate(TABS):
            self.tabs.set_title(i, _TITLES[tab])
        head = widgets.HTML(f"<h3 style='margin:4px 0'>{html.escape(title)}</h3>{problems_html}")
        controls = widgets.HBox([self.range_slider, self.model_select, self.version_select, self.reset_button])
        self.widget = widgets.VBox([head, controls, self.summary, self.busy, self.tabs])
        self.widget.add_class("obskit-explorer")

        self.range_slider.observe(self._on_slider, names="index")
        self.model_select.observe(self._on_model, names="value")
        self.version_select.observe(self._on_versions, names="value")
        self.reset_button.on_click(lambda _b: self.reset())
        self.tabs.observe(self._on_tab, names="selected_index")
        self.feature_select.observe(self._on_feature, names="value")
        self.flywheel_button.on_click(self._on_flywheel)

    def _versions_of(self, model: str | None) -> list[str]:
        return sorted({v for m, v in self._pairs if model is None or m == model})

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # ------------------------------------------------------------------ public API
    @property
    def start(self) -> datetime:
        """Start of the selected range (a window boundary, UTC)."""
        return self._bounds[self._lo]

    @property
    def end(self) -> datetime:
        """End of the selected range (exclusive; a window boundary, UTC)."""
        return self._bounds[self._hi]

    @property
    def windows(self) -> list[datetime]:
        """Every window boundary the slider offers (window starts, then the last end)."""
        return list(self._bounds)

    @property
    def versions(self) -> list[str]:
        """The selected versions (every version when none is picked)."""
        return list(self.version_select.value) or list(self.version_select.options)

    @property
    def selection(self) -> Key:
        """The selected ``(model, model_version)`` pairs."""
        model = None if self.model_select.value == "(all)" else self.model_select.value
        picked = set(self.version_select.value)
        return frozenset(p for p in self._pairs if (model is None or p[0] == model) and (not picked or p[1] in picked))

    def set_range(self, start: datetime | str | None = None, end: datetime | str | None = None) -> None:
        """Select windows from the one holding ``start`` to the one holding the instant before ``end``.

        ``None`` means the first (last) window. The range snaps outwards to window
        boundaries; every tab is filtered.
        """
        lo, hi = self._snap(start, end)
        if (lo, hi) == (self._lo, self._hi):
            return
        self._lo, self._hi = lo, hi
        self._updating = True
        try:
            self.range_slider.index = (lo, hi)
        finally:
            self._updating = False
        self._refresh()

    def set_versions(self, versions: Sequence[str] | None) -> None:
        """Filter to ``versions`` (None or empty: every version of the selected model)."""
        wanted = tuple(versions or ())
        unknown = [v for v in wanted if v not in self.version_select.options]
        if unknown:
            known = ", ".join(self.version_select.options)
            raise AnalysisError(f"unknown version(s) {', '.join(unknown)}; known: {known}")
        if wanted == tuple(self.version_select.value):
            return
        self._updating = True
        try:
            self.version_select.value = wanted
        finally:
            self._updating = False
        self._refresh()

    def set_model(self, model: str | None) -> None:
        """Filter to one model (None: every model); the version pick is cleared."""
        value = model or "(all)"
        if value not in self.model_select.options:
            raise AnalysisError(f"unknown model {model!r}")
        self._updating = True
        try:
            self.model_select.value = value
            self.version_select.options = self._versions_of(model)
            self.version_select.value = ()
        finally:
            self._updating = False
        self._refresh()

    def set_feature(self, feature: str) -> None:
        """Show ``feature`` in the drift tab's histogram and statistic-over-time charts."""
        if feature not in self._drift_features:
            raise AnalysisError(f"no drift feature {feature!r}; known: {', '.join(self._drift_features)}")
        self.feature_select.value = feature

    def select_tab(self, tab: str) -> None:
        """Show tab ``tab`` (one of :data:`TABS`)."""
        self.tabs.selected_index = TABS.index(tab)

    def reset(self) -> None:
        """Every window, every model and version."""
        self._updating = True
        try:
            self._lo, self._hi = 0, len(self._bounds) - 1
            self.range_slider.index = (self._lo, self._hi)
            self.model_select.value = "(all)"
            self.version_select.options = self._versions_of(None)
            self.version_select.value = ()
        finally:
            self._updating = False
        self._refresh()

    def brush(self, value: Mapping[str, Sequence[Any]]) -> None:
        """Apply a brushed x interval (``{"window_start": [t0, t1]}``, epoch ms or ISO) as the range."""
        self._on_brush(value)

    @property
    def frames(self) -> dict[str, dict[str, pl.DataFrame]]:
        """Current result frames per tab (every tab is brought up to date)."""
        for tab in TABS:
            self._ensure(tab)
        return {t: dict(f) for t, f in self._frames.items()}

    @property
    def charts(self) -> dict[str, dict[str, alt.TopLevelMixin]]:
        """Current altair charts per tab (every tab is brought up to date)."""
        for tab in TABS:
            self._ensure(tab)
        return {t: dict(c) for t, c in self._charts.items()}

    @property
    def notes(self) -> dict[str, str]:
        """Why a tab shows nothing (missing source, analysis error), per tab."""
        return dict(self._notes)

    def append_corrections(self, request_ids: Sequence[str] | None = None) -> Path:
        """Append corrected examples of the selected range to the flywheel increment Parquet file.

        Parameters
        ----------
        request_ids
            The corrected requests to add; None adds every corrected request of the
            current range and versions.

        Returns
        -------
        pathlib.Path
            The file written (atomically, merged with its previous rows).
        """
        rows = self._corrected_rows()
        if request_ids is not None:
            rows = rows.filter(pl.col("request_id").is_in(list(request_ids)))
        if rows.is_empty():
            raise AnalysisError("no corrected example selected")
        inc = flywheel_increment(rows, self.features, reference=self._reference)
        return write_flywheel(inc, self.flywheel_path, merge=True)

    # ------------------------------------------------------------------ callbacks
    def _snap(self, start: datetime | str | None, end: datetime | str | None) -> tuple[int, int]:
        first = self._bounds[0]
        last = len(self._bounds) - 1
        lo, hi = 0, last
        if start is not None:
            s = _to_datetime(start)
            lo = int((s - first) // self._step_td)
        if end is not None:
            e = _to_datetime(end)
            q, r = divmod(e - first, self._step_td)
            hi = int(q) + (1 if r > timedelta(0) else 0)
        lo = min(max(lo, 0), last - 1)
        hi = min(max(hi, lo + 1), last)
        return lo, hi

    def _on_slider(self, change: Mapping[str, Any]) -> None:
        if self._updating:
            return
        lo, hi = change["new"]
        if hi <= lo:
            hi = lo + 1 if lo + 1 < len(self._bounds) else lo
            lo = hi - 1
        self._lo, self._hi = int(lo), int(hi)
        self._refresh()

    def _on_model(self, change: Mapping[str, Any]) -> None:
        if self._updating:
            return
        self.set_model(None if change["new"] == "(all)" else change["new"])

    def _on_versions(self, change: Mapping[str, Any]) -> None:
        if not self._updating:
            self._refresh()

    def _on_tab(self, change: Mapping[str, Any]) -> None:
        idx = change["new"]
        if idx is not None:
            self._ensure(TABS[idx])

    def _on_feature(self, change: Mapping[str, Any]) -> None:
        self._stale.add("drift")
        if self._visible() == "drift":
            self._ensure("drift")

    def _on_brush(self, value: Mapping[str, Sequence[Any]]) -> None:
        interval = value.get("window_start") or next(iter(value.values()), None)
        if not interval or len(interval) != 2:
            return
        a, b = sorted((_to_datetime(interval[0]), _to_datetime(interval[1])))
        self.set_range(a, b)

    def _on_flywheel(self, _button: Any) -> None:
        ids = list(self.corrected_pick.value) or None
        try:
            path = self.append_corrections(ids)
        except (ObskitError, OSError) as exc:
            self.flywheel_result.value = _note(f"Not written: {exc}", "error")
            return
        n = len(ids) if ids else self._corrected_rows().height
        self.flywheel_result.value = _note(f"Appended {n:,} corrected example(s) to {path}")

    # ------------------------------------------------------------------ filtering
    def _visible(self) -> str:
        idx = self.tabs.selected_index
        return TABS[idx if idx is not None else 0]

    @contextlib.contextmanager
    def _busy(self, what: str) -> Iterator[None]:
        self.busy.value = f"<span style='color:#a65f00'>&#8987; {html.escape(what)}…</span>"
        try:
            yield
        finally:
            self.busy.value = ""

    def _refresh(self) -> None:
        t0 = time.perf_counter()
        self._stale = set(TABS)
        self._update_summary()
        self._ensure(self._visible())
        self.last_refresh_s = time.perf_counter() - t0

    def _key_expr(self, key: Key) -> pl.Expr:
        if not key:
            return pl.lit(False)
        return pl.any_horizontal([(pl.col("model") == m) & (pl.col("model_version") == v) for m, v in sorted(key)])

    def _in_range(self, frame: pl.DataFrame, column: str = "window_start") -> pl.DataFrame:
        return frame.filter((pl.col(column) >= self.start) & (pl.col(column) < self.end))

    def _in_selection(self, frame: pl.DataFrame) -> pl.DataFrame:
        key = self.selection
        out = self._in_range(frame, "timestamp")
        return out if key == self._all else out.filter(self._key_expr(key))

    def _windowed(self, name: str) -> pl.DataFrame:
        """A per-window analysis for the current selection, restricted to the range."""
        key = self.selection
        cache = self._cache[name]
        if key not in cache:
            with self._busy(f"computing {name} for the selected versions"):
                cache[key] = self._fns[name](self._req.lazy().filter(self._key_expr(key)), ())
        return self._in_range(cache[key])

    def _rows(self) -> pl.DataFrame:
        """The requests of the current range and selection (a zero-copy slice, then a filter)."""
        lo, hi = np.searchsorted(self._ts, [self._us(self.start), self._us(self.end)], side="left")
        part = self._req.slice(int(lo), int(hi - lo))
        key = self.selection
        return part if key == self._all else part.filter(self._key_expr(key))

    @staticmethod
    def _us(t: datetime) -> int:
        return int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))

    def _corrected_rows(self) -> pl.DataFrame:
        return self._in_selection(self._corrected)

    def _update_summary(self) -> None:
        stats = self._windowed("stats")
        n = int(stats.get_column("requests").sum()) if stats.height else 0
        errs = int(stats.get_column("errors").sum()) if stats.height else 0
        versions = ", ".join(sorted({v for _, v in self.selection})) or "none"
        span = f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"
        if n:
            worst = stats.get_column("p99_ms").max() if "p99_ms" in stats.columns else None
            worst_s = f" · worst window p99 <b>{float(worst):.1f} ms</b>" if isinstance(worst, float) else ""
            text = (f"<b data-requests='{n}'>{n:,}</b> requests · <b>{errs:,}</b> errors ({errs / n:.2%})"
                    f"{worst_s} · {html.escape(span)} · versions: {html.escape(versions)}")
        else:
            text = f"<b data-requests='0'>0</b> requests · {html.escape(span)} · versions: {html.escape(versions)}"
        self.summary.value = f"<div class='obskit-summary-line'>{text}</div>"

    # ------------------------------------------------------------------ tabs
    def _ensure(self, tab: str) -> None:
        if tab not in self._stale:
            return
        frames: dict[str, pl.DataFrame] = {}
        built: dict[str, alt.TopLevelMixin] = {}
        note = ""
        try:
            # Altair validates data rows as each chart object is made; the frames are ours and
            # well-formed, and the check would cost more than everything else in a redraw.
            with schemapi.debug_mode(False):
                frames, built, note = getattr(self, f"_tab_{tab}")()
        except ObskitError as exc:
            note = f"{_TITLES[tab]}: {exc}"
        self._frames[tab] = frames
        self._charts[tab] = built
        if note:
            self._notes[tab] = note
        else:
            self._notes.pop(tab, None)
        self._tab_notes[tab].value = _note(note, "warning") if note else ""
        with schemapi.debug_mode(False):
            for name, chart in built.items():
                self._views[tab][name].set(chart)
        self._stale.discard(tab)

    def _brush_param(self) -> Any:
        return alt.selection_interval(encodings=["x"], name="brush")

    def _tab_traffic(self) -> tuple[dict[str, pl.DataFrame], dict[str, alt.TopLevelMixin], str]:
        stats = self._windowed("stats")
        key = self.selection
        versions = self._in_range(self._versions_frame)
        if key != self._all:
            versions = versions.filter(pl.col("model_version").is_in(sorted({v for _, v in key})))
        slow = self._in_selection(self._slow).top_k(self.top, by="latency_ms").drop("model")
        frames = {"stats": stats, "versions": versions, "slowest": slow}
        qcols = [quantile_column(q) for q in DEFAULT_QUANTILES if q >= 0.5 and q != 0.9]
        b = self._brush_param()
        built = {
            "rps": _lines(stats, ["rps"], title="Requests per second", y_title="requests/s",
                          width=_WIDTH, height=_HEIGHT, brush=b),
            "latency": _lines(
                stats, qcols, title="Latency percentiles (exact)", y_title="ms", log=True,
                thresholds={"SLO": self.slo_ms} if self.slo_ms else None, width=_WIDTH, height=_HEIGHT, brush=b),
            "versions": _lines(
                versions.select("window_start", "model_version", "requests"), ["requests"],
                color_by="model_version", title="Requests per window by version", width=_WIDTH, height=120, brush=b),
        }
        self._tables["traffic"]["slowest"].value = table_html(slow, title="Slowest requests in the range",
                                                              max_rows=self.top)
        return frames, built, ""

    def _tab_errors(self) -> tuple[dict[str, pl.DataFrame], dict[str, alt.TopLevelMixin], str]:
        errors = self._windowed("errors")
        episodes = sustained(errors, "error_rate", ">", 0.01, for_=self.every, every=self.every)
        failed = self._in_selection(self._failed)
        group = [c for c in ("status_code", "error") if c in failed.columns]
        if group:
            messages = failed.group_by(group).agg(pl.len().cast(pl.Int64).alias("requests")).sort(
                "requests", *group, descending=[True] + [False] * len(group), nulls_last=True)
        else:
            messages = pl.DataFrame({"requests": [failed.height]})
        frames = {"errors": errors, "episodes": episodes, "messages": messages,
                  "failed": failed.drop("model")}
        built = {"error_rate": _lines(
            errors, ["error_rate"], title="Error rate", y_title="errors / requests", y_format="%",
            thresholds={"1% threshold": 0.01}, width=_WIDTH, height=_HEIGHT, brush=self._brush_param())}
        t = self._tables["errors"]
        t["episodes"].value = table_html(episodes, title="Error rate above 1% for more than one window")
        t["messages"].value = table_html(messages, title="Failures by code and message")
        t["failed"].value = table_html(frames["failed"], title="Failed requests in the range", max_rows=self.top)
        return frames, built, ""

    def _tab_gpu(self) -> tuple[dict[str, pl.DataFrame], dict[str, alt.TopLevelMixin], str]:
        if self._gpu_stats is None or self._gpu_pressure is None:
            self._tables["gpu"]["pressure"].value = ""
            return {}, {}, "No GPU source: pass gpu= or set [sources.gpu] nvidia_smi in the config."
        stats = self._in_range(self._gpu_stats)
        pressure = self._gpu_pressure.filter((pl.col("end") >= self.start) & (pl.col("start") < self.end))
        b = self._brush_param()
        built = {
            "utilization": _lines(stats, ["util_mean_pct"], color_by="gpu",
                                                          title="GPU utilization (mean per window)", y_title="%",
                                                          width=_WIDTH, height=_HEIGHT, brush=b),
            "memory": _lines(stats, ["memory_share_max"], color_by="gpu",
                                                     title="GPU memory used (max share per window)", y_format="%",
                                                     thresholds={"90%": 0.9}, width=_WIDTH, height=_HEIGHT, brush=b),
        }
        self._tables["gpu"]["pressure"].value = table_html(
            pressure, title="Memory pressure episodes (>= 90% for 2 min or more)")
        return {"stats": stats, "pressure": pressure}, built, ""

    def _drift_over_time(self, key: Key) -> pl.DataFrame:
        cache = self._cache["drift_time"]
        if key not in cache:
            assert self._reference is not None
            with self._busy("computing drift over time"):
                cur = self._req.lazy().filter(self._key_expr(key)).select("timestamp", *self._drift_features).collect()
                cache[key] = (drift_over_time(self._reference, cur, every=self.drift_every,
                                              columns=self._drift_features) if cur.height else
                              pl.DataFrame())
        return cache[key]

    def _tab_drift(self) -> tuple[dict[str, pl.DataFrame], dict[str, alt.TopLevelMixin], str]:
        if self._reference is None or not self._drift_features:
            self._tables["drift"]["drift"].value = ""
            return {}, {}, "No reference set (or no shared feature column): drift is not available."
        key = self.selection
        rows = self._rows()
        if rows.is_empty():
            self._tables["drift"]["drift"].value = ""
            return {}, {}, "No requests in the selected range."
        ck = (key, self._lo, self._hi)
        if ck not in self._drift_cache:
            with self._busy(f"drift of {rows.height:,} requests against the reference"):
                self._drift_cache[ck] = column_drift(self._reference, rows.select(self._drift_features),
                                                     columns=self._drift_features)
            if len(self._drift_cache) > 32:
                self._drift_cache.pop(next(iter(self._drift_cache)))
        drift = self._drift_cache[ck]
        feature = self.feature_select.value
        over = self._drift_over_time(key)
        step = parse_duration(self.drift_every)
        if over.height:
            over = over.filter((pl.col("window_start") < self.end) & (pl.col("window_start") + step > self.start))
        hist = distributions(self._reference, rows, feature)
        one = over.filter(pl.col("column") == feature) if over.height else over
        thr = one.get_column("threshold").drop_nulls() if one.height else pl.Series([], dtype=pl.Float64)
        built: dict[str, alt.TopLevelMixin] = {
            "histogram": charts.distribution_chart(hist, title=f"{feature}: reference vs selected range",
                                                   x_title=feature),
        }
        if one.height:
            built["over_time"] = _lines(
                one.select("window_start", "statistic"), ["statistic"],
                title=f"{feature}: drift statistic per {self.drift_every} ({one.get_column('method')[0]})",
                thresholds={"threshold": float(thr[0])} if thr.len() else None, width=_WIDTH, height=140,
                brush=self._brush_param())
        shown = drift.select("column", "kind", "method", "statistic", "threshold", "drifted", "effect_size",
                             "obskit_drifted", "n_current")
        self._tables["drift"]["drift"].value = table_html(shown, title="Drift of the selected range",
                                                          max_rows=len(self._drift_features))
        return {"drift": drift, "over_time": over, "histogram": hist}, built, ""

    def _tab_business(self) -> tuple[dict[str, pl.DataFrame], dict[str, alt.TopLevelMixin], str]:
        t = self._tables["business"]
        if not self._has_confidence:
            t["low_confidence"].value = t["corrected"].value = ""
            return {}, {}, "The requests have no confidence column."
        metrics = self._windowed("business")
        low = self._in_selection(self._lowconf).sort("confidence", "timestamp").head(self.top).drop("model")
        corrected = self._corrected_rows()
        shown = corrected.select([c for c in _DRILL_COLUMNS if c in corrected.columns])
        th = {"max correction rate": self.correction_rate_max} if self.correction_rate_max else None
        built = {"rates": _lines(
            metrics, ["confident_rate", "correction_rate"], title="Confident and corrected predictions",
            y_format="%", thresholds=th, width=_WIDTH, height=_HEIGHT, brush=self._brush_param())}
        t["low_confidence"].value = table_html(low, title="Least confident answers in the range", max_rows=self.top)
        t["corrected"].value = table_html(shown, title="Corrected examples in the range", max_rows=self.top)
        opts = []
        if "request_id" in corrected.columns:
            for r in corrected.head(500).iter_rows(named=True):
                label = f"{_cell(r['timestamp'])}  {r['request_id']}  {r.get('prediction')} → {r['corrected_label']}"
                opts.append((label, r["request_id"]))
        self.corrected_pick.options = opts
        return {"metrics": metrics, "low_confidence": low, "corrected": shown}, built, ""

    def _tab_timeline(self) -> tuple[dict[str, pl.DataFrame], dict[str, alt.TopLevelMixin], str]:
        key = self.selection
        cache = self._cache["timeline"]
        if key not in cache:
            drift = None
            if self._reference is not None and self._drift_features:
                d = self._drift_over_time(key)
                drift = d if d.height else None
            with self._busy("computing the timeline"):
                cache[key] = one_timeline(self._req.lazy().filter(self._key_expr(key)), self._gpu, drift, self.every,
                                          confidence_threshold=self.confidence_threshold)
        tl = self._in_range(cache[key])
        panels = {"rps": "requests/s", "error_rate": "error rate", "p99_ms": "p99 ms",
                  "gpu_util_pct": "GPU util %", "gpu_memory_share": "GPU memory", "confident_rate": "confident",
                  "correction_rate": "corrected", "drift_statistic": "drift"}
        b = self._brush_param()
        rows: list[Any] = []
        for col, label in panels.items():
            if col in tl.columns and tl.get_column(col).null_count() < tl.height:
                rows.append(_lines(tl, [col], y_title=label, width=_WIDTH, height=70, brush=b))
        if not rows:
            return {"timeline": tl}, {"timeline": _empty_chart("One timeline")}, ""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            stacked: alt.TopLevelMixin = alt.vconcat(*rows, title="One timeline").resolve_scale(x="shared")
        return {"timeline": tl}, {"timeline": stacked}, ""


# --------------------------------------------------------------------------- entry point


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def explore(
    config: str | Path | None = None,
    *,
    requests: pl.DataFrame | None = None,
    reference: pl.DataFrame | None = None,
    gpu: pl.DataFrame | None = None,
    every: str = "5m",
    **options: Any,
) -> Explorer:
    """Open the explorer on a project's data (``config``) or on frames.

    Parameters
    ----------
    config
        An ``obskit.toml`` (empty or None without frames: ``./obskit.toml``, see
        :func:`obskit.report.notebooks.default_config`); its sources give the frames not passed explicitly, and its
        ``[features]``, ``[slo]`` and ``[business]`` tables the defaults.
    requests, reference, gpu
        Canonical frames; each one given overrides the config's source.
    every
        Window length of the per-window analyses and of the slider.
    **options
        Passed to :class:`Explorer` (``features``, ``slo_ms``, ``confidence_threshold``,
        ``drift_every``, ``flywheel_path``, ``top``, ``chart_backend``, ...).

    Returns
    -------
    Explorer
        Its :attr:`Explorer.widget` is the app; a bare ``explore(...)`` at the end of a
        cell shows it. In a notebook, a progress bar is shown during the load.

    Raises
    ------
    ObskitError
        No requests (neither given nor loadable from the config).
    """
    problems = ""
    if config == "" or (config is None and requests is None):
        from obskit.report.notebooks import default_config

        config = default_config()
    if config is not None:
        from obskit.session import Session

        session = Session.open(config)
        cfg = session.config
        if requests is None:
            requests = session.requests
        if reference is None and cfg.reference is not None:
            reference = session.reference
        if gpu is None:
            gpu = session.gpu  # nvidia-smi log or DCGM scrape; a failure is kept in session.problems
        problems = session.problems_html()
        options.setdefault("features", list(cfg.features.all) or None)
        options.setdefault("slo_ms", cfg.slo.latency_ms)
        options.setdefault("confidence_threshold", cfg.business.confidence_threshold)
        options.setdefault("correction_rate_max", cfg.business.correction_rate_max)
        options.setdefault("flywheel_path", cfg.path.parent / "flywheel" / "increment.parquet")
        options.setdefault("title", f"{cfg.project.name} — explorer")
        if requests is None:
            reasons = "; ".join(f"{p.source}: {p.reason}" for p in session.problems) or "no requests source"
            raise ObskitError(f"explore: no requests ({reasons})", path=str(cfg.path))
    if requests is None:
        raise ObskitError("explore: pass a config or a requests frame")
    bar: Any = None
    if _in_kernel() and "on_progress" not in options:
        from IPython.display import display

        progress = widgets.IntProgress(value=0, min=0, max=9, description="Loading")
        label = widgets.Label("")
        bar = widgets.HBox([progress, label])
        display(bar)

        def tick(step: int, steps: int, what: str) -> None:
            progress.max = steps
            progress.value = step
            label.value = what

        options["on_progress"] = tick
    try:
        return Explorer(requests, reference=reference, gpu=gpu, every=every, problems_html=problems, **options)
    finally:
        if bar is not None:
            bar.close()
