"""The explorer's data layer over a lazy scan: a day of 100M requests without holding its rows.

:class:`ScaledExplorerData` has the interface of :class:`~obskit.explorer.data.ExplorerData`
(the tabs and the app cannot tell them apart) but reads its rows only in a few polars
streaming passes at load, and keeps:

- **per window and ``(model, version)``**: exact counts (requests, errors, the business
  counts) and a latency sketch (:class:`~obskit.scale.streaming.WindowState`). Counts and
  sketches add up, so any selection of versions is a sum over a few thousand rows, never a
  re-scan; percentiles are within the sketch's relative error (0.5 %), and the traffic
  chart says so;
- **the drill-down rows**: the ``top`` slowest, least confident and first failed requests
  of every window and group (found by a per-window histogram, then one filtering pass, so
  the tables are the same as in memory), and every corrected request (the flywheel's
  candidates);
- **failures per window, group, status code and message** (the errors tab's table);
- **a systematic sample** of at most ``sample_rows`` rows for drift (the drift tab says so).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> req = pl.LazyFrame({"timestamp": [t0 + timedelta(minutes=m) for m in range(30)],
...                     "request_id": [f"r{m}" for m in range(30)], "model": "m",
...                     "model_version": ["a", "b"] * 15, "latency_ms": [10.0] * 30, "status": ["ok"] * 30})
>>> data = ScaledExplorerData(req, every="5m")
>>> data.set_range("2026-01-01T00:10:00Z", "2026-01-01T00:20:00Z")
>>> data.set_versions(["a"])
>>> data.totals()[0]
5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import polars as pl

from obskit.analyze.business import BUSINESS_COUNTS, business_metrics, business_rates
from obskit.analyze.timeline import timeline_from_windows
from obskit.errors import AnalysisError
from obskit.explorer.data import DRILL_COLUMNS, GROUP, ExplorerData, Key, Progress, _quiet, by_message
from obskit.scale.rollup import Rollup
from obskit.scale.sketches import DEFAULT_ALPHA
from obskit.scale.streaming import WindowState, frame_window_state
from obskit.timeutil import parse_duration, polars_every

__all__ = ["SAMPLE_ROWS", "ScaledExplorerData"]

#: Rows of the systematic sample drift reads.
SAMPLE_ROWS = 1_000_000
_KEYS = ["_win", *GROUP]
_LAT_STEP = math.log1p(0.01)  # latency histogram bins 1 % wide: a few hundred per window
_CONF_BINS = 1000
_FAILED = pl.col("status").cast(pl.String) == "error"
_ANSWERED = (pl.col("status").cast(pl.String) == "ok") & pl.col("confidence").is_not_null()


def _streaming(lf: pl.LazyFrame) -> pl.DataFrame:
    return lf.collect(engine="streaming")


class ScaledExplorerData(ExplorerData):
    """:class:`~obskit.explorer.data.ExplorerData` over a lazy ``requests`` scan, in bounded memory.

    Parameters
    ----------
    requests
        A lazy canonical ``requests`` frame (e.g. :func:`obskit.load.request_source.canonical_scan`
        of hive-partitioned parquet), already cut to the period.
    sample_rows
        Rows of the systematic sample drift reads (every k-th request).
    reference, gpu, every, features, confidence_threshold, drift_every, top, on_progress
        As in :class:`~obskit.explorer.data.ExplorerData`.
    """

    latency_method = f"sketch, within {DEFAULT_ALPHA:.1%}"

    def __init__(self, requests: pl.LazyFrame, *, reference: pl.DataFrame | None = None,
                 gpu: pl.DataFrame | None = None, every: str = "5m", features: Sequence[str] | None = None,
                 confidence_threshold: float = 0.8, drift_every: str = "1h", top: int = 20,
                 on_progress: Progress | None = None, sample_rows: int = SAMPLE_ROWS) -> None:
        tick = on_progress or (lambda _what: None)
        names = requests.collect_schema().names()
        missing = [c for c in ("timestamp", "latency_ms", "status", "model_version") if c not in names]
        if missing:
            raise AnalysisError(f"explore: requests scan lacks {', '.join(missing)}")
        self.every = every
        self.drift_every = drift_every
        self.confidence_threshold = confidence_threshold
        self.top = top
        self.busy = _quiet
        lf = requests if "model" in names else requests.with_columns(pl.lit("").alias("model"))
        self._lf = lf.with_columns(pl.col(*GROUP).cast(pl.String))

        tick("counting requests per window and version (one streaming pass)")
        self.state = frame_window_state(self._lf, every=every, by=GROUP, confidence_threshold=confidence_threshold)
        counts = self.state.counts.frame
        self.n_requests = int(counts.get_column("requests").sum())
        if not self.n_requests:
            raise AnalysisError("explore: the requests scan is empty")
        self._setup(names if "model" in names else [*names, "model"],
                    counts.select(*GROUP).unique().sort(list(GROUP)).rows(), reference, gpu, features)
        self._cache: dict[str, dict[Key, pl.DataFrame]] = {"stats": {}, "errors": {}, "business": {}}
        self._fns = {}
        tick("business counts per window")
        self._business = self._business_counts()
        if self._business is None:
            del self._cache["business"]
        tick("version traffic")
        self.versions_frame = (
            counts.group_by("window_start", "model_version").agg(pl.col("requests").sum())
            .with_columns((pl.col("requests") / pl.col("requests").sum().over("window_start")).alias("share"))
            .sort("window_start", "model_version")
        )
        tick("drill-down subsets and failures (two streaming passes)")
        self._drilldowns()
        tick("a sample for drift")
        self._sample = self._read_sample(sample_rows)
        tick("per-window analyses of each version")
        for key in [*(frozenset({pair}) for pair in self.pairs), self.all]:
            for name in self._cache:
                self._cache[name][key] = self._compute(name, key)
        self._finish_setup()

    # ------------------------------------------------------------------ load
    def _business_counts(self) -> pl.DataFrame | None:
        if not self.has_confidence:
            return None
        with pl.Config(engine_affinity="streaming"):
            out = business_metrics(self._lf, self.every, confidence_threshold=self.confidence_threshold, by=GROUP)
        return out

    def _drilldowns(self) -> None:
        """The top rows of every window and group, in two passes: histograms give each group's cut, then one filter."""
        step_us = int(parse_duration(self.every).total_seconds() * 1_000_000)
        win = (pl.col("timestamp").dt.epoch("us") // step_us).alias("_win")
        lat = pl.col("latency_ms").cast(pl.Float64).fill_nan(None)
        lat_bin = pl.when(lat > 0).then((lat.log() / _LAT_STEP).floor()).otherwise(
            pl.when(lat.is_not_null()).then(pl.lit(-1e9))).cast(pl.Int64)
        sec_bin = pl.col("timestamp").dt.epoch("s")
        bins: dict[str, tuple[pl.Expr, pl.Expr, bool]] = {
            "_slow": (lat_bin, pl.lit(True), True),
            "_fail": (sec_bin, _FAILED, False),
        }
        if self.has_confidence:
            conf_bin = (pl.col("confidence").cast(pl.Float64) * _CONF_BINS).floor().cast(pl.Int64)
            bins["_low"] = (conf_bin, _ANSWERED, False)
        lf = self._lf.with_columns(win)
        group = [c for c in ("status_code", "error") if c in self.columns]
        failures = (  # every failure per window, group, code and message: collected in the same pass
            self._lf.filter(_FAILED.fill_null(False))
            .select(pl.col("timestamp").dt.truncate(polars_every(self.every)).alias("window_start"), *GROUP, *group)
            .group_by("window_start", *GROUP, *group).agg(pl.len().cast(pl.Int64).alias("requests"))
        )
        *hists, self._failures = pl.collect_all(
            [*(lf.filter(cond.fill_null(False)).select(*_KEYS, b.alias("_bin")).drop_nulls("_bin")
               .group_by(*_KEYS, "_bin").agg(pl.len().alias("_n")) for b, cond, _ in bins.values()), failures],
            engine="streaming",
        )
        cuts: pl.DataFrame | None = None
        for (name, (_, _, descending)), hist in zip(bins.items(), hists, strict=True):
            cut = _cut(hist, name, self.top, descending=descending)
            cuts = cut if cuts is None else cuts.join(cut, on=_KEYS, how="full", coalesce=True, nulls_equal=True)
        assert cuts is not None
        keep = [(lat_bin >= pl.col("_slow")), _FAILED & (sec_bin <= pl.col("_fail"))]
        if self.has_confidence:
            keep.append(_ANSWERED & (bins["_low"][0] <= pl.col("_low")))
        if "corrected_label" in self.columns:
            keep.append(pl.col("corrected_label").is_not_null())
        found = _streaming(
            lf.join(cuts.lazy(), on=_KEYS, how="left", nulls_equal=True)
            .filter(pl.any_horizontal([k.fill_null(False) for k in keep]))
            .with_columns((lat_bin >= pl.col("_slow")).fill_null(False).alias("_is_slow"))
        )
        cols = [c for c in DRILL_COLUMNS if c in self.columns] + ["model"]
        picked = found.lazy().select(*cols, "_win")
        self.slow = self._top_rows(found.lazy().filter(pl.col("_is_slow")).select(*cols, "_win"),
                                   pl.col("latency_ms"), descending=True)
        self.failed = self._top_rows(picked.filter(_FAILED), pl.col("timestamp"), descending=False).sort(
            "timestamp", maintain_order=True)
        if self.has_confidence:
            self.lowconf = self._top_rows(picked.filter(_ANSWERED), pl.col("confidence"), descending=False)
        else:
            self.lowconf = found.clear().select(cols)
        if "corrected_label" in self.columns:
            self.corrected = found.filter(pl.col("corrected_label").is_not_null()).drop(
                "_win", "_slow", "_fail", "_low", "_is_slow", strict=False)
        else:
            self.corrected = found.clear().drop("_win", "_slow", "_fail", "_low", "_is_slow", strict=False)
        self.failed_note = (f"At this volume the table holds the first {self.top} failed requests of each "
                            f"{self.every} window and version; the counts above are of every failure.")

    def _read_sample(self, size: int) -> pl.DataFrame:
        step = max(1, -(-self.n_requests // max(size, 1)))
        cols = ["timestamp", *GROUP, *[c for c in self.features if c not in ("timestamp", *GROUP)]]
        out = _streaming(self._lf.select(cols).with_row_index("__row").filter(pl.col("__row") % step == 0)
                         .drop("__row")).sort("timestamp", maintain_order=True)
        if step > 1:
            self.sample_note = (f"Drift at this volume is computed on a systematic sample: every {step:,}th "
                                f"request ({out.height:,} of {self.n_requests:,}).")
        return out

    # ------------------------------------------------------------------ per-window analyses
    def _compute(self, name: str, key: Key) -> pl.DataFrame:
        if name == "stats":
            return self._stats(key)
        if name == "errors":
            step = self.state.every_s
            return (self._sum(self.state.counts.frame, key, ["requests", "errors"])
                    .with_columns((pl.col("window_start") + pl.duration(seconds=step)).alias("window_end"),
                                  (pl.col("errors") / pl.col("requests")).alias("error_rate"))
                    .select("window_start", "window_end", "requests", "errors", "error_rate"))
        if name == "business":
            if self._business is None:
                raise AnalysisError("the requests have no confidence column")
            fix = "corrected_label" in self.columns
            out = self._sum(self._business, key, list(BUSINESS_COUNTS)).with_columns(
                *[pl.lit(None, pl.Int64).alias(c) for c in ("corrections", "corrected_confident") if not fix])
            return out.with_columns(business_rates()).select(
                [c for c in self._business.columns if c not in GROUP])
        raise AnalysisError(f"unknown per-window analysis {name!r}")

    def _sum(self, frame: pl.DataFrame, key: Key, counts: list[str]) -> pl.DataFrame:
        part = frame if key == self.all else frame.filter(self.key_expr(key))
        return part.group_by("window_start").agg(pl.col(c).sum().cast(pl.Int64) for c in counts).sort("window_start")

    def _stats(self, key: Key) -> pl.DataFrame:
        empty = pl.DataFrame(schema={"window_start": pl.Datetime("us", "UTC"), "model": pl.String,
                                     "model_version": pl.String, "error": pl.String, "count": pl.Int64})
        rollup = Rollup(self.state, empty)
        if key != self.all:
            rollup = rollup.where(self.key_expr(key))
        state: WindowState = rollup.coarsen(self.every, by=()).state
        return state.finish().drop("confident", "corrected")

    # ------------------------------------------------------------------ rows (drill-downs, the sample)
    def rows(self) -> pl.DataFrame:
        """The sampled requests of the current range and selection (all of them when the sample is every row)."""
        return self.in_selection(self._sample)

    def _drift_rows(self) -> pl.DataFrame:
        return self._sample

    def failure_counts(self) -> pl.DataFrame:
        """Failed requests of the range and selection per ``status_code`` and ``error`` (every failure)."""
        part = self.in_range(self._failures)
        return by_message(part if self.selection == self.all else part.filter(self.key_expr(self.selection)))

    def _timeline_of(self, key: Key, drift: pl.DataFrame | None) -> pl.DataFrame:
        """The one timeline of the groups ``key`` from the counts and sketches."""
        stats = self._full("stats", key).select("window_start", "requests", "error_rate", "p99_ms")
        if self._business is not None:
            biz = self._full("business", key).select("window_start", "answered", "confident", "corrected_confident")
            windows = stats.join(biz, on="window_start", how="left")
        else:
            windows = stats.with_columns(pl.lit(None, pl.Int64).alias(c)
                                         for c in ("answered", "confident", "corrected_confident"))
        return timeline_from_windows(windows, self.gpu, drift, self.every, host=self.host)


def _cut(hist: pl.DataFrame, name: str, top: int, *, descending: bool) -> pl.DataFrame:
    """Per window and group, the histogram bin where the count from the extreme end reaches ``top`` (or the last)."""
    ordered = hist.sort([*_KEYS, "_bin"], descending=[False] * len(_KEYS) + [descending], nulls_last=True)
    ordered = ordered.with_columns(pl.col("_n").cum_sum().over(_KEYS).alias("_cum"))
    reached = ordered.filter((pl.col("_cum") >= top) | (pl.col("_cum") == pl.col("_cum").max().over(_KEYS)))
    pick: Any = pl.col("_bin").max() if descending else pl.col("_bin").min()
    return reached.group_by(_KEYS).agg(pick.alias(name))
