"""The explorer following the present: the last minutes, refreshed from a watcher's state.

``obskit.explore(config, live=True)`` returns a :class:`LiveExplorer`: a
:class:`~obskit.watch.Watcher` of the config (the same reading, state and rule evaluation as
``obskit watch``, with its own checkpoint folder) and an :class:`~obskit.explorer.app.Explorer`
on the rows of its last ``last`` minutes. Every ``interval`` the watcher reads what the logs
gained, evaluates the rules, and the explorer is rebuilt on the new minutes, keeping the
open tab; the alerts firing now and those that fired or resolved since the last refresh
are listed above it. The refresh is scheduled on the kernel's event loop, so the kernel
answers between refreshes; the *Follow* toggle pauses and resumes it, and :meth:`refresh`
does one by hand (what the tests call).

Examples
--------
>>> live = explore("obskit.toml", live=True, last="30m", interval=15)  # doctest: +SKIP
>>> live  # the app, refreshed every 15 s  # doctest: +SKIP
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import polars as pl

from obskit.explorer.app import Explorer
from obskit.load.host import host_frame

__all__ = ["LiveExplorer"]


class LiveExplorer:
    """An :class:`Explorer` of the last minutes, refreshed from a watcher (see the module doc).

    Parameters
    ----------
    config
        The project's ``obskit.toml``; its request logs are followed.
    last
        How much of the recent past the explorer shows.
    interval
        Seconds between refreshes.
    state_dir
        The watcher's checkpoint folder (default ``.obskit/explore-live`` beside the config,
        apart from ``obskit watch``'s).
    every
        Window of the explorer's per-window analyses (default one minute).
    clock
        ``now()`` for the watcher (tests).
    **options
        Passed to :class:`Explorer`.
    """

    def __init__(self, config: str | Path, *, last: timedelta = timedelta(minutes=30), interval: float = 15.0,
                 state_dir: str | Path | None = None, every: str = "1m", clock: Any = None, **options: Any) -> None:
        from obskit.config import load_config
        from obskit.watch import Watcher, WatchOptions

        cfg = load_config(config)
        folder = Path(state_dir) if state_dir is not None else Path(cfg.path).parent / ".obskit" / "explore-live"
        self.watcher = Watcher(cfg, WatchOptions(interval=interval, state_dir=folder,
                                                 row_horizon=max(last, timedelta(hours=3))), clock=clock)
        self.config = cfg
        self.last = last
        self.interval = float(interval)
        self.every = every
        self.options = {"features": list(cfg.features.all) or None, "slo_ms": cfg.slo.latency_ms,
                        "confidence_threshold": cfg.business.confidence_threshold,
                        "title": f"{cfg.project.name} — live", **options}
        self.explorer: Explorer | None = None
        self.refreshes = 0
        self.events: list[dict[str, Any]] = []
        self.follow = widgets.ToggleButton(value=True, description="Follow", icon="play",
                                           tooltip="refresh every interval from the logs")
        self.follow.add_class("obskit-live-follow")
        self.status = widgets.HTML()
        self.status.add_class("obskit-live-status")
        self.alerts = widgets.HTML()
        self.alerts.add_class("obskit-live-alerts")
        self.body = widgets.VBox([])
        self.widget = widgets.VBox([widgets.HBox([self.follow, self.status]), self.alerts, self.body])
        self.widget.add_class("obskit-live")
        self._handle: Any = None
        self.follow.observe(self._on_follow, names="value")
        self.refresh()
        self._schedule()

    # ------------------------------------------------------------------ refresh
    def _rows(self, now: datetime) -> pl.DataFrame | None:
        rows = self.watcher.rows
        if not rows:
            return None
        frame = pl.concat(rows, how="diagonal_relaxed").filter(pl.col("timestamp") >= now - self.last)
        return frame if frame.height else None

    def refresh(self, now: datetime | None = None) -> None:
        """Read the logs, evaluate the rules, and rebuild the explorer on the last minutes."""
        tick = self.watcher.tick(now)
        self.refreshes += 1
        self.events = tick.sent + self.events[:50]
        moment = now or self.watcher.clock()
        rows = self._rows(moment)
        tab = self.explorer.tabs.selected_index if self.explorer is not None else None
        if rows is not None:
            host = self.watcher.host_rows
            self.explorer = Explorer(rows, reference=self.watcher.reference, every=self.every,
                                     host=host_frame(host) if host else None, **self.options)
            if tab is not None:
                self.explorer.tabs.selected_index = tab
            self.body.children = (self.explorer.widget,)
        until = f"{tick.evaluated_until:%H:%M} UTC" if tick.evaluated_until is not None else "no data yet"
        lag = f", lag {tick.lag_s:.0f} s" if tick.lag_s is not None else ""
        problems = f" — {html.escape('; '.join(tick.problems))}" if tick.problems else ""
        self.status.value = (f"<span data-status='{tick.status}'><b>{html.escape(tick.status)}</b> · complete until "
                             f"{html.escape(until)}{html.escape(lag)} · {self.watcher.lines_total:,} lines read"
                             f"{problems}</span>")
        firing = ", ".join(html.escape(r) for r in tick.firing) or "none"
        recent = "".join(
            f"<li data-state='{html.escape(str(e['state']))}'>{html.escape(str(e['state']))}: "
            f"<b>{html.escape(str(e['rule']))}</b> {html.escape(str(e.get('summary') or ''))}</li>"
            for e in self.events[:10])
        self.alerts.value = f"<div>Firing now: <b>{firing}</b></div>" + (f"<ul>{recent}</ul>" if recent else "")

    # ------------------------------------------------------------------ scheduling
    def _schedule(self) -> None:
        """Call :meth:`refresh` every interval on the running event loop (a kernel's), while following."""
        import asyncio

        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            return
        if not self.follow.value or not loop.is_running():
            return  # outside a kernel: refresh() by hand

        def run() -> None:
            self._handle = None
            if not self.follow.value:
                return
            try:
                self.refresh()
            finally:
                self._schedule()

        self._handle = loop.call_later(self.interval, run)

    def _on_follow(self, change: Any) -> None:
        if change["new"]:
            self.follow.icon = "play"
            self._schedule()
        else:
            self.follow.icon = "pause"
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None

    def stop(self) -> None:
        """Stop following and close the watcher's files."""
        self.follow.value = False
        self.watcher.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
