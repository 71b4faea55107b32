"""``obskit.explore``: open the explorer on a project's config or on frames."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import polars as pl

from obskit.errors import ObskitError
from obskit.explorer.app import Explorer

if TYPE_CHECKING:
    from obskit.explorer.live import LiveExplorer

__all__ = ["explore"]


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
    requests: pl.DataFrame | pl.LazyFrame | None = None,
    reference: pl.DataFrame | None = None,
    gpu: pl.DataFrame | None = None,
    every: str = "",
    start: str = "",
    end: str = "",
    live: bool = False,
    last: str = "30m",
    interval: float = 15.0,
    **options: Any,
) -> Explorer | LiveExplorer:
    """Open the explorer on a project's data (``config``) or on frames.

    Parameters
    ----------
    config
        An ``obskit.toml`` (empty or None without frames: ``./obskit.toml``, see
        :func:`obskit.report.notebooks.default_config`); its sources give the frames not passed explicitly, and its
        ``[features]``, ``[slo]`` and ``[business]`` tables the defaults.
    requests, reference, gpu
        Canonical frames; each one given overrides the config's source. ``requests`` may be
        a lazy scan: the explorer then works at scale.
    every
        Window length of the per-window analyses and of the slider. Empty: the window the
        report of the same period uses (:func:`obskit.timeutil.report_window`): the config's
        ``[report] window`` (kept to 12..400 windows), or without one, chosen from the
        period (15 minutes: 1 minute, a day: 5 minutes, a week: 1 hour); without a config, 5
        minutes. Drift over time (``drift_every``, unless given) uses that window widened to
        at most 24 windows of ~50 requests (:func:`obskit.timeutil.drift_window`), as the
        drift report does.
    start, end
        The period of the config's sources (ISO 8601; empty: all the data). A parquet request
        source larger than ``[report] max_rows`` is read for this period only (filters pushed
        into the scan); a period still above the limit is explored at scale: its rows are
        never held (see :class:`~obskit.explorer.data.ExplorerData`).
    live
        Follow the present: a :class:`~obskit.explorer.live.LiveExplorer` of the config's
        request logs over the ``last`` minutes, refreshed every ``interval`` seconds from the
        same incremental state as ``obskit watch`` (alerts listed as they fire).
    last, interval
        With ``live``: how much of the recent past is shown (``"30m"``), and seconds between
        refreshes.
    **options
        Passed to :class:`Explorer` (``features``, ``slo_ms``, ``confidence_threshold``,
        ``drift_every``, ``flywheel_path``, ``top``, ``chart_backend``, ...).

    Returns
    -------
    Explorer or LiveExplorer
        Its :attr:`Explorer.widget` is the app; a bare ``explore(...)`` at the end of a
        cell shows it. In a notebook, a progress bar is shown during the load.

    Raises
    ------
    ObskitError
        No requests (neither given nor loadable from the config).
    """
    from obskit.timeutil import drift_window, report_window

    if live:
        from obskit.explorer.live import LiveExplorer
        from obskit.timeutil import parse_duration

        if config is None or config == "" or requests is not None:
            raise ObskitError("explore(live=True) follows a config's request logs: pass the config, not frames")
        return LiveExplorer(config, last=parse_duration(last), interval=interval, every=every or "1m", **options)
    problems = ""
    report_cfg = None
    if config == "" or (config is None and requests is None):
        from obskit.report.notebooks import default_config

        config = default_config()
    if config is not None:
        from obskit.session import Session

        session = Session.open(config, start=start, end=end)
        cfg = session.config
        if requests is None:
            requests = _large_source(session)
        if requests is None:
            requests = session.requests
        if reference is None and cfg.reference is not None:
            reference = session.reference
        if gpu is None:
            gpu = session.gpu  # nvidia-smi log or DCGM scrape; a failure is kept in session.problems
        problems = session.problems_html()
        report_cfg = cfg.report
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
    span, rows = _extent(requests)
    if not every:
        every = report_window(span, report_cfg.window if report_cfg.window_set else "", default=report_cfg.window) \
            if report_cfg is not None else "5m"
    options.setdefault("drift_every", drift_window(span, every, rows))
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


def _extent(requests: pl.DataFrame | pl.LazyFrame) -> tuple[timedelta | None, int | None]:
    """How long the requests last (last minus first timestamp) and how many there are."""
    if "timestamp" not in requests.collect_schema().names():
        return None, None
    lf = requests.lazy().select(pl.col("timestamp").min().alias("lo"), pl.col("timestamp").max().alias("hi"),
                                pl.len().alias("n"))
    lo, hi, n = lf.collect().row(0)
    span = hi - lo if isinstance(lo, datetime) and isinstance(hi, datetime) else None
    return span, int(n)


def _large_source(session: Any) -> pl.LazyFrame | None:
    """A lazy scan of the period of a large parquet source (explored at scale), or None.

    A period within ``[report] max_rows`` is read into memory with its filters pushed into
    the scan (``session.pushdown``); a larger one is returned as a scan, and the explorer
    keeps only counts, sketches, drill-down rows and a sample.
    """
    from obskit.load.request_source import keep_rejects, period_extent, period_scan, scale_source

    source = scale_source(session.config)
    if source is None:
        return None
    n, _ = period_extent(source, start=session.start, end=session.end, model=session.model,
                         version=session.version)
    keep_rejects(session, source)
    if n > session.config.report.max_rows:
        from obskit.load.logs import attach_feedback

        scan = period_scan(source, start=session.start, end=session.end, model=session.model,
                           version=session.version)
        feedback = session.frame("feedback")  # corrections are few: held, and joined as the rows stream
        return scan if feedback is None else attach_feedback(scan, feedback)
    session.pushdown = source
    return None
