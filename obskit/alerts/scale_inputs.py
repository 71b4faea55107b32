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

import polars as pl

from obskit.alerts.baselines import MIN_US, minute_grid_between
from obskit.alerts.count_state import count_signal_frames, count_state, minute_counts
from obskit.alerts.engine import AlertRun
from obskit.alerts.signals import SIGNALS

__all__ = ["NEED_ROWS", "name_rows_only", "scale_signal_frames"]

#: Frames the signal registry reads that only request rows can give (not built at scale).
NEED_ROWS: frozenset[str] = frozenset({
    "latency_ratio", "versions", "class_mix_shift", "class_takeover", "confidence_shift", "feature_shift",
    "feature_null_share", "label_arrival", "drift_over_time", "version_class_mix", "unseen_class_share",
    "missing_class_share",
    "correction_rate",  # corrections come from the feedback source, joined to the rows in memory
})


def scale_signal_frames(lf: pl.LazyFrame, *, start: datetime | None = None, end: datetime | None = None,
                        slo_ms: float | None = None, confidence_threshold: float = 0.8) -> dict[str, pl.DataFrame]:
    """The count-determined signal frames of a lazy canonical ``requests`` scan (see the module doc).

    Memory grows with minutes x versions x occupied sketch buckets, never with rows: the scan
    becomes a :class:`~obskit.alerts.count_state.CountState`, the one state ``obskit watch``
    also keeps, and the frames come from it.
    """
    state = count_state(lf, slo_ms=slo_ms, confidence_threshold=confidence_threshold)
    if state.empty:
        return {}
    m = state.minutes.get_column("_m").to_numpy()
    grid = minute_grid_between(int(m.min()), int(m.max()), start, end)
    # the baselines count minutes from the grid's first boundary, exactly as from rows; a period
    # that starts off the clock minute needs its own pass
    offset = int(grid[0]) % MIN_US
    off_minute = minute_counts(lf, slo_ms=slo_ms, offset_us=offset) if offset else None
    return count_signal_frames(state, start=start, end=end, slo_ms=slo_ms, off_minute=off_minute)


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
