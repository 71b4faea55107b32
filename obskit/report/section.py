"""What a report cell shows: a :class:`Section` (notes, tables, charts, the frames behind them).

A report notebook is a parameters cell, :func:`open_report`, and one call per section
(``health.traffic(rep)``). Each section function reads the :class:`ReportContext`, computes
with the analyses, and returns a :class:`Section`; Jupyter displays it (``_ipython_display_``)
and tests read its ``frames``, ``status`` and ``reason`` without a kernel.

A section's ``status`` is one of:

``ok``
    The section had its inputs and shows them.
``warning``
    It shows something that needs a look (a fired alert, drifted features...).
``skipped``
    Nothing to show, and ``reason`` says why (no GPU source, no reference set...).
    "Skipped" is never reported as "ok".

Examples
--------
>>> s = Section("Traffic").note("No requests.", kind="warning").skip("no request logs")
>>> s.status, s.reason
('skipped', 'no request logs')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

if TYPE_CHECKING:
    import altair as alt

    from obskit.config import Config
    from obskit.problems import Problem
    from obskit.session import Session

__all__ = ["ReportContext", "Section", "open_report"]

Status = Literal["ok", "warning", "skipped"]


@dataclass(frozen=True)
class _Note:
    text: str
    kind: str = "info"


@dataclass(frozen=True)
class _Table:
    frame: pl.DataFrame
    caption: str = ""
    formats: dict[str, str] | None = None


@dataclass(frozen=True)
class _Chart:
    chart: Any


@dataclass(frozen=True)
class _Html:
    html: str


@dataclass
class Section:
    """One report section's result: what it displays, in order, and the frames behind it.

    Builder methods return the section itself, so a section function can chain them.
    """

    title: str
    status: Status = "ok"
    reason: str = ""
    #: The run-status flags its warnings raise (``warning``, ``drift``, ``alerting``): see obskit.report.status.
    flags: set[str] = field(default_factory=set)
    #: Why, per flag (a section may raise several: alerts fired, and a rule that cannot work).
    flag_reasons: dict[str, str] = field(default_factory=dict)
    items: list[Any] = field(default_factory=list)
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)

    def note(self, text: str, *, kind: str = "info") -> Section:
        """Add a note box (``kind``: info, warning, error)."""
        self.items.append(_Note(text, kind))
        return self

    def table(self, frame: pl.DataFrame, *, caption: str = "", formats: dict[str, str] | None = None,
              name: str = "") -> Section:
        """Add a table (escaped); ``name`` also keeps the frame in :attr:`frames`.

        An empty frame shows as one line (``caption: none.``), not as bare headers.
        """
        if frame.height:
            self.items.append(_Table(frame, caption, formats))
        else:
            self.items.append(_Note(f"{caption or 'Table'}: none in this period."))
        if name:
            self.frames[name] = frame
        return self

    def chart(self, chart: alt.TopLevelMixin) -> Section:
        """Add an Altair chart (rendered offline in reports)."""
        self.items.append(_Chart(chart))
        return self

    def html(self, markup: str) -> Section:
        """Add HTML that obskit built and escaped itself (never user strings unescaped)."""
        if markup:
            self.items.append(_Html(markup))
        return self

    def keep(self, **frames: pl.DataFrame) -> Section:
        """Keep result frames for tests and callers without displaying them."""
        self.frames.update(frames)
        return self

    def skip(self, reason: str) -> Section:
        """Mark the section as having nothing to show, and say why."""
        self.status = "skipped"
        self.reason = reason
        return self

    def warn(self, reason: str, *, flag: str = "warning") -> Section:
        """Mark the section as showing something that needs a look (never downgrades a skip).

        ``flag`` is the run-status flag this raises: a warning on a page is never an ``ok`` run.
        A second warning keeps the first one's reason as the section's and adds its own flag.
        """
        if self.status != "skipped":
            if self.status != "warning":
                self.reason = reason
            self.status = "warning"
            self.flags.add(flag)
            self.flag_reasons.setdefault(flag, reason)
        return self

    @property
    def charts(self) -> list[Any]:
        """The charts, in display order."""
        return [i.chart for i in self.items if isinstance(i, _Chart)]

    @property
    def notes(self) -> list[str]:
        """The note texts, in display order."""
        return [i.text for i in self.items if isinstance(i, _Note)]

    def _shown(self) -> list[Any]:
        """The items, with a note saying why when a skipped section has nothing else to show."""
        if self.status == "skipped" and not any(isinstance(i, _Note) for i in self.items):
            return [_Note(f"Not shown: {self.reason}.", "warning"), *self.items]
        return self.items

    def to_html(self) -> str:
        """Notes and tables as escaped HTML (charts as their offline placeholders)."""
        from obskit import charts, views

        parts: list[str] = []
        for item in self._shown():
            if isinstance(item, _Note):
                parts.append(views.note(item.text, kind=item.kind))
            elif isinstance(item, _Table):
                parts.append(views.table_html(item.frame, caption=item.caption, formats=item.formats))
            elif isinstance(item, _Chart):
                parts.append(charts.spec_html(item.chart))
            else:
                parts.append(item.html)
        return "".join(parts)

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        from obskit import charts, views

        for item in self._shown():
            if isinstance(item, _Note):
                display(HTML(views.note(item.text, kind=item.kind)))
            elif isinstance(item, _Table):
                display(HTML(views.table_html(item.frame, caption=item.caption, formats=item.formats)))
            elif isinstance(item, _Chart):
                charts.show(item.chart)
            else:
                display(HTML(item.html))

    def summary(self) -> dict[str, str]:
        """``{"title", "status", "reason"}`` for ``summary.json``."""
        return {"title": self.title, "status": self.status, "reason": self.reason}


@dataclass
class ReportContext:
    """A report run: the session, the chart window, the key figures and the sections shown so far."""

    session: Session
    window: str
    output_dir: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    #: The window was asked for (``window`` parameter or ``[report] window``), not chosen from the period.
    window_set: bool = False
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per run (frames several sections share, e.g. the window stats)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @property
    def config(self) -> Config:
        """The project config."""
        return self.session.config

    @property
    def scale(self) -> Any:
        """The :class:`~obskit.load.request_source.ScaleSource` when the run is at scale (rows unloaded), else None."""
        return self.session.scale

    @property
    def requests(self) -> pl.DataFrame | None:
        """The period's requests, or None when there are none (missing source or no matching row)."""
        df = self.session.requests
        return df if df is not None and df.height else None

    @property
    def reference(self) -> pl.DataFrame | None:
        """The training reference set, or None."""
        return self.session.reference if self.config.reference is not None else None

    @property
    def host(self) -> pl.DataFrame | None:
        """Host CPU and memory of the period (node_exporter in the live Prometheus), or None."""
        return self.session.host

    @property
    def gpu(self) -> pl.DataFrame | None:
        """The period's GPU samples, or None when there are none.

        With an open period and request logs, the period is the requests' span: GPU samples
        of another day are not this report's.
        """
        df = self.session.gpu
        if df is None or not df.height:
            return None
        if self.session.start is None and self.session.end is None and self.config.sources_for("requests"):
            requests = self.requests
            if requests is not None:
                from obskit.timeutil import parse_duration

                pad = parse_duration(self.window)
                lo, hi = requests["timestamp"].min(), requests["timestamp"].max()
                df = df.filter(pl.col("timestamp").is_between(lo - pad, hi + pad))  # type: ignore[operator]
        return df if df.height else None

    def request_span(self) -> tuple[datetime, datetime] | None:
        """Where the period's requests lie: the period's bounds, or where open, the first and last request."""
        if self.scale is not None and self.session.scale_span is not None:
            lo, hi = self.session.scale_span
        else:
            requests = self.requests
            if requests is None:
                return None
            lo, hi = requests["timestamp"].min(), requests["timestamp"].max()  # type: ignore[assignment]
        if not isinstance(lo, datetime) or not isinstance(hi, datetime):
            return None
        start, end = self.session.start, self.session.end
        return (max(lo, start) if start is not None else lo), (min(hi, end) if end is not None else hi)

    @property
    def drift_window(self) -> str:
        """The window of drift over time: the chart window, widened for enough requests per window.

        At most 24 windows with at least ~50 successful requests each on average
        (:func:`obskit.timeutil.drift_window`): 15 minutes of traffic are tested minute by
        minute, a day hour by hour.
        """
        from obskit.timeutil import drift_window

        def choose() -> str:
            span = self.request_span()
            requests = self.requests
            rows = self.scale.period_rows if self.scale is not None else (
                requests.height if requests is not None else None)
            return drift_window(span[1] - span[0] if span is not None else None, self.window, rows)

        out: str = self.cached("drift_window", choose)
        return out

    def check_features(self) -> list[str]:
        """Configured features the reference set lacks; each run records them once as a problem.

        A feature the training set does not have cannot be checked for drift: that is a
        config error to fix, not a silent no-op.
        """
        def find() -> list[str]:
            reference = self.reference
            if reference is None:
                return []
            missing = [f for f in self.config.features.all if f not in reference.columns]
            if missing:
                from obskit.problems import Problem

                self.session.problems.append(Problem(
                    "features", f"not in the reference set, so never checked for drift: {', '.join(missing)} "
                                f"(reference columns: {', '.join(reference.columns[:20])})"))
            return missing

        found: list[str] = self.cached("missing_features", find)
        return found

    def record(self, section: Section) -> Section:
        """Remember a section's status for ``summary.json``; returns it for display."""
        self.sections = [s for s in self.sections if s.title != section.title] + [section]
        return section

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        from obskit import views

        if self.session.config.requests is not None and self.session.requests is not None and self.requests is None:
            display(HTML(views.note("No request matches this period, model and version.", kind="warning")))
        if not self.output_dir:  # under `obskit report` the page header lists every problem of the run
            display(HTML(self.session.problems_html()))

    def finish(self) -> None:
        """Write ``summary.json`` (and ``alerts.json``) into the output folder, when there is one.

        The status tells what was checked (:func:`obskit.report.status.run_status`): ``ok``
        only when there was data and nothing is wrong with it.
        """
        from obskit.report.status import run_status

        self.figures["sections"] = [s.summary() for s in self.sections]
        self.session.load_all()  # a configured source that failed is never "ok", read or not
        self.cached("periods", self._check_periods)  # nor one with nothing in the period (once per run)
        st = run_status(self)
        self.session.write_summary(self.output_dir, self.figures,
                                   status={"status": st.status, "flags": list(st.flags), "reasons": list(st.reasons)})
        self.save_rollup()

    def _check_periods(self) -> list[Problem]:
        from obskit.timeutil import parse_duration

        return self.session.check_periods(pad=parse_duration(self.window))  # the padding of :attr:`gpu`

    def save_rollup(self) -> Path | None:
        """Save the period's rollup (:mod:`obskit.scale.rollup`) into ``<output_dir>/rollup``.

        The trends report merges these day by day. Nothing is saved without an output
        folder, without requests, or when the report keeps only one model version (a
        partial day would undercount the month).
        """
        from obskit.report.state import rollup
        from obskit.scale.rollup import ROLLUP_DIR, ROLLUP_EVERY

        if not self.output_dir or self.session.version:
            return None
        if self.scale is None and self.requests is None:
            return None
        period = rollup(self)  # the one the sections read
        if period.state.every_s < 300 and 300 % period.state.every_s == 0:
            period = period.coarsen(ROLLUP_EVERY)  # saved at 5 minutes, as every other day's
        return period.save(Path(self.output_dir) / ROLLUP_DIR) if period.requests else None


def open_report(config: str = "", *, start: str = "", end: str = "", model: str = "", version: str = "",
                window: str = "", output_dir: str = "", **params: Any) -> ReportContext:
    """Open a report run: read the config, load sources lazily, choose the chart window.

    Parameters
    ----------
    config
        The ``obskit.toml``; empty means ``./obskit.toml`` (see
        :func:`obskit.report.notebooks.default_config`).
    start, end
        The period (ISO 8601); empty means all the data.
    model, version
        Keep one model / one model version; empty means the config's model, every version.
    window
        Chart window (``5m``...); empty means the config's ``[report] window``, widened so
        a chart never has more than ~400 windows (narrowed so it has at least 12). Without
        either, the period chooses (:func:`obskit.timeutil.report_window`): 15 minutes get
        1-minute windows, a day 5 minutes, a week hours. Drift over time uses
        :attr:`ReportContext.drift_window`, derived from it.
    output_dir
        Where ``summary.json`` and ``alerts.json`` go (papermill sets it); empty: nowhere.
    **params
        Notebook-specific parameters (``gpu_hour_price``, ``baseline``...), kept in
        :attr:`ReportContext.params`.

    Examples
    --------
    >>> rep = open_report("data/samples/obskit.toml")  # doctest: +SKIP
    >>> rep.window  # doctest: +SKIP
    '5m'
    """
    from obskit.report.notebooks import default_config
    from obskit.session import Session
    from obskit.timeutil import report_window

    session = Session.open(config or default_config(), start=start, end=end, model=model, version=version)
    asked = window or (session.config.report.window if session.config.report.window_set else "")
    rep = ReportContext(session, asked or session.config.report.window, output_dir, params=dict(params),
                        window_set=bool(asked))
    if _open_at_scale(rep):
        return rep
    span = session.data_span()
    if span is not None:
        rep.window = report_window(span[1] - span[0], asked, default=session.config.report.window)
    if rep.requests is not None:
        from obskit import views

        cfg = rep.config
        rep.figures.update(views.key_figures(rep.requests, slo_ms=cfg.slo.latency_ms,
                                             slo_quantile=cfg.slo.latency_quantile))
    return rep


def _open_at_scale(rep: ReportContext) -> bool:
    """Switch the run to the scale path when the request source is too large to load (:mod:`obskit.report.scale`)."""
    from obskit.load import request_source
    from obskit.report import scale, state
    from obskit.timeutil import report_window

    source = request_source.scale_source(rep.config)
    if source is None:
        return False
    session = rep.session
    n, span = request_source.period_extent(source, start=session.start, end=session.end, model=session.model,
                                           version=session.version)
    request_source.keep_rejects(session, source)
    if n <= rep.config.report.max_rows:
        session.pushdown = source  # a small period of a large source: read only its rows
        return False
    session.scale = replace(source, period_rows=n)
    if span is not None:
        session.scale_span = span
        lo, hi = session.data_span() or span
        rep.window = report_window(hi - lo, rep.window if rep.window_set else "", default=rep.window)
    state.rollup(rep)  # one streaming pass, at the final window
    rep.figures.update(scale.figures(rep))
    return True
