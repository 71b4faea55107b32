"""The explorer's one data layer: per-window state, the selection, drill-down rows — no widgets, any size.

:class:`ExplorerData` reads a canonical ``requests`` frame **or a lazy scan of one** (a
100M-request day, hive-partitioned parquet) the same way, in a few streaming passes at load:

- **per window and ``(model, version)``**: exact counts (requests, errors, the business
  counts) and a latency sketch (:class:`~obskit.scale.streaming.WindowState`). Counts and
  sketches add up, so any selection of versions is a sum over a few thousand rows, never a
  re-scan, and a time range that starts and ends on window boundaries is the rows of those
  windows. Latency percentiles are exact when the rows are held (a frame) and within the
  sketch's relative error (0.5 %) otherwise; the traffic chart says which;
- **the drill-down rows** (:mod:`obskit.explorer.drill`): the ``top`` slowest, least
  confident and first failed requests of every window and group, which hold the ``top`` of
  any range and selection, every corrected request, and the failures per code and message;
- **the rows drift reads**: every row of a frame; of a scan, a systematic sample of at most
  ``sample_rows`` (the drift tab says so).

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
>>> data.rows().height, data.totals()[0]
(5, 5)
>>> ExplorerData(req.lazy(), every="5m").totals()[0]  # a lazy scan: the same counts
30
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from obskit.alerts.explain import EXPLAIN_ROWS, window_rows
from obskit.analyze.business import BUSINESS_COUNTS, business_metrics, business_rates
from obskit.analyze.drift import column_drift, drift_over_time, drift_score
from obskit.analyze.gpu import gpu_stats, memory_pressure
from obskit.analyze.serving import window_stats
from obskit.analyze.timeline import timeline_from_windows
from obskit.errors import AnalysisError
from obskit.explorer.drill import DRILL_COLUMNS, GROUP, drill_downs
from obskit.scale.rollup import Rollup
from obskit.scale.sketches import DEFAULT_ALPHA
from obskit.scale.streaming import WindowState, frame_window_state
from obskit.timeutil import parse_duration, parse_time

__all__ = ["CANONICAL", "DRILL_COLUMNS", "SAMPLE_ROWS", "ExplorerData", "Key", "by_message", "to_datetime"]

#: Rows of the systematic sample drift reads from a lazy scan.
SAMPLE_ROWS = 1_000_000
CANONICAL = {
    "timestamp", "request_id", "model", "model_version", "latency_ms", "status", "status_code", "error",
    "prediction", "confidence", "label", "corrected_label", "corrected_at",
}

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
    """Per-window state, drill-down rows and the current selection (range, model, versions).

    Parameters
    ----------
    requests
        A canonical ``requests`` frame (``timestamp``, ``latency_ms``, ``status``,
        ``model_version``), or a lazy scan of one already cut to the period (e.g.
        :func:`obskit.load.request_source.period_scan`): its rows are never held.
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
    sample_rows
        Of a lazy scan, the rows of the systematic sample drift reads (every k-th request).
    """

    steps = 6
    #: Host CPU and memory samples (:mod:`obskit.load.host`) drawn on the timeline, or None.
    host: pl.DataFrame | None = None

    def __init__(self, requests: pl.DataFrame | pl.LazyFrame, *, reference: pl.DataFrame | None = None,
                 gpu: pl.DataFrame | None = None, every: str = "5m", features: Sequence[str] | None = None,
                 confidence_threshold: float = 0.8, drift_every: str = "1h", top: int = 20,
                 on_progress: Progress | None = None, sample_rows: int = SAMPLE_ROWS) -> None:
        tick = on_progress or (lambda _what: None)
        names = requests.collect_schema().names()
        missing = [c for c in ("timestamp", "latency_ms", "status", "model_version") if c not in names]
        if missing:
            raise AnalysisError(f"explore: requests frame lacks {', '.join(missing)}")
        if isinstance(requests, pl.DataFrame) and requests.is_empty():
            raise AnalysisError("explore: the requests frame is empty")
        self.every = every
        self.drift_every = drift_every
        self.confidence_threshold = confidence_threshold
        self.top = top
        self.busy: Busy = _quiet
        req = requests if "model" in names else requests.with_columns(pl.lit("").alias("model"))
        req = req.with_columns(pl.col(*GROUP).cast(pl.String))
        #: The rows, in time order, when they are held (a frame); None for a lazy scan.
        self.requests: pl.DataFrame | None = None
        if isinstance(req, pl.DataFrame):
            tick("sorting requests")
            self.requests = req if req.get_column("timestamp").is_sorted() else req.sort("timestamp",
                                                                                       maintain_order=True)
            self._ts = self.requests.get_column("timestamp").dt.epoch("us").to_numpy()
        self._lf = req.lazy() if self.requests is None else self.requests.lazy()
        #: How the latency percentiles were computed (the traffic tab's chart title says it).
        self.latency_method = "exact" if self.requests is not None else f"sketch, within {DEFAULT_ALPHA:.1%}"

        tick("counting requests per window and version (one streaming pass)")
        self.state = frame_window_state(self._lf, every=every, by=GROUP, confidence_threshold=confidence_threshold)
        counts = self.state.counts.frame
        self.n_requests = int(counts.get_column("requests").sum())
        if not self.n_requests:
            raise AnalysisError("explore: the requests scan is empty")
        self._setup(names if "model" in names else [*names, "model"],
                    counts.select(*GROUP).unique().sort(list(GROUP)).rows(), reference, gpu, features)
        self._cache: dict[str, dict[Key, pl.DataFrame]] = {"stats": {}, "errors": {}}
        self._business: pl.DataFrame | None = None
        if self.has_confidence:
            tick("business counts per window")
            with pl.Config(engine_affinity="streaming"):
                self._business = business_metrics(self._lf, every, confidence_threshold=confidence_threshold,
                                                  by=GROUP)
            self._cache["business"] = {}
        self.versions_frame = (
            counts.group_by("window_start", "model_version").agg(pl.col("requests").sum())
            .with_columns((pl.col("requests") / pl.col("requests").sum().over("window_start")).alias("share"))
            .sort("window_start", "model_version")
        )
        tick("drill-down rows and failures (two streaming passes)")
        drill = drill_downs(self._lf, every=every, top=top)
        self.slow, self.failed, self.lowconf = drill.slow, drill.failed, drill.lowconf
        self.corrected, self._failures = drill.corrected, drill.failures
        if self.requests is not None and not drill.failed_kept_all:  # held rows: every failure, cheaply
            self.failed = self.requests.filter(pl.col("status").cast(pl.String) == "error").select(
                self.failed.columns)
        #: Said under the failed-requests table when it holds only some failures (empty: all).
        self.failed_note = "" if drill.failed_kept_all or self.requests is not None else (
            f"The table holds the first {top} failed requests of each {every} window and version; "
            "the counts above are of every failure.")
        #: Said under the drift tab when drift reads a sample of the rows (empty: all rows).
        self.sample_note = ""
        if self.requests is None:
            tick("a sample for drift")
        self._sample = self.requests if self.requests is not None else self._read_sample(sample_rows)
        tick("per-window analyses of each version")
        for key in [*(frozenset({pair}) for pair in self.pairs), self.all]:
            for name in self._cache:
                self._cache[name][key] = self._compute(name, key)
        self._finish_setup()

    def _setup(self, columns: Sequence[str], pairs: Sequence[tuple[Any, Any]], reference: pl.DataFrame | None,
               gpu: pl.DataFrame | None, features: Sequence[str] | None) -> None:
        """The columns, groups, features, the reference and GPU frames."""
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

    def _read_sample(self, size: int) -> pl.DataFrame:
        """Every k-th request of the scan (at most ``size``), with the columns drift reads."""
        step = max(1, -(-self.n_requests // max(size, 1)))
        cols = ["timestamp", *GROUP, *[c for c in self.features if c not in ("timestamp", *GROUP)]]
        out = (self._lf.select(cols).with_row_index("__row").filter(pl.col("__row") % step == 0).drop("__row")
               .collect(engine="streaming").sort("timestamp", maintain_order=True))
        if step > 1:
            self.sample_note = (f"Drift at this volume is computed on a systematic sample: every {step:,}th "
                                f"request ({out.height:,} of {self.n_requests:,}).")
        return out

    # ------------------------------------------------------------------ per-window analyses
    def _compute(self, name: str, key: Key) -> pl.DataFrame:
        """The per-window analysis ``name`` of the groups ``key``, over every window."""
        if name == "stats":
            return self._stats(key)
        if name == "errors":
            return (self._sum(self.state.counts.frame, key, ["requests", "errors"])
                    .with_columns((pl.col("window_start") + pl.duration(seconds=self.state.every_s))
                                  .alias("window_end"), (pl.col("errors") / pl.col("requests")).alias("error_rate"))
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
        """Window stats of ``key``: exact percentiles from the rows when held, else from the state's sketches."""
        if self.requests is not None:
            rows = self._lf if key == self.all else self._lf.filter(self.key_expr(key))
            return window_stats(rows, every=self.every)
        empty = pl.DataFrame(schema={"window_start": pl.Datetime("us", "UTC"), "model": pl.String,
                                     "model_version": pl.String, "error": pl.String, "count": pl.Int64})
        rollup = Rollup(self.state, empty)
        if key != self.all:
            rollup = rollup.where(self.key_expr(key))
        state: WindowState = rollup.coarsen(self.every, by=()).state
        return state.finish().drop("confident", "corrected")

    def _full(self, name: str, key: Key) -> pl.DataFrame:
        """The cached per-window analysis ``name`` of ``key`` over every window (computed the first time)."""
        cache = self._cache[name]
        if key not in cache:
            with self.busy(f"computing {name} for the selected versions"):
                cache[key] = self._compute(name, key)
        return cache[key]

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
        """The requests of the current range and selection (of a scan: those of the drift sample)."""
        return self.rows_between(self.start, self.end)

    def rows_between(self, start: datetime, end: datetime) -> pl.DataFrame:
        """The requests of the selection from ``start`` to ``end`` (held rows: a zero-copy slice, then a filter)."""
        if self.requests is None:
            part = self._sample.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < end))
        else:
            lo, hi = np.searchsorted(self._ts, [_us(start), _us(end)], side="left")
            part = self.requests.slice(int(lo), int(hi - lo))
        key = self.selection
        return part if key == self.all else part.filter(self.key_expr(key))

    def full_rows_between(self, start: datetime, end: datetime, limit: int = EXPLAIN_ROWS) -> pl.DataFrame:
        """Every column of the selection's requests from ``start`` to ``end``, for explanations.

        Held rows: :meth:`rows_between`. A scan: the rows are read from it, the period's
        filter pushed into the scan, a uniform sample beyond ``limit`` (shares kept), as a report
        at scale explains an alert (:func:`obskit.alerts.explain.window_rows`); the last 8
        spans are cached.
        """
        if self.requests is not None:
            return self.rows_between(start, end)
        memo: dict[tuple[Key, datetime, datetime], pl.DataFrame] = self.__dict__.setdefault("_spans", {})
        ck = (self.selection, start, end)
        if ck not in memo:
            key = self.selection
            scan = self._lf if key == self.all else self._lf.filter(self.key_expr(key))
            with self.busy("reading the range's requests"):
                memo[ck] = window_rows(scan, start, end, limit)
            if len(memo) > 8:
                memo.pop(next(iter(memo)))
        return memo[ck]

    def corrected_rows(self) -> pl.DataFrame:
        """Corrected requests of the range and selection (the flywheel's candidates)."""
        return self.in_selection(self.corrected)

    def failure_counts(self) -> pl.DataFrame:
        """Failed requests of the range and selection per ``status_code`` and ``error`` message, most first."""
        part = self.in_range(self._failures)
        return by_message(part if self.selection == self.all else part.filter(self.key_expr(self.selection)))

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
        """The rows drift reads: every held row, or the scan's sample."""
        return self._sample

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
        """:meth:`timeline_full` plus ``<column>_anomaly`` flags (:func:`obskit.analyze.timeline.timeline_anomalies`).

        Scored over the whole period, so narrowing the range never changes which windows
        are anomalous; cached per selection and columns.
        """
        from obskit.analyze.timeline import timeline_anomalies

        full = self.timeline_full()
        cols = tuple(c for c in columns if c in full.columns)
        memo: dict[tuple[Key, tuple[str, ...]], pl.DataFrame] = self.__dict__.setdefault("_flagged", {})
        ck = (self.selection, cols)
        if ck not in memo:
            with self.busy("scoring the timeline's anomalies"):
                memo[ck] = timeline_anomalies(full, list(cols), stats=self._full("stats", self.selection))
            if len(memo) > 32:  # the oldest selection's goes first
                memo.pop(next(iter(memo)))
        return memo[ck]

    def _timeline_of(self, key: Key, drift: pl.DataFrame | None) -> pl.DataFrame:
        """The one timeline of the groups ``key`` from the per-window stats and business counts."""
        stats = self._full("stats", key).select("window_start", pl.col("requests").cast(pl.Int64), "error_rate",
                                                "p99_ms")
        if self._business is not None:
            biz = self._full("business", key).select("window_start", "answered", "confident", "corrected_confident")
            windows = stats.join(biz, on="window_start", how="left")
        else:
            windows = stats.with_columns(pl.lit(None, pl.Int64).alias(c)
                                         for c in ("answered", "confident", "corrected_confident"))
        return timeline_from_windows(windows, self.gpu, drift, self.every, host=self.host)


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
