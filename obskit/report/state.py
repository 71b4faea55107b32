"""The period's window state: built once per run, read by the sections at every size.

One pass over the period's requests (the rows held in memory, or the lazy scan of the files
at scale, corrections joined as the rows stream) builds a :class:`~obskit.scale.rollup.Rollup`:
exact counts per window and model version (requests, errors, within the latency SLO, the
business counts) and latency sketches. Sections that need counts per window (SLO compliance
and budgets, business signals, the timeline, version traffic) read it, so their figures are
the same whatever the size, and a report at scale makes no pass of its own for them. Exact
latency percentiles still come from the rows when they are held (:func:`obskit.report.health.window_stats`).

The rollup saved beside the report for the trends report is this one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from obskit.report.run import Run
    from obskit.scale.rollup import Rollup

__all__ = ["rollup", "timeline_windows", "version_counts", "window_counts"]


def rollup(rep: Run) -> Rollup:
    """The period's rollup, built once per run (one streaming pass at scale); empty without requests.

    Its window is the rollup's 5 minutes when the report window is a multiple of it (so the
    saved rollup merges with every other day's), else the report window.
    """
    from obskit.scale.rollup import ROLLUP_EVERY, build_rollup
    from obskit.timeutil import polars_every

    every = ROLLUP_EVERY if int(polars_every(rep.window)[:-1]) % 300 == 0 else rep.window
    cfg = rep.config

    def build() -> Rollup:
        minutes = rep.session.window_state() if int(polars_every(every)[:-1]) % 60 == 0 else None
        if minutes is not None:  # the session's one-minute state, which the alerts read too
            return minutes.coarsen(every)
        rows: pl.DataFrame | pl.LazyFrame | None = rep.session.request_scan() if rep.scale is not None else rep.requests
        if rows is None:
            rows = pl.DataFrame(schema={"timestamp": pl.Datetime("us", "UTC"), "latency_ms": pl.Float64,
                                        "status": pl.String})
        return build_rollup(rows, slo_ms=cfg.slo.latency_ms, confidence_threshold=cfg.business.confidence_threshold,
                            every=every)

    built: Rollup = rep.cached("period_rollup", build)
    return built


def window_counts(rep: Run) -> Rollup:
    """The rollup in the report's windows, every version summed (cached)."""
    out: Rollup = rep.cached("period_rollup_window", lambda: rollup(rep).coarsen(rep.window, by=()))
    return out


def version_counts(rep: Run) -> pl.DataFrame:
    """Requests per report window and model version: ``window_start``, ``model_version``, ``requests``."""
    r = rollup(rep)
    if "model_version" not in r.state.by:
        return pl.DataFrame(schema={"window_start": pl.Datetime("us", "UTC"), "model_version": pl.String,
                                    "requests": pl.Int64})
    counts: pl.DataFrame = rep.cached(
        "period_rollup_versions",
        lambda: r.coarsen(rep.window, by=("model_version",)).state.counts.frame.select(
            "window_start", "model_version", "requests"))
    return counts


def timeline_windows(rep: Run, stats: pl.DataFrame) -> pl.DataFrame:
    """Per report window: requests, error rate, the business counts and ``stats``' p99 (for the one timeline).

    ``stats`` is the window stats the latency section draws (exact percentiles with the rows
    held, the sketch's at scale); every count comes from the window state.
    """
    r = window_counts(rep)
    present = r.state.present
    biz = [(pl.col(source) if flag in present else pl.lit(None, pl.Int64)).alias(name)
           for name, source, flag in (("answered", "answered", "answered"),
                                      ("confident", "confident_answered", "answered"),
                                      ("corrected_confident", "corrected_confident", "corrections"))]
    counts = r.state.counts.frame.select("window_start", "requests",
                                         (pl.col("errors") / pl.col("requests")).alias("error_rate"), *biz)
    return counts.join(stats.select("window_start", "p99_ms"), on="window_start", how="left").sort("window_start")
