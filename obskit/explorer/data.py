"""The explorer's data layer: precomputed windows, the selection, drill-down subsets — no widgets.

:class:`ExplorerData` calls the per-window analyses **once** at load, on all requests, both
overall and per ``(model, model_version)`` group. Their windows are independent, so the
result for a time range that starts and ends on window boundaries is the rows of those
windows: a re-filter reads a few hundred precomputed rows instead of re-scanning millions
of requests. A selection of several (but not all) groups is computed once from the rows the
first time it is asked for, then cached. Drill-down tables read small precomputed subsets
(the ``top`` slowest and least confident requests of each window and group, which contain
the ``top`` of any range; all failed and all corrected requests).

Everything here is plain Python and polars, testable without a kernel or widgets.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> req = pl.DataFrame({"timestamp": [t0 + timedelta(minutes=m) for m in range(30)], "request_id": list("x" * 30),
...                     "model": "m", "model_version": ["a", "b"] * 15, "latency_ms": [10.0] * 30,
...                     "status": ["ok"] * 30})
>>> data = ExplorerData(req, every="5m")
>>> data.set_range("2026-01-01T00:10:00Z", "2026-01-01T00:20:00Z")
>>> f"{data.start:%H:%M} – {data.end:%H:%M}"
'00:10 – 00:20'
>>> data.set_versions(["a"])
>>> data.rows().height
5
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from obskit.analyze.business import business_metrics
from obskit.analyze.drift import column_drift, drift_over_time, drift_score
from obskit.analyze.errors import error_rate
from obskit.analyze.gpu import gpu_stats, memory_pressure
from obskit.analyze.serving import window_stats
from obskit.analyze.timeline import one_timeline
from obskit.analyze.versions import version_traffic
from obskit.errors import AnalysisError
from obskit.timeutil import parse_duration, parse_time

__all__ = ["CANONICAL", "DRILL_COLUMNS", "ExplorerData", "Key", "by_message", "to_datetime"]

GROUP = ("model", "model_version")
CANONICAL = {
    "timestamp", "request_id", "model", "model_version", "latency_ms", "status", "status_code", "error",
    "prediction", "confidence", "label", "corrected_label", "corrected_at",
}
DRILL_COLUMNS = (
    "timestamp", "request_id", "model_version", "latency_ms", "status", "status_code", "error", "prediction",
    "confidence", "corrected_label",
)

Key = frozenset[tuple[str, str]]
Progress = Callable[[str], None]
Busy = Callable[[str], contextlib.AbstractContextManager[Any]]


def to_datetime(value: Any) -> datetime:
    """A UTC datetime from a datetime, epoch milliseconds (a brushed chart) or an ISO string."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
    return parse_time(str(value))


@contextlib.contextmanager
def _quiet(_what: str) -> Iterator[None]:
    yield


class ExplorerData:
    """Precomputed per-window analyses and the current selection (range, model, versions).

    Parameters
    ----------
    requests
        A canonical ``requests`` frame (``timestamp``, ``latency_ms``, ``status``,
        ``model_version``).
    reference, gpu
        Optional: the training set (drift) and the ``gpu`` frame (GPU tab, timeline).
    every
        Window length of every per-window analysis and of the range steps.
    features
        Feature columns for drift and the flywheel (default: the reference's columns the
        requests also have, less the canonical ones).
    confidence_threshold
        A prediction at or above it is confident.
    drift_every
        Window length of drift over time.
    top
        Rows kept per window and group for the drill-down tables.
    on_progress
        Called with a short text before each load step.
    """

    steps = 7
    #: How the latency percentiles were computed (the traffic tab's chart title says it).
    latency_method = "exact"
    #: Said under the drift tab when drift reads a sample of the rows (empty: all rows).
    sample_note = ""
    #: Said under the failed-requests table when it holds only some failures (empty: all).
    failed_note = ""
    #: Host CPU and memory samples (:mod:`obskit.load.host`) drawn on the timeline, or None.
    host: pl.DataFrame | None = None

    def __init__(self, requests: pl.DataFrame, *, reference: pl.DataFrame | None = None,
                 gpu: pl.DataFrame | None = None, every: str = "5m", features: Sequence[str] | None = None,
                 confidence_threshold: float = 0.8, drift_every: str = "1h", top: int = 20,
                 on_progress: Progress | None = None) -> None:
        missing = [c for c in ("timestamp", "latency_ms", "status", "model_version") if c not in requests.columns]
        if missing:
            raise AnalysisError(f"explore: requests frame lacks {', '.join(missing)}")
        if requests.is_empty():
            raise AnalysisError("explore: the requests frame is empty")
        tick = on_progress or (lambda _what: None)
        self.every = every
        self.drift_every = drift_every
        self.confidence_threshold = confidence_threshold
        self.top = top
        self.busy: Busy = _quiet

        tick("sorting requests")
        req = requests if "model" in requests.columns else requests.with_columns(pl.lit("").alias("model"))
        req = req.with_columns(pl.col("model", "model_version").cast(pl.String))
        self.requests = req if req.get_column("timestamp").is_sorted() else req.sort("timestamp", maintain_order=True)
        self._ts = self.requests.get_column("timestamp").dt.epoch("us").to_numpy()
        self._setup(self.requests.columns, self.requests.select(*GROUP).unique().sort(list(GROUP)).rows(),
                    reference, gpu, features)

        self._cache: dict[str, dict[Key, pl.DataFrame]] = {}
        self._fns: dict[str, Callable[[pl.DataFrame | pl.LazyFrame, Sequence[str]], pl.DataFrame]] = {}
        tick("latency percentiles per window")
        self._precompute("stats", lambda lf, by: window_stats(lf, every=every, by=by))
        tick("errors per window")
        self._precompute("errors", lambda lf, by: error_rate(lf, every, by=by))
        tick("business metrics per window")
        if self.has_confidence:
            self._precompute("business", lambda lf, by: business_metrics(
                lf, every, confidence_threshold=confidence_threshold, by=by))
        tick("version traffic")
        self.versions_frame = version_traffic(self.requests, every)
        tick("drill-down subsets")
        self._precompute_drilldowns()
        tick("GPU")
        self._finish_setup()

    def _setup(self, columns: Sequence[str], pairs: Sequence[tuple[Any, Any]], reference: pl.DataFrame | None,
               gpu: pl.DataFrame | None, features: Sequence[str] | None) -> None:
        """The attributes every data layer has: columns, groups, features, the reference and GPU frames."""
        self.columns = frozenset(columns)
        self.reference = reference
        self.gpu = gpu
        ref_cols = [] if reference is None else list(reference.columns)
        if features is None:
            features = [c for c in ref_cols if c in self.columns and c not in CANONICAL]
        self.features: list[str] = [f for f in features if f in self.columns]
        self.drift_features = [f for f in self.features if f in ref_cols]
        self.pairs: list[tuple[str, str]] = [(str(m), str(v)) for m, v in pairs]
        self.all: Key = frozenset(self.pairs)
        self.has_confidence = "confidence" in self.columns

    def _finish_setup(self) -> None:
        """The GPU frames, the lazy caches, the window bounds and a full selection."""
        self.gpu_stats = gpu_stats(self.gpu, self.every) if self.gpu is not None and self.gpu.height else None
        self.gpu_pressure = memory_pressure(self.gpu) if self.gpu is not None and self.gpu.height else None
        self._cache["timeline"] = {}
        self._cache["drift_time"] = {}
        self._drift_cache: dict[tuple[Key, int, int], pl.DataFrame] = {}
        all_stats = self._cache["stats"][self.all]
        first = all_stats.get_column("window_start").min()
        last = all_stats.get_column("window_start").max()
        assert isinstance(first, datetime) and isinstance(last, datetime)
        self.step = parse_duration(self.every)
        n = int((last - first) / self.step) + 1
        self.bounds: list[datetime] = [first + i * self.step for i in range(n + 1)]
        self.lo, self.hi = 0, n
        self.model: str | None = None
        self.picked: tuple[str, ...] = ()

    # ------------------------------------------------------------------ precomputation
    def _precompute(self, name: str, fn: Callable[[pl.DataFrame | pl.LazyFrame, Sequence[str]], pl.DataFrame]) -> None:
        # One call per (model, version) on its rows (a filter is a cheap scan; polars'
        # grouped exact quantiles over string keys cost more), and one over everything.
        self._fns[name] = fn
        self._cache[name] = {}
        for key in [*(frozenset({pair}) for pair in self.pairs), self.all]:
            self._cache[name][key] = self._compute(name, key)

    def _compute(self, name: str, key: Key) -> pl.DataFrame:
        """The per-window analysis ``name`` of the groups ``key``, over every window."""
        rows = self.requests if key == self.all else self.requests.lazy().filter(self.key_expr(key))
        return self._fns[name](rows, ())

    def _full(self, name: str, key: Key) -> pl.DataFrame:
        """The cached per-window analysis ``name`` of ``key`` over every window (computed the first time)."""
        cache = self._cache[name]
        if key not in cache:
            with self.busy(f"computing {name} for the selected versions"):
                cache[key] = self._compute(name, key)
        return cache[key]

    def _precompute_drilldowns(self) -> None:
        step_us = int(parse_duration(self.every).total_seconds() * 1_000_000)
        win = (pl.col("timestamp").dt.epoch("us") // step_us).alias("_win")
        cols = [c for c in DRILL_COLUMNS if c in self.requests.columns] + ["model"]
        lf = self.requests.lazy().select(*cols, win)
        # The `top` slowest of any range are among the `top` slowest of its windows and groups:
        # keep the rows at or above each window and group's `top`-th largest latency.
        self.slow = self._top_rows(lf, pl.col("latency_ms"), descending=True)
        err = pl.col("status").cast(pl.String) == "error"
        self.failed = self.requests.filter(err).select(cols)
        if self.has_confidence:
            answered = (pl.col("status").cast(pl.String) == "ok") & pl.col("confidence").is_not_null()
            self.lowconf = self._top_rows(lf.filter(answered), pl.col("confidence"), descending=False)
        else:
            self.lowconf = self.requests.clear().select(cols)
        if "corrected_label" in self.requests.columns:
            self.corrected = self.requests.filter(pl.col("corrected_label").is_not_null())
        else:
            self.corrected = self.requests.clear()

    def _top_rows(self, lf: pl.LazyFrame, value: pl.Expr, *, descending: bool) -> pl.DataFrame:
        """Rows whose ``value`` is among the ``top`` largest (smallest) of their window and group."""
        cut = value.top_k(self.top).min() if descending else value.bottom_k(self.top).max()
        keep = value >= pl.col("_cut") if descending else value <= pl.col("_cut")
        parts = []
        for pair in self.pairs:
            sub = lf.filter(self.key_expr(frozenset({pair})))
            bounds = sub.group_by("_win").agg(cut.alias("_cut"))
            parts.append(sub.join(bounds, on="_win", how="inner").filter(keep).drop("_win", "_cut"))
        return pl.concat(pl.collect_all(parts))

    # ------------------------------------------------------------------ selection
    @property
    def start(self) -> datetime:
        """Start of the selected range (a window boundary, UTC)."""
        return self.bounds[self.lo]

    @property
    def end(self) -> datetime:
        """End of the selected range (exclusive; a window boundary, UTC)."""
        return self.bounds[self.hi]

    def versions_of(self, model: str | None) -> list[str]:
        """The versions of ``model`` (None: of every model)."""
        return sorted({v for m, v in self.pairs if model is None or m == model})

    @property
    def selection(self) -> Key:
        """The selected ``(model, model_version)`` pairs."""
        return frozenset(p for p in self.pairs if (self.model is None or p[0] == self.model)
                         and (not self.picked or p[1] in self.picked))

    def snap(self, start: datetime | str | None, end: datetime | str | None) -> tuple[int, int]:
        """Window indices from the one holding ``start`` to the one holding the instant before ``end``."""
        first = self.bounds[0]
        last = len(self.bounds) - 1
        lo, hi = 0, last
        if start is not None:
            lo = int((to_datetime(start) - first) // self.step)
        if end is not None:
            q, r = divmod(to_datetime(end) - first, self.step)
            hi = int(q) + (1 if r > timedelta(0) else 0)
        lo = min(max(lo, 0), last - 1)
        hi = min(max(hi, lo + 1), last)
        return lo, hi

    def set_range(self, start: datetime | str | None = None, end: datetime | str | None = None) -> None:
        """Select the windows covering ``[start, end)`` (None: the first / last window)."""
        self.lo, self.hi = self.snap(start, end)

    def set_model(self, model: str | None) -> None:
        """Keep one model (None: all); the version pick is cleared."""
        if model is not None and model not in {m for m, _ in self.pairs}:
            raise AnalysisError(f"unknown model {model!r}")
        self.model, self.picked = model, ()

    def set_versions(self, versions: Sequence[str] | None) -> None:
        """Keep ``versions`` of the selected model (None or empty: all)."""
        wanted = tuple(versions or ())
        known = self.versions_of(self.model)
        unknown = [v for v in wanted if v not in known]
        if unknown:
            raise AnalysisError(f"unknown version(s) {', '.join(unknown)}; known: {', '.join(known)}")
        self.picked = wanted

    def reset(self) -> None:
        """Every window, every model and version."""
        self.lo, self.hi = 0, len(self.bounds) - 1
        self.model, self.picked = None, ()

    # ------------------------------------------------------------------ filtered results
    def key_expr(self, key: Key) -> pl.Expr:
        """A filter keeping the rows of the ``(model, version)`` pairs in ``key``."""
        if not key:
            return pl.lit(False)
        return pl.any_horizontal([(pl.col("model") == m) & (pl.col("model_version") == v) for m, v in sorted(key)])

    def in_range(self, frame: pl.DataFrame, column: str = "window_start") -> pl.DataFrame:
        """The rows of ``frame`` whose ``column`` falls in the selected range."""
        return frame.filter((pl.col(column) >= self.start) & (pl.col(column) < self.end))

    def in_selection(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Request-level rows of the range and the selected groups."""
        key = self.selection
        out = self.in_range(frame, "timestamp")
        return out if key == self.all else out.filter(self.key_expr(key))

    def windowed(self, name: str) -> pl.DataFrame:
        """A per-window analysis (``stats``, ``errors``, ``business``) of the selection, in the range."""
        return self.in_range(self._full(name, self.selection))

    def rows(self) -> pl.DataFrame:
        """The requests of the current range and selection (a zero-copy slice, then a filter)."""
        return self.rows_between(self.start, self.end)

    def rows_between(self, start: datetime, end: datetime) -> pl.DataFrame:
        """The requests of the selection from ``start`` to ``end`` (a zero-copy slice, then a filter)."""
        lo, hi = np.searchsorted(self._ts, [_us(start), _us(end)], side="left")
        part = self.requests.slice(int(lo), int(hi - lo))
        key = self.selection
        return part if key == self.all else part.filter(self.key_expr(key))

    def corrected_rows(self) -> pl.DataFrame:
        """Corrected requests of the range and selection (the flywheel's candidates)."""
        return self.in_selection(self.corrected)

    def failure_counts(self) -> pl.DataFrame:
        """Failed requests of the range and selection per ``status_code`` and ``error`` message, most first."""
        return by_message(self.in_selection(self.failed).with_columns(pl.lit(1, pl.Int64).alias("requests")))

    def totals(self) -> tuple[int, int, float | None]:
        """Requests, errors and the worst window's p99 of the range and selection."""
        stats = self.windowed("stats")
        if not stats.height:
            return 0, 0, None
        worst = stats.get_column("p99_ms").max() if "p99_ms" in stats.columns else None
        return (int(stats.get_column("requests").sum()), int(stats.get_column("errors").sum()),
                float(worst) if isinstance(worst, float) else None)

    def drift_over_time(self, key: Key) -> pl.DataFrame:
        """Drift per ``drift_every`` window of the groups ``key`` (all windows; cached), with ``drift_score``."""
        cache = self._cache["drift_time"]
        if key not in cache:
            assert self.reference is not None
            with self.busy("computing drift over time"):
                cur = self._drift_rows().lazy().filter(self.key_expr(key)).select(
                    "timestamp", *self.drift_features).collect()
                # drift_score: larger = more drift whatever the test (a KS p-value falls as drift grows)
                cache[key] = (drift_score(drift_over_time(self.reference, cur, every=self.drift_every,
                                                          columns=self.drift_features))
                              if cur.height else pl.DataFrame())
        return cache[key]

    def _drift_rows(self) -> pl.DataFrame:
        """The rows drift reads (all of them here; a sample at scale)."""
        return self.requests

    def range_drift(self) -> pl.DataFrame:
        """Column drift of the selected rows against the reference (cached per selection)."""
        assert self.reference is not None
        rows = self.rows()
        ck = (self.selection, self.lo, self.hi)
        if ck not in self._drift_cache:
            with self.busy(f"drift of {rows.height:,} requests against the reference"):
                self._drift_cache[ck] = column_drift(self.reference, rows.select(self.drift_features),
                                                     columns=self.drift_features)
            if len(self._drift_cache) > 32:
                self._drift_cache.pop(next(iter(self._drift_cache)))
        return self._drift_cache[ck]

    def timeline(self) -> pl.DataFrame:
        """The one timeline of the selection, in the range (cached per selection)."""
        return self.in_range(self.timeline_full())

    def timeline_full(self) -> pl.DataFrame:
        """The one timeline of the selection over the whole period (cached per selection)."""
        key = self.selection
        cache = self._cache.setdefault("timeline", {})
        if key not in cache:
            drift = None
            if self.reference is not None and self.drift_features:
                d = self.drift_over_time(key)
                drift = d if d.height else None
            with self.busy("computing the timeline"):
                cache[key] = self._timeline_of(key, drift)
        return cache[key]

    def timeline_anomalies(self, columns: Sequence[str]) -> pl.DataFrame:
        """:meth:`timeline_full` plus ``<column>_anomaly`` flags (:func:`obskit.analyze.detect.flag_anomalies`).

        Scored over the whole period, so narrowing the range never changes which windows
        are anomalous; cached per selection and columns.
        """
        from obskit.analyze.detect import flag_anomalies

        full = self.timeline_full()
        cols = tuple(c for c in columns if c in full.columns)
        memo: dict[tuple[Key, tuple[str, ...]], pl.DataFrame] = self.__dict__.setdefault("_flagged", {})
        ck = (self.selection, cols)
        if ck not in memo:
            with self.busy("scoring the timeline's anomalies"):
                memo[ck] = flag_anomalies(full, list(cols))
            if len(memo) > 32:  # the oldest selection's goes first
                memo.pop(next(iter(memo)))
        return memo[ck]

    def _timeline_of(self, key: Key, drift: pl.DataFrame | None) -> pl.DataFrame:
        """The one timeline of the groups ``key`` over every window (from their rows here)."""
        return one_timeline(self.requests.lazy().filter(self.key_expr(key)), self.gpu, drift, self.every,
                            confidence_threshold=self.confidence_threshold, host=self.host)


def by_message(failures: pl.DataFrame) -> pl.DataFrame:
    """The ``requests`` column of ``failures`` summed per ``status_code`` and ``error``, most first.

    >>> by_message(pl.DataFrame({"error": ["a", "b", "a"], "requests": [1, 2, 2]})).rows()
    [('a', 3), ('b', 2)]
    """
    group = [c for c in ("status_code", "error") if c in failures.columns]
    if not group:
        return pl.DataFrame({"requests": [int(failures.get_column("requests").sum())]})
    return failures.group_by(group).agg(pl.col("requests").sum().cast(pl.Int64)).sort(
        "requests", *group, descending=[True] + [False] * len(group), nulls_last=True)


def _us(t: datetime) -> int:
    return int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
