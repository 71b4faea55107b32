"""The explorer's drill-down rows, found in a few streaming passes over a frame or a lazy scan of any size.

For every window and ``(model, model_version)`` group the explorer keeps the ``top``
slowest requests, the ``top`` least confident answered ones and the first ``top`` failed
ones; the ``top`` of any range of windows and any selection of groups is among them, so the
tables are exact at every size. Every corrected request is kept too (the flywheel's
candidates), and the failures are counted per window, group, status code and message.

The rows are found without sorting the day: one pass counts each window and group's
requests in narrow bins (latency bins 1 % wide, confidence bins 0.001 wide, seconds for
failures), which gives each group's cut; a second pass keeps the rows beyond their group's
cut (a few per window), and the exact ``top`` is taken from those.

Examples
--------
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> req = pl.LazyFrame({"timestamp": [t0 + timedelta(seconds=10 * s) for s in range(60)],
...                     "model": "m", "model_version": "a", "latency_ms": [float(s % 30) for s in range(60)],
...                     "status": ["ok", "error"] * 30})
>>> rows = drill_downs(req, every="5m", top=2)
>>> sorted(rows.slow.get_column("latency_ms").to_list())  # the 2 slowest of each 5-minute window
[28.0, 28.0, 29.0, 29.0]
>>> rows.failed.height, rows.failures.sort("window_start")["requests"].to_list(), rows.failed_kept_all
(4, [15, 15], False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from obskit.timeutil import parse_duration, polars_every

__all__ = ["DRILL_COLUMNS", "GROUP", "DrillDowns", "drill_downs"]

GROUP = ("model", "model_version")
#: The columns the drill-down tables show (those the requests have).
DRILL_COLUMNS = (
    "timestamp", "request_id", "model_version", "latency_ms", "status", "status_code", "error", "prediction",
    "confidence", "corrected_label",
)
_KEYS = ["_win", *GROUP]
_LAT_STEP = math.log1p(0.01)  # latency bins 1 % wide: a few hundred per window
_CONF_BINS = 1000
_FAILED = pl.col("status").cast(pl.String) == "error"
_ANSWERED = (pl.col("status").cast(pl.String) == "ok") & pl.col("confidence").is_not_null()
_HELPERS = ("_win", "_slow", "_fail", "_low", "_is_slow")


@dataclass(frozen=True)
class DrillDowns:
    """The kept rows (``model`` included) and the failure counts of :func:`drill_downs`."""

    slow: pl.DataFrame
    failed: pl.DataFrame
    lowconf: pl.DataFrame
    corrected: pl.DataFrame
    #: Failed requests per ``window_start``, group, ``status_code`` and ``error`` (every failure).
    failures: pl.DataFrame
    #: False when some window and group had more than ``top`` failures (``failed`` holds the first ``top``).
    failed_kept_all: bool


def drill_downs(requests: pl.DataFrame | pl.LazyFrame, *, every: str, top: int) -> DrillDowns:
    """The drill-down rows of every window and group (see the module docstring).

    ``requests`` is canonical, with ``model`` and ``model_version`` as strings.
    """
    lf = requests.lazy()
    columns = set(lf.collect_schema().names())
    confidence = "confidence" in columns
    step_us = int(parse_duration(every).total_seconds() * 1_000_000)
    win = (pl.col("timestamp").dt.epoch("us") // step_us).alias("_win")
    lat = pl.col("latency_ms").cast(pl.Float64).fill_nan(None)
    lat_bin = pl.when(lat > 0).then((lat.log() / _LAT_STEP).floor()).otherwise(
        pl.when(lat.is_not_null()).then(pl.lit(-1e9))).cast(pl.Int64)
    sec_bin = pl.col("timestamp").dt.epoch("s")
    bins: dict[str, tuple[pl.Expr, pl.Expr, bool]] = {
        "_slow": (lat_bin, pl.lit(True), True),
        "_fail": (sec_bin, _FAILED, False),
    }
    if confidence:
        conf_bin = (pl.col("confidence").cast(pl.Float64) * _CONF_BINS).floor().cast(pl.Int64)
        bins["_low"] = (conf_bin, _ANSWERED, False)
    windowed = lf.with_columns(win)
    group = [c for c in ("status_code", "error") if c in columns]
    failures = (  # every failure per window, group, code and message: collected in the same pass
        lf.filter(_FAILED.fill_null(False))
        .select(pl.col("timestamp").dt.truncate(polars_every(every)).alias("window_start"), *GROUP, *group)
        .group_by("window_start", *GROUP, *group).agg(pl.len().cast(pl.Int64).alias("requests"))
    )
    *hists, failures_frame = pl.collect_all(
        [*(windowed.filter(cond.fill_null(False)).select(*_KEYS, b.alias("_bin")).drop_nulls("_bin")
           .group_by(*_KEYS, "_bin").agg(pl.len().alias("_n")) for b, cond, _ in bins.values()), failures],
        engine="streaming",
    )
    cuts: pl.DataFrame | None = None
    for (name, (_, _, descending)), hist in zip(bins.items(), hists, strict=True):
        cut = _cut(hist, name, top, descending=descending)
        cuts = cut if cuts is None else cuts.join(cut, on=_KEYS, how="full", coalesce=True, nulls_equal=True)
    assert cuts is not None
    keep = [(lat_bin >= pl.col("_slow")), _FAILED & (sec_bin <= pl.col("_fail"))]
    if confidence:
        keep.append(_ANSWERED & (bins["_low"][0] <= pl.col("_low")))
    if "corrected_label" in columns:
        keep.append(pl.col("corrected_label").is_not_null())
    found = (windowed.join(cuts.lazy(), on=_KEYS, how="left", nulls_equal=True)
             .filter(pl.any_horizontal([k.fill_null(False) for k in keep]))
             .with_columns((lat_bin >= pl.col("_slow")).fill_null(False).alias("_is_slow"))
             .collect(engine="streaming"))
    cols = [c for c in DRILL_COLUMNS if c in columns] + ["model"]
    picked = found.lazy().select(*cols, "_win")
    order = ["timestamp", *(["request_id"] if "request_id" in columns else [])]
    slow = _top_rows(found.lazy().filter(pl.col("_is_slow")).select(*cols, "_win"), pl.col("latency_ms"), top,
                     descending=True)
    failed = _top_rows(picked.filter(_FAILED), pl.col("timestamp"), top, descending=False).sort(order)
    lowconf = (_top_rows(picked.filter(_ANSWERED), pl.col("confidence"), top, descending=False)
               if confidence else found.clear().select(cols))
    corrected = (found.filter(pl.col("corrected_label").is_not_null()) if "corrected_label" in columns
                 else found.clear()).drop(_HELPERS, strict=False).sort(order)
    most = failures_frame.group_by("window_start", *GROUP).agg(pl.col("requests").sum()).get_column("requests").max()
    kept_all = most is None or int(most) <= top  # type: ignore[arg-type]
    return DrillDowns(slow, failed, lowconf, corrected, failures_frame, kept_all)


def _top_rows(lf: pl.LazyFrame, value: pl.Expr, top: int, *, descending: bool) -> pl.DataFrame:
    """Rows whose ``value`` is among the ``top`` largest (smallest) of their window and group."""
    cut = value.top_k(top).min() if descending else value.bottom_k(top).max()
    keep = value >= pl.col("_cut") if descending else value <= pl.col("_cut")
    bounds = lf.group_by(_KEYS).agg(cut.alias("_cut"))
    return lf.join(bounds, on=_KEYS, how="inner", nulls_equal=True).filter(keep).drop("_win", "_cut").collect()


def _cut(hist: pl.DataFrame, name: str, top: int, *, descending: bool) -> pl.DataFrame:
    """Per window and group, the histogram bin where the count from the extreme end reaches ``top`` (or the last)."""
    ordered = hist.sort([*_KEYS, "_bin"], descending=[False] * len(_KEYS) + [descending], nulls_last=True)
    ordered = ordered.with_columns(pl.col("_n").cum_sum().over(_KEYS).alias("_cum"))
    reached = ordered.filter((pl.col("_cum") >= top) | (pl.col("_cum") == pl.col("_cum").max().over(_KEYS)))
    pick: Any = pl.col("_bin").max() if descending else pl.col("_bin").min()
    return reached.group_by(_KEYS).agg(pick.alias(name))
