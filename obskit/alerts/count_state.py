"""The count state of request rows: what the count-determined alert signals need, mergeable.

:class:`CountState` holds, per clock minute and model version, the requests, errors,
successful and slow-successful counts; per minute one latency sketch
(:class:`~obskit.scale.streaming.WindowState`); per hour the business counts (answered,
confident, corrected). Its size grows with minutes x versions x occupied sketch buckets,
never with rows, and two states of disjoint rows merge exactly (:meth:`CountState.merge`):

* a report at scale builds one state in a streaming pass over the files
  (:func:`obskit.alerts.scale_inputs.scale_signal_frames`);
* ``obskit watch`` builds one per batch of new log lines and merges it into the state it
  keeps (:mod:`obskit.watch`), pruning minutes older than its horizon.

:func:`count_signal_frames` turns a state into the signal frames (``window_stats``,
``latency_slo``, ``traffic_ratio``, ``error_excess``, ``version_error_ratio``, ``business``)
with the same functions the in-memory path feeds with the rows' counts, so a rule fires at
the same minutes whichever path computed its signal (latency quantiles within the sketch's
stated relative bound, 0.5 % by default).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> rows = pl.DataFrame({"timestamp": [t0 + timedelta(seconds=i) for i in range(120)],
...                      "model_version": ["v1"] * 120, "latency_ms": [10.0] * 120,
...                      "status": ["ok"] * 110 + ["error"] * 10})
>>> a, b = count_state(rows[:70].lazy(), slo_ms=50.0), count_state(rows[70:].lazy(), slo_ms=50.0)
>>> merged = a.merge(b)
>>> merged.minutes.select(pl.col("requests").sum(), pl.col("errors").sum()).row(0)
(120, 10)
>>> count_signal_frames(merged)["window_stats"].select("requests", "errors").rows()
[(60, 0), (60, 10)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from obskit.alerts.baselines import (
    MIN_US,
    error_excess_counts,
    minute_grid_between,
    traffic_ratio_counts,
    version_window_stats,
)
from obskit.alerts.inputs import zero_filled
from obskit.alerts.segment_signals import version_error_ratio_counts
from obskit.scale.streaming import WindowState, frame_window_state

if TYPE_CHECKING:
    from obskit.scale.rollup import Rollup

__all__ = ["CountState", "count_signal_frames", "count_state", "count_state_of", "label_minutes", "minute_counts",
           "per_version_counts"]

_QUANTILES = (0.5, 0.9, 0.95, 0.99)
_MINUTE_COUNTS = ("requests", "errors", "ok", "slow")
_BUSINESS_COUNTS = ("attempts", "answered", "confident", "corrections", "corrected_confident")
_MINUTES_SCHEMA = {"_m": pl.Int64, "model_version": pl.String, **dict.fromkeys(_MINUTE_COUNTS, pl.Int64)}


def minute_counts(lf: pl.LazyFrame, *, slo_ms: float | None = None, offset_us: int = 0) -> pl.DataFrame:
    """Requests, errors, ok and slow-ok counts per (minute start ``_m`` in µs, ``model_version``).

    Minutes start at ``offset_us`` modulo one minute (0: clock minutes, as ``window_stats``).
    """
    names = set(lf.collect_schema().names())
    ok = pl.col("status").cast(pl.String) == "ok"
    version = (pl.col("model_version").cast(pl.String).fill_null("") if "model_version" in names
               else pl.lit("")).alias("model_version")
    slow = (ok & (pl.col("latency_ms") > slo_ms)) if slo_ms is not None else pl.lit(False)
    t_us = pl.col("timestamp").dt.epoch("us")
    start_us = ((t_us - offset_us) // MIN_US * MIN_US + offset_us).alias("_m")
    return (lf.filter(pl.col("timestamp").is_not_null())
            .group_by(start_us, version)
            .agg(pl.len().cast(pl.Int64).alias("requests"), (~ok).sum().cast(pl.Int64).alias("errors"),
                 ok.sum().cast(pl.Int64).alias("ok"), slow.sum().cast(pl.Int64).alias("slow"))
            .collect(engine="streaming")
            .cast(_MINUTES_SCHEMA))  # type: ignore[arg-type]


def per_version_counts(minutes: pl.DataFrame, grid: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Requests and errors per minute of ``grid`` and version, from :func:`minute_counts`."""
    size = max(grid.size - 1, 0)
    out = {}
    for (version,), part in minutes.partition_by("model_version", as_dict=True).items():
        idx = (part.get_column("_m").to_numpy() - int(grid[0])) // MIN_US
        keep = (idx >= 0) & (idx < size)
        n = np.bincount(idx[keep], weights=part.get_column("requests").to_numpy()[keep], minlength=size)
        e = np.bincount(idx[keep], weights=part.get_column("errors").to_numpy()[keep], minlength=size)
        out[str(version)] = (n.astype(np.float64), e.astype(np.float64))
    return out


@dataclass(frozen=True)
class CountState:
    """Mergeable counts of some request rows (see the module doc).

    ``minutes``: :func:`minute_counts`; ``latency``: a one-minute :class:`WindowState` of
    the whole fleet; ``business``: hourly business counts, or None without a
    ``confidence`` column; ``corrections``: whether a ``corrected_label`` column was seen.
    """

    minutes: pl.DataFrame
    latency: WindowState
    business: pl.DataFrame | None = None
    corrections: bool = False

    @property
    def empty(self) -> bool:
        """True when the state holds no request."""
        return self.minutes.height == 0

    @property
    def last_us(self) -> int | None:
        """Start (µs) of the newest minute with a request, or None."""
        return None if self.empty else int(self.minutes.get_column("_m").max())  # type: ignore[arg-type]

    def merge(self, other: CountState) -> CountState:
        """The state of both inputs' rows (exact: counts add, sketches merge)."""
        return CountState.merge_all([self, other])

    @staticmethod
    def merge_all(states: Sequence[CountState]) -> CountState:
        """Merge many states at once."""
        minutes = (pl.concat([s.minutes for s in states])
                   .group_by("_m", "model_version").agg(pl.col(c).sum() for c in _MINUTE_COUNTS)
                   .sort("_m", "model_version"))
        biz = [s.business for s in states if s.business is not None]
        business = None
        if biz:
            from obskit.analyze.business import business_rates

            business = (pl.concat(biz, how="diagonal_relaxed").group_by("window_start")
                        .agg(pl.col(c).sum() for c in _BUSINESS_COUNTS)
                        .with_columns(business_rates()).sort("window_start"))
        return CountState(minutes, WindowState.merge_all([s.latency for s in states]), business,
                          any(s.corrections for s in states))

    def between(self, first_us: int | None = None, end_us: int | None = None) -> CountState:
        """Only the minutes in ``[first_us, end_us)`` (hours: those that overlap it).

        A watcher keeps the minutes of its horizon (``first_us``) and evaluates the complete
        ones (``end_us``).
        """
        def keep(col: pl.Expr, hours: bool = False) -> pl.Expr:
            cond = pl.lit(True)
            if first_us is not None:
                lo = first_us // (60 * MIN_US) * 60 * MIN_US if hours else first_us
                cond = cond & (col >= lo)
            if end_us is not None:
                cond = cond & (col < end_us)
            return cond

        t = pl.col("window_start").dt.epoch("us")
        lat = self.latency
        latency = WindowState(
            lat.every_s, lat.by, type(lat.counts)(lat.counts.keys, lat.counts.frame.filter(keep(t))),
            type(lat.latency)(lat.latency.keys, lat.latency.buckets.filter(keep(t)),
                              lat.latency.summary.filter(keep(t)), lat.latency.alpha, lat.latency.min_value),
            lat.present)
        business = None if self.business is None else self.business.filter(keep(t, hours=True))
        return CountState(self.minutes.filter(keep(pl.col("_m"))), latency, business, self.corrections)


def count_state(lf: pl.LazyFrame, *, slo_ms: float | None = None, confidence_threshold: float = 0.8) -> CountState:
    """The :class:`CountState` of a lazy canonical ``requests`` frame (streaming passes, bounded memory)."""
    from obskit.analyze.business import business_metrics

    names = set(lf.collect_schema().names())
    timed = lf.filter(pl.col("timestamp").is_not_null())
    business = None
    if "confidence" in names:
        business = business_metrics(timed, every="1h", confidence_threshold=confidence_threshold)
    return CountState(minute_counts(timed, slo_ms=slo_ms), frame_window_state(timed, every="1m", by=()),
                      business, "corrected_label" in names)


def count_state_of(period: Rollup) -> CountState | None:
    """The :class:`CountState` a one-minute :class:`~obskit.scale.rollup.Rollup` of the rows holds, or None.

    The report's window state (:meth:`obskit.session.Session.window_state`) counts what
    :func:`count_state` would count in its own passes (per minute and version: requests,
    errors, successful and slow successful requests; one-minute latency sketches; hourly
    business counts), so the alerts at scale read it instead of reading the rows again.
    None when its windows are not one minute.
    """
    st = period.state
    if st.every_s != 60:
        return None
    version = (pl.col("model_version").cast(pl.String).fill_null("") if "model_version" in st.by
               else pl.lit("")).alias("model_version")
    slow = pl.col("slow") if "slow" in st.present else pl.lit(0, pl.Int64)
    minutes = (st.counts.frame.filter(pl.col("window_start").is_not_null())
               .select(pl.col("window_start").dt.epoch("us").alias("_m"), version, "requests", "errors", "ok",
                       slow.alias("slow"))
               .group_by("_m", "model_version").agg(pl.col(c).sum() for c in _MINUTE_COUNTS)
               .sort("_m", "model_version").cast(_MINUTES_SCHEMA))  # type: ignore[arg-type]
    fleet = period.coarsen("1m", by=()).state
    business = period.coarsen("1h", by=()).business() if "answered" in st.present else None
    return CountState(minutes, fleet, business, "corrected" in st.present)


def label_minutes(period: Rollup) -> pl.DataFrame | None:
    """Per minute, the successful requests (``answers``) and those corrected quickly (``quick``), or None.

    What :func:`obskit.alerts.model_signals.label_arrival_counts` reads, from a one-minute
    :class:`~obskit.scale.rollup.Rollup` whose rows carried ``corrected_at`` (the counter
    ``quick_corrections``, corrections within
    :data:`~obskit.scale.streaming.QUICK_LABEL_MIN` minutes); None otherwise.
    """
    st = period.state
    if st.every_s != 60 or "quick_corrections" not in st.present:
        return None
    return (st.counts.frame.filter(pl.col("window_start").is_not_null())
            .group_by(pl.col("window_start").dt.epoch("us").alias("_m"))
            .agg(pl.col("ok").sum().cast(pl.Float64).alias("answers"),
                 pl.col("quick_corrections").sum().cast(pl.Float64).alias("quick"))
            .sort("_m"))


def count_signal_frames(state: CountState, *, start: datetime | None = None, end: datetime | None = None,
                        slo_ms: float | None = None,
                        off_minute: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """The count-determined signal frames of ``state`` over the period ``[start, end)``.

    ``off_minute``: :func:`minute_counts` with the period's own minute offset, for a period
    that does not start on a clock minute (the baselines count minutes from its start).
    """
    from obskit.analyze.serving import quantile_column

    minutes = state.minutes
    if minutes.height == 0:
        return {}
    m = minutes.get_column("_m").to_numpy()
    grid = minute_grid_between(int(m.min()), int(m.max()), start, end)
    per_version = per_version_counts(minutes if off_minute is None else off_minute, grid)
    minutes = minutes.with_columns(pl.col("_m").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
                                   .alias("window_start"))
    fleet = (minutes.group_by("window_start").agg(pl.col(*_MINUTE_COUNTS).sum())
             .sort("window_start"))
    names = [quantile_column(q) for q in _QUANTILES]
    stats = state.latency.finish(_QUANTILES).select("window_start", *names)
    ws = fleet.join(stats, on="window_start", how="left").with_columns(
        (pl.col("errors") / pl.col("requests")).alias("error_rate"), (pl.col("requests") / 60.0).alias("rps"))
    zero = np.zeros(max(grid.size - 1, 0))
    frames = {
        "window_stats": zero_filled(ws.select("window_start", "requests", "errors", "error_rate", "rps", *names),
                                    grid if end is None else grid[:-1]),
        "traffic_ratio": traffic_ratio_counts(grid, sum((n for n, _ in per_version.values()), zero)),
        "error_excess": error_excess_counts(grid, per_version),
        "version_error_ratio": version_error_ratio_counts(grid, per_version),
    }
    if (state.minutes.get_column("model_version") != "").any():  # (rules with by = ["model_version"])
        full = grid if end is not None else np.append(grid, grid[-1] + MIN_US)
        frames["window_stats_by_version"] = version_window_stats(
            full, per_version_counts(minutes if off_minute is None else off_minute, full))
    if slo_ms is not None:
        frames["latency_slo"] = fleet.select("window_start", "ok", "slow",
                                             (pl.col("slow") / pl.col("ok")).alias("slow_share"))
    if state.business is not None:
        business = state.business
        if not state.corrections:  # no feedback joined to these rows: no correction counts
            business = business.drop("corrections", "corrected_confident", "correction_rate", "any_correction_rate",
                                     strict=False)
        frames["business"] = business
    return frames
