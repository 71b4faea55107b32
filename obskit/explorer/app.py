"""The explorer's widget app: filters, tabs, drill-downs, and a Python API to drive them.

The numbers come from :mod:`obskit.explorer.data` (precomputed windows and the selection)
and the charts and tables from :mod:`obskit.explorer.tabs`; this module only puts them on
screen and wires the widgets (a time-range slider, model and version filters, brushing a
chart to set the range, the flywheel action).

Cross-filtering
    Time-series charts carry an altair ``selection_interval`` named ``brush`` on x. With
    ``anywidget`` installed they are rendered through :class:`altair.JupyterChart`
    (offline: the Vega bundle comes from ``vl-convert``), whose ``selections`` are
    observed from Python: brushing a range (and pausing) sets the time-range slider,
    which filters every tab. Without ``anywidget`` charts are shown in ``Output``
    widgets through JupyterLab's own Vega renderer; the slider still filters them.
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import altair as alt
import ipywidgets as widgets
import polars as pl
from altair.utils import schemapi

from obskit.errors import AnalysisError, ObskitError
from obskit.explorer.data import ExplorerData, Key, to_datetime
from obskit.explorer.tables import note_html
from obskit.explorer.tabs import TABS, TITLES, TabOptions, build
from obskit.explorer.views import ChartView as _ChartView
from obskit.flywheel import flywheel_increment, write_flywheel

__all__ = ["Explorer", "has_jupyter_chart"]

ChartBackend = Literal["auto", "jupyterchart", "output"]
Progress = Callable[[int, int, str], None]
_note = note_html


def has_jupyter_chart() -> bool:
    """Whether :class:`altair.JupyterChart` can be used (the ``anywidget`` package is installed).

    >>> isinstance(has_jupyter_chart(), bool)
    True
    """
    return importlib.util.find_spec("anywidget") is not None


# --------------------------------------------------------------------------- the app


class Explorer:
    """The explorer app: filters, tabs, drill-downs, and a Python API to drive them.

    Build it with :func:`explore`. Drive it from Python with :meth:`set_range`,
    :meth:`set_versions`, :meth:`set_model`, :meth:`select_tab`, :meth:`set_feature` and
    :meth:`append_corrections`; read the current results from :attr:`frames` and
    :attr:`charts`; show it with :attr:`widget` (or by leaving it last in a cell).
    The state and the numbers live in :attr:`data` (an :class:`ExplorerData`).

    Parameters
    ----------
    requests
        A canonical ``requests`` frame, or a lazy scan of one (e.g. hive-partitioned
        parquet of a 100M-request day): then the rows are never held, see
        :class:`~obskit.explorer.data.ExplorerData` (counts and latency sketches per window
        and version, drill-down rows, a sample for drift).
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
    host
        Host CPU and memory samples (:mod:`obskit.load.host`), drawn on the timeline.
    """

    def __init__(
        self,
        requests: pl.DataFrame | pl.LazyFrame,
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
        host: pl.DataFrame | None = None,
    ) -> None:
        t0 = time.perf_counter()
        steps = ExplorerData.steps + 2
        count = [0]

        def tick(what: str) -> None:
            count[0] += 1
            if on_progress is not None:
                on_progress(min(count[0], steps), steps, what)

        self.data = ExplorerData(requests, reference=reference, gpu=gpu, every=every, features=features,
                                 confidence_threshold=confidence_threshold, drift_every=drift_every, top=top,
                                 on_progress=tick)
        self.data.busy = self._busy
        self.data.host = host
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
        self.features = self.data.features
        self.load_seconds = 0.0
        self.last_refresh_s = 0.0
        self._gpu = gpu
        self._reference = reference

        tick("building widgets")
        self._frames: dict[str, dict[str, pl.DataFrame]] = {t: {} for t in TABS}
        self._charts: dict[str, dict[str, alt.TopLevelMixin]] = {t: {} for t in TABS}
        self._notes: dict[str, str] = {}
        self._stale: set[str] = set(TABS)
        self._updating = False
        self._build_widgets(title, problems_html)
        self._refresh()
        tick("ready")
        self.load_seconds = time.perf_counter() - t0

    def _build_widgets(self, title: str, problems_html: str) -> None:
        first = self.data.bounds[0]
        labels = [f"{b:%H:%M}" if b.date() == first.date() else f"+{(b.date() - first.date()).days}d {b:%H:%M}"
                  for b in self.data.bounds]
        if self.data.bounds[-1] - first <= timedelta(days=1) and labels[-1] == "+1d 00:00":
            labels[-1] = "24:00"  # one calendar day: the end of the last window reads as 24:00
        elif self.data.bounds[-1] - first > timedelta(days=1):
            labels = [f"{b:%m-%d %H:%M}" for b in self.data.bounds]
        self.range_slider = widgets.SelectionRangeSlider(
            options=[(lab, i) for i, lab in enumerate(labels)], index=(0, len(labels) - 1),
            description="Time (UTC)", continuous_update=False, layout=widgets.Layout(width="520px"),
            style={"description_width": "80px"},
        )
        models = sorted({m for m, _ in self.data.pairs})
        self.model_select = widgets.Dropdown(options=["(all)", *models], value="(all)", description="Model",
                                             layout=widgets.Layout(width="240px"))
        self.version_select = widgets.SelectMultiple(options=self.data.versions_of(None), value=(),
                                                     description="Versions", rows=min(4, len(self.data.pairs) + 1),
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
            "traffic": {k: widgets.HTML() for k in ("explain", "slowest")},
            "errors": {k: widgets.HTML() for k in ("episodes", "messages", "explain", "failed")},
            "gpu": {"pressure": widgets.HTML()},
            "drift": {"drift": widgets.HTML()},
            "business": {k: widgets.HTML() for k in ("low_confidence", "corrected")},
            "timeline": {},
        }
        self._tab_notes = {t: widgets.HTML() for t in TABS}
        self.feature_select = widgets.Dropdown(options=self.data.drift_features or ["(none)"], description="Feature")
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
            self.tabs.set_title(i, TITLES[tab])
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

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # ------------------------------------------------------------------ public API
    @property
    def start(self) -> Any:
        """Start of the selected range (a window boundary, UTC)."""
        return self.data.start

    @property
    def end(self) -> Any:
        """End of the selected range (exclusive; a window boundary, UTC)."""
        return self.data.end

    @property
    def windows(self) -> list[Any]:
        """Every window boundary the slider offers (window starts, then the last end)."""
        return list(self.data.bounds)

    @property
    def versions(self) -> list[str]:
        """The selected versions (every version when none is picked)."""
        return list(self.version_select.value) or list(self.version_select.options)

    @property
    def selection(self) -> Key:
        """The selected ``(model, model_version)`` pairs."""
        return self.data.selection

    def set_range(self, start: Any = None, end: Any = None) -> None:
        """Select windows from the one holding ``start`` to the one holding the instant before ``end``.

        ``None`` means the first (last) window. The range snaps outwards to window
        boundaries; every tab is filtered.
        """
        lo, hi = self.data.snap(start, end)
        if (lo, hi) == (self.data.lo, self.data.hi):
            return
        self.data.lo, self.data.hi = lo, hi
        with self._quietly():
            self.range_slider.index = (lo, hi)
        self._refresh()

    def set_versions(self, versions: Sequence[str] | None) -> None:
        """Filter to ``versions`` (None or empty: every version of the selected model)."""
        wanted = tuple(versions or ())
        if wanted == self.data.picked:
            return
        self.data.set_versions(wanted)
        with self._quietly():
            self.version_select.value = wanted
        self._refresh()

    def set_model(self, model: str | None) -> None:
        """Filter to one model (None: every model); the version pick is cleared."""
        value = model or "(all)"
        if value not in self.model_select.options:
            raise AnalysisError(f"unknown model {model!r}")
        self.data.set_model(model)
        with self._quietly():
            self.model_select.value = value
            self.version_select.options = self.data.versions_of(model)
            self.version_select.value = ()
        self._refresh()

    def set_feature(self, feature: str) -> None:
        """Show ``feature`` in the drift tab's histogram and statistic-over-time charts."""
        if feature not in self.data.drift_features:
            raise AnalysisError(f"no drift feature {feature!r}; known: {', '.join(self.data.drift_features)}")
        self.feature_select.value = feature

    def select_tab(self, tab: str) -> None:
        """Show tab ``tab`` (one of :data:`TABS`)."""
        self.tabs.selected_index = TABS.index(tab)

    def reset(self) -> None:
        """Every window, every model and version."""
        self.data.reset()
        with self._quietly():
            self.range_slider.index = (self.data.lo, self.data.hi)
            self.model_select.value = "(all)"
            self.version_select.options = self.data.versions_of(None)
            self.version_select.value = ()
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
        rows = self.data.corrected_rows()
        if request_ids is not None:
            rows = rows.filter(pl.col("request_id").is_in(list(request_ids)))
        if rows.is_empty():
            raise AnalysisError("no corrected example selected")
        inc = flywheel_increment(rows, self.features, reference=self._reference)
        return write_flywheel(inc, self.flywheel_path, merge=True)

    # ------------------------------------------------------------------ callbacks
    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        """Change widgets without their callbacks refreshing again."""
        self._updating = True
        try:
            yield
        finally:
            self._updating = False

    def _on_slider(self, change: Mapping[str, Any]) -> None:
        if self._updating:
            return
        lo, hi = change["new"]
        if hi <= lo:
            hi = lo + 1 if lo + 1 < len(self.data.bounds) else lo
            lo = hi - 1
        self.data.lo, self.data.hi = int(lo), int(hi)
        self._refresh()

    def _on_model(self, change: Mapping[str, Any]) -> None:
        if self._updating:
            return
        self.set_model(None if change["new"] == "(all)" else change["new"])

    def _on_versions(self, change: Mapping[str, Any]) -> None:
        if not self._updating:
            self.data.set_versions(tuple(change["new"] or ()))
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
        a, b = sorted((to_datetime(interval[0]), to_datetime(interval[1])))
        self.set_range(a, b)

    def _on_flywheel(self, _button: Any) -> None:
        ids = list(self.corrected_pick.value) or None
        try:
            path = self.append_corrections(ids)
        except (ObskitError, OSError) as exc:
            self.flywheel_result.value = _note(f"Not written: {exc}", "error")
            return
        n = len(ids) if ids else self.data.corrected_rows().height
        self.flywheel_result.value = _note(f"Appended {n:,} corrected example(s) to {path}")

    # ------------------------------------------------------------------ drawing
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

    def _update_summary(self) -> None:
        n, errs, worst = self.data.totals()
        versions = ", ".join(sorted({v for _, v in self.selection})) or "none"
        span = f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"
        if n:
            worst_s = f" · worst window p99 <b>{worst:.1f} ms</b>" if worst is not None else ""
            text = (f"<b data-requests='{n}'>{n:,}</b> requests · <b>{errs:,}</b> errors ({errs / n:.2%})"
                    f"{worst_s} · {html.escape(span)} · versions: {html.escape(versions)}")
        else:
            text = f"<b data-requests='0'>0</b> requests · {html.escape(span)} · versions: {html.escape(versions)}"
        self.summary.value = f"<div class='obskit-summary-line'>{text}</div>"

    def _ensure(self, tab: str) -> None:
        if tab not in self._stale:
            return
        feature = self.feature_select.value if self.feature_select.value != "(none)" else None
        options = TabOptions(slo_ms=self.slo_ms, correction_rate_max=self.correction_rate_max, feature=feature)
        try:
            # Altair validates data rows as each chart object is made; the frames are ours and
            # well-formed, and the check would cost more than everything else in a redraw.
            with schemapi.debug_mode(False):
                result = build(tab, self.data, options)
        except ObskitError as exc:
            from obskit.explorer.tabs import TabResult

            result = TabResult(note=f"{TITLES[tab]}: {exc}")
        self._frames[tab] = result.frames
        self._charts[tab] = result.charts
        if result.note:
            self._notes[tab] = result.note
        else:
            self._notes.pop(tab, None)
        self._tab_notes[tab].value = _note(result.note, "warning") if result.note else ""
        for name, markup in result.tables.items():
            self._tables[tab][name].value = markup
        if tab == "business" and result.picks is not None:
            self.corrected_pick.options = result.picks
        with schemapi.debug_mode(False):
            for name, chart in result.charts.items():
                self._views[tab][name].set(chart)
        self._stale.discard(tab)
