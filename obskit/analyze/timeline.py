"""One timeline: serving, GPU, business and drift signals aligned on the same windows.

The frame behind a stacked chart: one row per window from the first to the last window
of the requests (windows without requests are kept, with null values, so gaps show), and
one column per signal.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in (0, 0, 10)],
...                   "latency_ms": [10.0, 20.0, 30.0], "status": ["ok", "error", "ok"],
...                   "confidence": [0.9, None, 0.5]})
>>> one_timeline(r, every="5m").select("requests", "error_rate", "confident_rate").rows()
[(2, 0.5, 1.0), (0, None, None), (1, 0.0, 0.0)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import polars as pl

from obskit.analyze._frames import every_us, require, window_expr
from obskit.analyze.serving import quantile_column
from obskit.errors import AnalysisError

__all__ = ["COUNT_EVIDENCE", "one_timeline", "timeline_anomalies", "timeline_from_windows"]


def one_timeline(
    requests: pl.DataFrame | pl.LazyFrame,
    gpu: pl.DataFrame | None = None,
    drift: pl.DataFrame | None = None,
    every: str = "5m",
    *,
    quantile: float = 0.99,
    confidence_threshold: float = 0.8,
    drift_column: str | None = None,
    host: pl.DataFrame | None = None,
    latency: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per-window rps, error rate, latency quantile, GPU, host, confidence, corrections and drift.

    Parameters
    ----------
    requests
        A ``requests`` frame (``timestamp``, ``latency_ms``, ``status``; ``confidence`` and
        ``corrected_label`` when present).
    gpu
        A ``gpu`` frame; adds ``gpu_util_pct`` and ``gpu_memory_share`` (means over GPUs
        and samples of the window).
    drift
        A drift-over-time frame (``window_start``, ``column``, ``statistic``, optionally
        ``drifted``), e.g. from :func:`obskit.analyze.drift.drift_over_time`, at any window
        length: each timeline window takes the latest drift window that started at or
        before it. Adds ``drift_statistic`` (of ``drift_column``, or the largest over all
        columns) and ``drifted_columns``; with a ``drift_score`` column
        (:func:`obskit.analyze.drift.drift_score`), its largest value too (larger = more
        drift, whatever the test).
    every
        Window length.
    quantile
        Latency quantile of the ``pXX_ms`` column (exact, linear interpolation).
    confidence_threshold
        Threshold of the confident rate and of the correction rate's denominator.
    drift_column
        The drift frame's column to report; default the maximum over columns.
    host
        A ``host`` frame (``timestamp``, ``cpu_utilization_pct``, ``memory_used_share``; see
        :mod:`obskit.load.host`); adds ``host_cpu_pct`` and ``host_memory_share`` (means
        over hosts and samples of the window).
    latency
        The ``pXX_ms`` column per ``window_start`` already known (a report at scale passes
        its sketch percentiles, within their stated bound): the rows are then only counted,
        so a lazy scan of any size streams in bounded memory.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``requests``, ``rps``, ``error_rate``, ``pXX_ms``,
        ``confident_rate``, ``correction_rate`` (corrected confident / confident), then
        the GPU and drift columns when those frames are given.
    """
    lf = requests.lazy()
    require(lf, ["timestamp", "latency_ms", "status"], "one_timeline")
    names = lf.collect_schema().names()
    ok = pl.col("status").cast(pl.String) == "ok"
    confident = ok & (pl.col("confidence") >= confidence_threshold) if "confidence" in names else pl.lit(False)
    answered = ok & pl.col("confidence").is_not_null() if "confidence" in names else pl.lit(False)
    fixed = confident & pl.col("corrected_label").is_not_null() if "corrected_label" in names else pl.lit(False)
    qcol = quantile_column(quantile)
    quantiles = [] if latency is not None else [
        pl.col("latency_ms").quantile(quantile, interpolation="linear").alias(qcol)]
    stats = (
        lf.select(
            window_expr(every),
            pl.col("latency_ms"),
            (~ok).alias("_err"),
            answered.alias("_ans"),
            confident.alias("_conf"),
            fixed.alias("_fix"),
        )
        .group_by("window_start")
        .agg(
            pl.len().cast(pl.Int64).alias("requests"),
            pl.col("_err").mean().alias("error_rate"),
            *quantiles,
            pl.col("_ans").sum().alias("_ans"),
            pl.col("_conf").sum().alias("_conf"),
            pl.col("_fix").sum().alias("_fix"),
        )
        .collect(engine="streaming")
    )
    if stats.is_empty():
        raise AnalysisError("one_timeline: no requests")
    if latency is not None:
        stats = stats.join(latency.select("window_start", qcol), on="window_start", how="left").select(
            "window_start", "requests", "error_rate", qcol, "_ans", "_conf", "_fix")
    windows = stats.rename({"_ans": "answered", "_conf": "confident", "_fix": "corrected_confident"}).with_columns(
        *[pl.lit(None, pl.Int64).alias(c) for c, col in (("answered", "confidence"), ("confident", "confidence"),
                                                          ("corrected_confident", "corrected_label"))
          if col not in names]
    )
    return timeline_from_windows(windows, gpu, drift, every, quantile=quantile, drift_column=drift_column, host=host)


def timeline_from_windows(
    windows: pl.DataFrame,
    gpu: pl.DataFrame | None = None,
    drift: pl.DataFrame | None = None,
    every: str = "5m",
    *,
    quantile: float = 0.99,
    drift_column: str | None = None,
    host: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The one timeline from per-window counts already aggregated (e.g. from a rollup at scale).

    Parameters
    ----------
    windows
        One row per window with requests: ``window_start``, ``requests``, ``error_rate``, the
        ``pXX_ms`` column of ``quantile``, and the counts ``answered``, ``confident`` and
        ``corrected_confident`` (null where the logs lack ``confidence`` or corrections).
    gpu, drift, every, quantile, drift_column, host
        As in :func:`one_timeline`.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> w = pl.DataFrame({"window_start": [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 10, tzinfo=UTC)],
    ...                   "requests": [4, 2], "error_rate": [0.25, 0.0], "p99_ms": [30.0, 12.0],
    ...                   "answered": [3, 2], "confident": [3, 1], "corrected_confident": [1, 0]})
    >>> timeline_from_windows(w).select("requests", "confident_rate", "correction_rate").rows()
    [(4, 1.0, 0.3333333333333333), (0, None, None), (2, 0.5, 0.0)]
    """
    step = every_us(every)
    qcol = quantile_column(quantile)
    require(windows, ["window_start", "requests", "error_rate", qcol, "answered", "confident",
                      "corrected_confident"], "timeline_from_windows")
    if windows.is_empty():
        raise AnalysisError("timeline_from_windows: no requests")
    stats = windows.select("window_start", "requests", "error_rate", qcol, pl.col("answered").alias("_ans"),
                           pl.col("confident").alias("_conf"), pl.col("corrected_confident").alias("_fix"))
    has_conf = stats.get_column("_ans").null_count() < stats.height
    has_fix = stats.get_column("_fix").null_count() < stats.height
    first, last = stats.get_column("window_start").min(), stats.get_column("window_start").max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    grid = pl.DataFrame(
        {
            "window_start": pl.datetime_range(
                first,
                last,
                interval=f"{step}us",
                eager=True,
            )
        }
    ).with_columns(pl.col("window_start").cast(stats.schema["window_start"]))
    out = grid.join(stats, on="window_start", how="left").with_columns(
        pl.col("requests").fill_null(0),
        (pl.col("requests").fill_null(0) / (step / 1e6)).alias("rps"),
        pl.when(pl.col("_ans") > 0).then(pl.col("_conf") / pl.col("_ans")).alias("confident_rate"),
        pl.when(pl.col("_conf") > 0).then(pl.col("_fix") / pl.col("_conf")).alias("correction_rate"),
    )
    if not has_conf:
        out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias("confident_rate"))
    if not has_fix:
        out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias("correction_rate"))
    cols = ["window_start", "requests", "rps", "error_rate", qcol, "confident_rate", "correction_rate"]
    out = out.select(cols)
    if gpu is not None:
        require(gpu, ["timestamp", "utilization_pct", "memory_used_mib", "memory_total_mib"], "one_timeline gpu")
        g = (
            gpu.select(
                window_expr(every),
                pl.col("utilization_pct"),
                (pl.col("memory_used_mib") / pl.col("memory_total_mib")).alias("_mem"),
            )
            .group_by("window_start")
            .agg(
                pl.col("utilization_pct").mean().alias("gpu_util_pct"),
                pl.col("_mem").mean().alias("gpu_memory_share"),
            )
        )
        out = out.join(g, on="window_start", how="left")
    if host is not None and host.height:
        require(host, ["timestamp", "cpu_utilization_pct", "memory_used_share"], "one_timeline host")
        h = (host.select(window_expr(every), "cpu_utilization_pct", "memory_used_share")
             .group_by("window_start")
             .agg(pl.col("cpu_utilization_pct").mean().alias("host_cpu_pct"),
                  pl.col("memory_used_share").mean().alias("host_memory_share"))
             .with_columns(pl.col("window_start").cast(out.schema["window_start"])))
        out = out.join(h, on="window_start", how="left")
    if drift is not None:
        require(drift, ["window_start", "statistic"], "one_timeline drift")
        d = drift
        if drift_column is not None:
            require(drift, ["column"], "one_timeline drift")
            d = d.filter(pl.col("column") == drift_column)
        has_flag = "drifted" in d.columns
        dd = (
            d.group_by("window_start")
            .agg(
                pl.col("statistic").max().alias("drift_statistic"),
                *([pl.col("drift_score").max().alias("drift_score")] if "drift_score" in d.columns else []),
                (pl.col("drifted").fill_null(False).sum() if has_flag else pl.lit(None)).cast(pl.Int64).alias(
                    "drifted_columns"
                ),
            )
            .with_columns(pl.col("window_start").cast(out.schema["window_start"]))
            .sort("window_start")
        )
        out = out.sort("window_start").join_asof(dd, on="window_start", strategy="backward")
    return out.sort("window_start")


#: A count-based panel keeps a ring only where the window's count is this improbable under
#: the rate of the windows before it (binomial, both tails): at a few dozen requests a
#: window, one error after a run of zeros moves the rate a lot but is no anomaly.
COUNT_EVIDENCE = 1e-3


def timeline_anomalies(tl: pl.DataFrame, columns: Sequence[str], *, stats: pl.DataFrame | None = None,
                       false_alarm_rate: float = 1e-4, refractory_rows: int = 100, history: int = 1500,
                       suffix: str = "_anomaly") -> pl.DataFrame:
    """Flag each panel's anomalous windows: the online detector, then the window's own evidence.

    Every column is scored as :func:`obskit.analyze.detect.flag_anomalies` scores it (one
    false alarm in ``1 / false_alarm_rate`` windows, null values never alarm). A value
    computed from a window's requests also needs the requests to carry it, so with the
    ``requests`` column present:

    - ``error_rate`` keeps a window only where its error count is improbable (below
      :data:`COUNT_EVIDENCE`, both tails) under the pooled rate of up to ``history``
      windows before it;
    - a latency quantile (``p99_ms``) over fewer requests than it needs for one to lie
      beyond it (100 for p99) is the slowest request or two, and one slow request is no
      anomaly: such a window is kept only where its ``p95_ms`` in ``stats`` (the window
      stats the timeline was built from) is beyond the quantile's usual level, the median
      of up to ``history`` windows before it, so that several of its requests are slow.

    The refractory period (one flag per ``refractory_rows`` windows) applies after these
    checks, so a window they drop never hides a real anomaly just after it.

    Returns
    -------
    polars.DataFrame
        ``tl`` plus one boolean ``<column><suffix>`` per column.

    Examples
    --------
    >>> import polars as pl
    >>> n = [60] * 300
    >>> err = [0.0] * 300
    >>> err[100::60] = [1 / 60] * 4  # an error now and then: the baseline
    >>> err[250] = 1 / 60  # one error after a run of zeros: the detector's level jumps, the count is usual
    >>> err[280] = 12 / 60  # twelve errors: an anomaly
    >>> out = timeline_anomalies(pl.DataFrame({"requests": n, "error_rate": err}), ["error_rate"])
    >>> out.with_row_index().filter("error_rate_anomaly")["index"].to_list()
    [280]
    """
    from obskit.analyze.detect import flag_anomalies
    from obskit.analyze.online import refractory

    # every window past the detector's threshold, before the refractory period thins them
    out = flag_anomalies(tl, list(columns), false_alarm_rate=false_alarm_rate, refractory_rows=0, suffix=suffix)
    n = (tl.get_column("requests").cast(pl.Float64).fill_null(0.0).to_numpy() if "requests" in tl.columns
         else None)
    p95 = None
    if stats is not None and "p95_ms" in stats.columns and "window_start" in tl.columns:
        p95 = (tl.select("window_start").join(stats.select("window_start", pl.col("p95_ms").alias("_p95")),
                                              on="window_start", how="left")
               .get_column("_p95").cast(pl.Float64).fill_null(np.nan).to_numpy())
    flags = []
    for col in dict.fromkeys(columns):
        flag = out.get_column(f"{col}{suffix}").to_numpy().copy()
        if n is not None and flag.any():
            flag &= _carried(tl, col, n, flag, history, p95)
        flags.append(pl.Series(f"{col}{suffix}", refractory(flag.astype(np.float64), 0.5, refractory_rows)[1]))
    return out.with_columns(flags) if flags else out


def _carried(tl: pl.DataFrame, col: str, n: np.ndarray, flag: np.ndarray, history: int,
             p95: np.ndarray | None) -> np.ndarray:
    """Whether each flagged window's requests carry its value (see :func:`timeline_anomalies`)."""
    from scipy.stats import binom

    values = tl.get_column(col).cast(pl.Float64).fill_null(np.nan).to_numpy()
    keep = np.zeros(n.size, dtype=bool)
    if col == "error_rate":
        k = np.rint(np.nan_to_num(values) * n)
        seen_n = np.concatenate([[0.0], np.cumsum(n)])
        seen_k = np.concatenate([[0.0], np.cumsum(k)])
        for i in np.flatnonzero(flag).tolist():
            lo = max(0, i - history)
            rate = (seen_k[i] - seen_k[lo] + 0.5) / (seen_n[i] - seen_n[lo] + 1.0)  # (Jeffreys: never 0)
            p = min(float(binom.sf(k[i] - 1, n[i], rate)), float(binom.cdf(k[i], n[i], rate)))
            keep[i] = 2 * p < COUNT_EVIDENCE
        return keep
    q = _quantile_of(col)
    if q is None:
        return np.ones(n.size, dtype=bool)
    enough = n >= np.ceil(1 / (1 - q) - 1e-9)
    lower = p95 if q > 0.95 else None
    for i in np.flatnonzero(flag).tolist():
        if enough[i]:
            keep[i] = True
        elif lower is not None and i > 0:
            past = values[max(0, i - history):i]
            past = past[np.isfinite(past)]
            keep[i] = bool(past.size and lower[i] > np.median(past))
    return keep


def _quantile_of(column: str) -> float | None:
    """The quantile of a latency column named by :func:`quantile_column` (``p99.9_ms``: 0.999), else None.

    >>> _quantile_of("p99_ms"), _quantile_of("p99.9_ms"), _quantile_of("rps")
    (0.99, 0.999, None)
    """
    m = re.fullmatch(r"p(\d+(?:\.\d+)?)_ms", column)
    if m is None or not 0 < float(m.group(1)) < 100:
        return None
    return round(float(m.group(1)) / 100, 9)
