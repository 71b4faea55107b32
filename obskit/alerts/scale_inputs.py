"""Alert signal frames from request files too large to load: counts and sketches, streamed.

At scale the report never loads the request rows. The signals that counts per minute
determine are the same numbers as in memory, computed from one streaming ``group_by`` over
the lazy canonical scan (:func:`obskit.load.request_source.canonical_scan`), so the rules
on them fire at the same times:

* ``window_stats`` (requests, errors, rps per minute; the ``pXX_ms`` columns from
  mergeable latency sketches, within their stated relative bound, 0.5 % by default),
* ``latency_slo`` (successful requests and those slower than the SLO, per minute),
* ``traffic_ratio``, ``error_excess`` and ``version_error_ratio`` (requests and errors per
  minute and version, fed to the same functions as the rows' counts),
* ``business`` (hourly answered, confident and corrected counts).

Signals that need the rows themselves (the last 400 answers' p50, a version's tail
quantile, class mix, feature drift, label arrival) are listed in :data:`NEED_ROWS`: their
rules are reported as not evaluated at this volume, each by name.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> lf = pl.LazyFrame({"timestamp": [t0 + timedelta(seconds=i) for i in range(600)],
...                    "model_version": ["v1"] * 600, "latency_ms": [10.0] * 600,
...                    "status": ["ok"] * 590 + ["error"] * 10})
>>> frames = scale_signal_frames(lf, slo_ms=50.0)
>>> frames["window_stats"].select(pl.col("requests").sum(), pl.col("errors").sum()).row(0)
(600, 10)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import polars as pl

from obskit.alerts.baselines import MIN_US, error_excess_counts, minute_grid_between, traffic_ratio_counts
from obskit.alerts.engine import AlertRun
from obskit.alerts.inputs import zero_filled
from obskit.alerts.segment_signals import version_error_ratio_counts
from obskit.alerts.signals import SIGNALS

__all__ = ["NEED_ROWS", "name_rows_only", "scale_signal_frames"]

#: Frames the signal registry reads that only request rows can give (not built at scale).
NEED_ROWS: frozenset[str] = frozenset({
    "latency_ratio", "versions", "class_mix_shift", "class_takeover", "confidence_shift", "feature_shift",
    "feature_null_share", "label_arrival", "drift_over_time", "version_class_mix", "unseen_class_share",
    "missing_class_share",
    "correction_rate",  # corrections come from the feedback source, joined to the rows in memory
})
_QUANTILES = (0.5, 0.9, 0.95, 0.99)


def _per_version(minutes: pl.DataFrame, grid: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Requests and errors per minute of ``grid`` and version, from counts per minute start ``_m`` (µs)."""
    size = max(grid.size - 1, 0)
    out = {}
    for (version,), part in minutes.partition_by("model_version", as_dict=True).items():
        idx = (part.get_column("_m").to_numpy() - int(grid[0])) // MIN_US
        keep = (idx >= 0) & (idx < size)
        n = np.bincount(idx[keep], weights=part.get_column("requests").to_numpy()[keep], minlength=size)
        e = np.bincount(idx[keep], weights=part.get_column("errors").to_numpy()[keep], minlength=size)
        out[str(version)] = (n.astype(np.float64), e.astype(np.float64))
    return out


def scale_signal_frames(lf: pl.LazyFrame, *, start: datetime | None = None, end: datetime | None = None,
                        slo_ms: float | None = None, confidence_threshold: float = 0.8) -> dict[str, pl.DataFrame]:
    """The count-determined signal frames of a lazy canonical ``requests`` scan (see the module doc).

    Memory grows with minutes x versions x occupied sketch buckets, never with rows.
    """
    from obskit.analyze.business import business_metrics
    from obskit.analyze.serving import quantile_column
    from obskit.scale.streaming import frame_window_state

    names = set(lf.collect_schema().names())
    ok = pl.col("status").cast(pl.String) == "ok"
    version = (pl.col("model_version").cast(pl.String).fill_null("") if "model_version" in names
               else pl.lit("")).alias("model_version")
    t_us = pl.col("timestamp").dt.epoch("us")
    slow = (ok & (pl.col("latency_ms") > slo_ms)) if slo_ms is not None else pl.lit(False)
    timed = lf.filter(pl.col("timestamp").is_not_null())

    def by_minute(offset_us: int) -> pl.DataFrame:
        """Counts per (minute, version); minutes start at ``offset_us`` modulo one minute."""
        start_us = ((t_us - offset_us) // MIN_US * MIN_US + offset_us).alias("_m")
        return (timed.group_by(start_us, version)
                .agg(pl.len().cast(pl.Int64).alias("requests"), (~ok).sum().cast(pl.Int64).alias("errors"),
                     ok.sum().cast(pl.Int64).alias("ok"), slow.sum().cast(pl.Int64).alias("slow"))
                .collect(engine="streaming"))

    minutes = by_minute(0)  # clock minutes, as window_stats truncates them
    if minutes.height == 0:
        return {}
    m = minutes.get_column("_m").to_numpy()
    grid = minute_grid_between(int(m.min()), int(m.max()), start, end)
    # the baselines count minutes from the grid's first boundary, exactly as from rows; a period
    # that starts off the clock minute needs its own pass
    offset = int(grid[0]) % MIN_US
    per_version = _per_version(minutes if offset == 0 else by_minute(offset), grid)
    minutes = minutes.with_columns(pl.col("_m").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
                                   .alias("window_start"))
    fleet = (minutes.group_by("window_start").agg(pl.col("requests", "errors", "ok", "slow").sum())
             .sort("window_start"))
    state = frame_window_state(lf, every="1m", by=())
    stats = state.finish(_QUANTILES).select("window_start", *[quantile_column(q) for q in _QUANTILES])
    ws = fleet.join(stats, on="window_start", how="left").with_columns(
        (pl.col("errors") / pl.col("requests")).alias("error_rate"), (pl.col("requests") / 60.0).alias("rps"))
    frames = {
        "window_stats": zero_filled(ws.select("window_start", "requests", "errors", "error_rate", "rps",
                                              *[quantile_column(q) for q in _QUANTILES]),
                                    grid if end is None else grid[:-1]),
        "traffic_ratio": traffic_ratio_counts(grid, sum((n for n, _ in per_version.values()),
                                                         np.zeros(max(grid.size - 1, 0)))),
        "error_excess": error_excess_counts(grid, per_version),
        "version_error_ratio": version_error_ratio_counts(grid, per_version),
    }
    if slo_ms is not None:
        frames["latency_slo"] = fleet.select("window_start", "ok", "slow",
                                             (pl.col("slow") / pl.col("ok")).alias("slow_share"))
    if "confidence" in names:
        business = business_metrics(lf, every="1h", confidence_threshold=confidence_threshold)
        if "corrected_label" not in names:  # feedback is joined in memory only: no correction counts here
            business = business.drop("corrections", "corrected_confident", "correction_rate", "any_correction_rate",
                                     strict=False)
        frames["business"] = business
    return frames


def name_rows_only(run: AlertRun, rows: int) -> AlertRun:
    """``run`` with each rule skipped for want of request rows saying so (``scale = "rows"``), by name.

    The engine says "no 'versions' frame given"; at scale the truth is that the rows were
    not loaded.
    """
    rules = {r.name: r for r in run.rules}
    skipped = []
    for s in run.skipped:
        rule = rules.get(s["rule"])
        sig = SIGNALS.get(rule.signal) if rule is not None else None
        if rule is not None and sig is not None and (sig.frame in NEED_ROWS or rule.signal in NEED_ROWS):
            s = {**s, "scale": "rows",
                 "reason": f"its signal {rule.signal!r} needs the request rows, which are not loaded at this "
                           f"volume ({rows:,} rows): report a shorter period, or run it in Prometheus"}
        skipped.append(s)
    return replace(run, skipped=skipped)
