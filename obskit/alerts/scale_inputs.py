"""Alert signal frames from request files too large to load: counts, sketches and kept rows, streamed.

At scale the report never loads the request rows. The signals are computed from what
streaming passes over the lazy canonical scan (:func:`obskit.load.request_source.canonical_scan`)
keep, with the functions the in-memory path uses, so the rules fire at the same times:

* counts per minute (:class:`~obskit.alerts.count_state.CountState`): ``window_stats``
  (requests, errors, rps; the ``pXX_ms`` columns from mergeable latency sketches, within
  their stated relative bound, 0.5 % by default), ``latency_slo``, ``traffic_ratio``,
  ``error_excess``, ``version_error_ratio`` and the hourly ``business`` counts: exact;
* the last ``n`` matching rows of each 5-minute interval (:func:`~obskit.alerts.row_tails.tail_rows`):
  ``class_mix_shift``, ``class_takeover``, ``confidence_shift``, ``feature_shift``,
  ``feature_null_share``, the class mix per version, and (per minute) ``latency_ratio``:
  the same values as from every row.

With a feedback source, the corrections are joined as the rows stream (they are few): the
hourly correction counts and ``label_arrival`` (answers and quick corrections per minute,
counted by the caller's window state when it has one) are exact too.

A version's latency against the others' (``versions``) comes from one latency sketch per
minute and version (:mod:`obskit.alerts.version_sketch`): exact counts, quantiles within the
sketch's bound.

The hourly drift tests (``drift_over_time``) need every row of each hour together: with
``drift_every`` (when a rule reads them), one more pass keeps the successful requests'
features by hour (in memory up to a bound, on disk beyond) and tests each hour alone
(:func:`~obskit.scale.windows.drift_by_window`), the frame the rows give. No rule is left unevaluated at scale.

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

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from obskit.alerts.baselines import MIN_US, minute_grid_between
from obskit.alerts.count_state import CountState, count_signal_frames, count_state, minute_counts
from obskit.alerts.inputs import row_signal_frames, testable
from obskit.alerts.model_signals import label_arrival_counts
from obskit.alerts.row_tails import tail_rows
from obskit.alerts.version_sketch import version_latency_tail_scan
from obskit.scale.streaming import QUICK_LABEL_MIN, quick_correction

__all__ = ["scale_signal_frames"]


def scale_signal_frames(lf: pl.LazyFrame, *, start: datetime | None = None, end: datetime | None = None,
                        slo_ms: float | None = None, confidence_threshold: float = 0.8,
                        reference: pl.DataFrame | None = None, features: Sequence[str] = (),
                        drift_every: str | None = None, state: CountState | None = None,
                        plain: pl.LazyFrame | None = None, labels: pl.DataFrame | None = None
                        ) -> dict[str, pl.DataFrame]:
    """The signal frames of a lazy canonical ``requests`` scan that need no full rows (see the module doc).

    Memory grows with minutes x versions x occupied sketch buckets and with the kept rows
    (:func:`~obskit.alerts.row_tails.tail_rows`), never with the period's rows: the scan
    becomes a :class:`~obskit.alerts.count_state.CountState`, the one state ``obskit watch``
    also keeps, and the kept rows; the frames come from them.

    ``state``: that count state when the caller holds it already (one pass fewer); ``plain``:
    the same rows without the corrections joined, for the passes that read no correction;
    ``labels``: the answers and quick corrections per clock minute when the caller's window
    state counted them (:func:`~obskit.alerts.count_state.label_minutes`: one pass fewer).
    """
    rows = lf if plain is None else plain
    if state is None:  # the caller's window state holds it when it has one (one pass over the rows)
        state = count_state(lf, slo_ms=slo_ms, confidence_threshold=confidence_threshold)
    if state.empty:
        return {}
    m = state.minutes.get_column("_m").to_numpy()
    grid = minute_grid_between(int(m.min()), int(m.max()), start, end)
    # the baselines count minutes from the grid's first boundary, exactly as from rows; a period
    # that starts off the clock minute needs its own pass
    offset = int(grid[0]) % MIN_US
    off_minute = minute_counts(rows, slo_ms=slo_ms, offset_us=offset) if offset else None
    frames = count_signal_frames(state, start=start, end=end, slo_ms=slo_ms, off_minute=off_minute)
    tails = tail_rows(rows, first_us=int(grid[0]), features=features)
    first = start or _utc(int(m.min()))
    last = end or _utc(int(m.max()))
    frames.update(row_signal_frames(tails.rows, reference=reference, features=features, start=first, end=last,
                                    latency=tails.latency))
    if "corrected_at" in lf.collect_schema().names():
        if labels is not None and not offset:  # the window state counted them on the same clock minutes
            frames["label_arrival"] = label_arrival_counts(
                grid[::5], labels["_m"].to_numpy(), labels["answers"].to_numpy(), labels["quick"].to_numpy(),
                wait_min=QUICK_LABEL_MIN)
        else:
            frames["label_arrival"] = _label_arrival(lf, grid)
    frames["versions"] = version_latency_tail_scan(rows, every="5m")
    # a feature with any value is among the kept rows: testable there means testable on every row
    cols = [c for c in features if reference is not None and testable(tails.rows, reference, c)] if (
        drift_every is not None) else []
    if drift_every is not None and reference is not None and cols:
        from obskit.scale.windows import drift_by_window

        ok = rows.filter(pl.col("status").cast(pl.String) == "ok")
        frames["drift_over_time"] = drift_by_window(reference, ok, every=drift_every, columns=cols)
    return frames


def _label_arrival(lf: pl.LazyFrame, grid: np.ndarray, wait_min: int = QUICK_LABEL_MIN) -> pl.DataFrame:
    """:func:`~obskit.alerts.model_signals.label_arrival` from answers and quick corrections per grid minute."""
    offset = int(grid[0]) % MIN_US
    t = pl.col("timestamp").dt.epoch("us")
    per_minute = (lf.filter(pl.col("timestamp").is_not_null() & (pl.col("status").cast(pl.String) == "ok"))
                  .group_by(((t - offset) // MIN_US * MIN_US + offset).alias("_m"))
                  .agg(pl.len().cast(pl.Float64).alias("answers"),
                       quick_correction(wait_min).sum().cast(pl.Float64).alias("quick"))
                  .collect(engine="streaming"))
    return label_arrival_counts(grid[::5], per_minute["_m"].to_numpy(), per_minute["answers"].to_numpy(),
                                per_minute["quick"].to_numpy(), wait_min=wait_min)


def _utc(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
