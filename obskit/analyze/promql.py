"""PromQL semantics on the canonical metrics frame: pure functions, no I/O.

The functions reproduce what a Prometheus 2.x server computes, so that numbers in an
obskit report match the dashboards built on the same data:

:func:`histogram_quantile`
    ``bucketQuantile`` of ``promql/quantile.go``: buckets sorted by ``le``; NaN without a
    ``+Inf`` bucket or with fewer than two buckets or zero observations; equal ``le``
    merged; non-monotonic counts fixed by a running maximum (``ensureMonotonic``);
    ``q < 0`` gives ``-Inf``, ``q > 1`` gives ``+Inf``, NaN ``q`` gives NaN; linear
    interpolation inside the bucket, with 0 as the lower bound of the first bucket when
    its upper bound is positive (else that upper bound is returned); a rank that falls in
    the ``+Inf`` bucket returns the upper bound of the second-highest bucket.
:func:`rate`, :func:`increase`, :func:`delta`
    ``extrapolatedRate`` of ``promql/functions.go``, evaluated like a range query on the
    grid ``start, start + step, ... <= end``: at each grid time ``T`` the samples with
    ``T - window <= t <= T`` (both ends inclusive, as in Prometheus 2.x) are used; fewer
    than two samples give no row. For counters (``rate``, ``increase``) a decrease is a
    reset and adds the value before it; the result is extrapolated to the window edges
    when the first/last sample is closer to the edge than 1.1 times the average sample
    interval (else by half an interval), and a counter is never extrapolated below zero.
    ``delta`` does neither the reset handling nor the zero clamp.

Frames in, frames out: the input is a metrics frame (``timestamp``, ``metric``,
``value``, label columns); a *series* is one distinct combination of every column other
than ``timestamp`` and ``value``. Unlike PromQL, which drops the metric name from a
function's result, the ``metric`` column is kept so the output stays a canonical frame.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> ts = [datetime(2024, 1, 1, 0, 0, s, tzinfo=UTC) for s in (0, 15, 30, 45)]
>>> counter = pl.DataFrame({"timestamp": ts, "metric": "req_total",
...                         "value": [0.0, 15.0, 30.0, 45.0]})
>>> rate(counter, window="1m", step="15s")["value"].to_list()  # counter starts at 0: no
[0.25, 0.5, 0.75]
>>> # extrapolation before the first sample (zero-point clamp), so 15/60, 30/60, 45/60.
>>> buckets = pl.DataFrame({"timestamp": ts[:1] * 3, "metric": "lat_bucket",
...                         "le": ["0.1", "0.5", "+Inf"], "value": [50.0, 90.0, 100.0]})
>>> histogram_quantile(0.7, buckets)["value"].to_list()
[0.30000000000000004]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import polars as pl

from obskit.errors import AnalysisError
from obskit.load.prometheus_api import DurationLike, parse_duration, parse_time

__all__ = ["delta", "histogram_quantile", "increase", "rate"]

_TS = "timestamp"
_VALUE = "value"
_METRIC = "metric"
_UTC_US = pl.Datetime("us", "UTC")

TimeArg = datetime | str | int | float


def _fmt_float(x: float) -> str:
    """Prometheus' text form of a float: ``0.9``, ``1``, ``NaN``, ``+Inf``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _require(frame: pl.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise AnalysisError(f"{what}: missing column(s) {', '.join(missing)}")


def _strip_bucket(name: str) -> str:
    return name[: -len("_bucket")] if name.endswith("_bucket") else name


def _to_utc_us(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Timestamps (any Datetime) as Int64 microseconds since the epoch."""
    if isinstance(dtype, pl.Datetime):
        return expr.dt.epoch("us")
    raise AnalysisError(f"timestamp column must be a Datetime, got {dtype}")


def histogram_quantile(
    q: float,
    buckets: pl.DataFrame,
    *,
    by: Sequence[str] | None = None,
    le: str = "le",
    name: str | None = None,
) -> pl.DataFrame:
    """The ``q``-quantile of classic histogram buckets, exactly as PromQL computes it.

    Parameters
    ----------
    q
        The quantile, normally in ``[0, 1]``.
    buckets
        Cumulative bucket counts or rates: ``timestamp``, ``le`` (String such as
        ``"0.5"``/``"+Inf"``, or numeric), ``value`` and label columns; typically the
        result of ``rate(x_bucket[5m])`` (see :func:`rate`) or a loaded
        ``sum by (le, ...) (rate(...))`` query. Rows whose ``le`` does not parse as a
        number, or whose ``value`` is null, are ignored (as Prometheus does).
    by
        ``None``: one histogram per timestamp and distinct combination of every other
        column (``metric`` included) — PromQL's ``histogram_quantile(q, x)``. A list of
        columns: the buckets are first summed by ``(timestamp, le, *by)`` — PromQL's
        ``histogram_quantile(q, sum by (le, <by>) (x))``.
    le
        Name of the bucket-boundary column.
    name
        ``metric`` of the output. Default: the input ``metric`` without its ``_bucket``
        suffix (per group when ``metric`` is a group column; when it is summed away, the
        single input name, or ``"histogram_quantile"`` if there were several).

    Returns
    -------
    polars.DataFrame
        Canonical metrics frame: ``timestamp``, ``metric``, ``value`` (the quantile; NaN
        where PromQL gives NaN), the group columns, and a String column ``quantile``
        holding ``q`` (``"0.9"``) so several quantiles can be concatenated. Sorted by group
        and time. A group/timestamp without any usable bucket row gives no row.

    Raises
    ------
    AnalysisError
        A required column is missing.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> t = datetime(2024, 1, 1, tzinfo=UTC)
    >>> b = pl.DataFrame({"timestamp": [t] * 4, "metric": "lat_bucket",
    ...                   "le": ["0.1", "0.2", "0.4", "+Inf"], "value": [1.0, 3.0, 4.0, 4.0]})
    >>> histogram_quantile(0.5, b).select("metric", "value", "quantile").row(0)
    ('lat', 0.15000000000000002, '0.5')
    >>> histogram_quantile(1.5, b)["value"][0], histogram_quantile(0.99, b[3:])["value"][0]
    (inf, nan)
    """
    _require(buckets, [_TS, le, _VALUE], "histogram_quantile")
    q = float(q)
    if by is None:
        groups = [c for c in buckets.columns if c not in (_TS, le, _VALUE)]
    else:
        groups = [c for c in dict.fromkeys(by) if c not in (_TS, le, _VALUE)]
        _require(buckets, groups, "histogram_quantile")
    keys = [_TS, *groups]

    le_dtype = buckets.schema[le]
    le_expr = pl.col(le)
    le_float = (
        le_expr.cast(pl.Float64, strict=False)
        if le_dtype.is_numeric()
        else (le_expr.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False))
    )
    df = (
        buckets.select(*keys, le_float.alias("_le"), pl.col(_VALUE).cast(pl.Float64))
        .filter(pl.col("_le").is_not_null() & pl.col(_VALUE).is_not_null())
        # sum by (le, group): also merges buckets with equal bounds (coalesceBuckets).
        .group_by([*keys, "_le"], maintain_order=True)
        .agg(pl.col(_VALUE).sum())
        .sort([*keys, "_le"], nulls_last=True)
    )
    over = keys
    v = pl.col(_VALUE)
    nan = pl.lit(math.nan, dtype=pl.Float64)
    # ensureMonotonic: running maximum; NaN counts stay NaN and do not raise the maximum.
    mono = pl.when(v.is_nan()).then(nan).otherwise(v.fill_nan(None).cum_max().over(over)).alias("_c")
    df = df.with_columns(
        mono,
        pl.int_range(pl.len()).over(over).alias("_i"),
        pl.len().over(over).alias("_n"),
    )
    df = df.with_columns(
        pl.col("_c").last().over(over).alias("_total"),
        pl.col("_le").last().over(over).alias("_max_le"),
        pl.col("_le").shift(1).over(over).alias("_prev_le"),
        pl.col("_c").shift(1).over(over).alias("_prev_c"),
    )

    if math.isnan(q) or q < 0 or q > 1:
        const = math.nan if math.isnan(q) else (-math.inf if q < 0 else math.inf)
        out = df.group_by(keys, maintain_order=True).agg(pl.lit(const, dtype=pl.Float64).alias(_VALUE))
    else:
        rank = pl.lit(q, dtype=pl.Float64) * pl.col("_total")
        candidate = (pl.col("_i") < pl.col("_n") - 1) & (pl.col("_c") >= rank)
        b = pl.when(candidate).then(pl.col("_i")).otherwise(pl.col("_n") - 1).min().over(over)
        df = df.with_columns(b.alias("_b"), rank.alias("_rank")).filter(pl.col("_i") == pl.col("_b"))
        ub, c, rk = pl.col("_le"), pl.col("_c"), pl.col("_rank")
        prev_ub, prev_c = pl.col("_prev_le"), pl.col("_prev_c")
        valid = (pl.col("_max_le") == math.inf) & (pl.col("_n") >= 2) & (pl.col("_total") != 0)
        value = (
            pl.when(~valid)
            .then(nan)
            .when(pl.col("_b") == pl.col("_n") - 1)
            .then(prev_ub)
            .when((pl.col("_b") == 0) & (ub <= 0))
            .then(ub)
            .when(pl.col("_b") == 0)
            .then(pl.lit(0.0) + (ub - pl.lit(0.0)) * (rk / c))
            .otherwise(prev_ub + (ub - prev_ub) * ((rk - prev_c) / (c - prev_c)))
        )
        out = df.select(*keys, value.alias(_VALUE))

    out = out.with_columns(pl.lit(_fmt_float(q)).alias("quantile"))
    if name is not None:
        metric_expr = pl.lit(name)
    elif _METRIC in groups:
        metric_expr = pl.col(_METRIC).cast(pl.String).str.strip_suffix("_bucket")
    elif _METRIC in buckets.columns:
        names = buckets.get_column(_METRIC).unique().to_list()
        metric_expr = pl.lit(_strip_bucket(names[0]) if len(names) == 1 else "histogram_quantile")
    else:
        metric_expr = pl.lit("histogram_quantile")
    labels = [c for c in groups if c != _METRIC]
    out = out.with_columns(metric_expr.alias(_METRIC), pl.col(_TS).cast(_UTC_US, strict=False))
    return out.select(_TS, _METRIC, pl.col(_VALUE).cast(pl.Float64), *labels, "quantile").sort(
        [*labels, _METRIC, _TS], nulls_last=True, maintain_order=True
    )


# --------------------------------------------------------------------------- rates


def _grid(t_min: int, t_max: int, step_us: int, start: TimeArg | None, end: TimeArg | None) -> np.ndarray:
    s = parse_time(start) * 1000 if start is not None else -(-t_min // step_us) * step_us
    e = parse_time(end) * 1000 if end is not None else -(-t_max // step_us) * step_us
    if e < s:
        return np.empty(0, dtype=np.int64)
    return np.arange(s, e + 1, step_us, dtype=np.int64)


def _range_seconds(window_us: int) -> float:
    """Go's ``time.Duration.Seconds()`` for the window: whole seconds + fraction."""
    sec, rem = divmod(window_us, 1_000_000)
    return float(sec) + float(rem * 1000) / 1e9


def _extrapolated(
    t: np.ndarray,
    v: np.ndarray,
    grid: np.ndarray,
    window_us: int,
    is_counter: bool,
    is_rate: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """``extrapolatedRate`` of one series at every grid time; returns (times, values)."""
    lo = np.searchsorted(t, grid - window_us, side="left")
    hi = np.searchsorted(t, grid, side="right")
    ok = hi - lo >= 2
    grid, lo, last = grid[ok], lo[ok], hi[ok] - 1
    if grid.size == 0:
        return grid, np.empty(0)
    first_v, last_v = v[lo], v[last]
    result = last_v - first_v
    if is_counter:
        drops = np.zeros(v.size, dtype=np.int64)
        drops[1:] = (v[1:] < v[:-1]).astype(np.int64)
        n_resets = np.cumsum(drops)
        with_reset = np.nonzero(n_resets[last] - n_resets[lo] > 0)[0]
        for k in with_reset.tolist():
            # Same order of additions as Prometheus, for bit-identical results.
            acc = float(result[k])
            for j in range(int(lo[k]) + 1, int(last[k]) + 1):
                if v[j] < v[j - 1]:
                    acc += float(v[j - 1])
            result[k] = acc
    range_start = grid - window_us
    to_start = (t[lo] - range_start).astype(np.float64) / 1e6
    to_end = (grid - t[last]).astype(np.float64) / 1e6
    sampled = (t[last] - t[lo]).astype(np.float64) / 1e6
    average = sampled / (last - lo).astype(np.float64)
    if is_counter:
        clamp = (result > 0) & (first_v >= 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            to_zero = sampled * (first_v / result)
        to_start = np.where(clamp & (to_zero < to_start), to_zero, to_start)
    threshold = average * 1.1
    interval = sampled.copy()
    interval += np.where(to_start < threshold, to_start, average / 2)
    interval += np.where(to_end < threshold, to_end, average / 2)
    factor = interval / sampled
    if is_rate:
        factor = factor / _range_seconds(window_us)
    return grid, result * factor


def _rate_like(
    frame: pl.DataFrame,
    window: DurationLike,
    step: DurationLike,
    start: TimeArg | None,
    end: TimeArg | None,
    by: Sequence[str] | None,
    *,
    fn: str,
    is_counter: bool,
    is_rate: bool,
) -> pl.DataFrame:
    _require(frame, [_TS, _VALUE], fn)
    window_us = parse_duration(window) * 1000
    step_us = parse_duration(step) * 1000
    series_cols = [c for c in frame.columns if c not in (_TS, _VALUE)]
    if by is not None:
        _require(frame, list(by), fn)
    df = frame.select(
        *series_cols,
        _to_utc_us(pl.col(_TS), frame.schema[_TS]).alias("_t"),
        pl.col(_VALUE).cast(pl.Float64),
    ).filter(pl.col("_t").is_not_null() & pl.col(_VALUE).is_not_null())
    out_schema: dict[str, pl.DataType] = {
        _TS: _UTC_US,
        **{c: frame.schema[c] for c in series_cols},
        _VALUE: pl.Float64(),
    }
    if df.height == 0:
        result = pl.DataFrame(schema=out_schema)
    else:
        grid = _grid(
            int(df.get_column("_t").min()),  # type: ignore[arg-type]
            int(df.get_column("_t").max()),  # type: ignore[arg-type]
            step_us,
            start,
            end,
        )
        # One sample per series and timestamp (the last one wins), in time order.
        df = df.unique(subset=[*series_cols, "_t"], keep="last", maintain_order=True).sort(
            [*series_cols, "_t"], nulls_last=True, maintain_order=True
        )
        parts = []
        groups = df.partition_by(series_cols, maintain_order=True) if series_cols else [df]
        for part in groups:
            t = part.get_column("_t").to_numpy()
            v = part.get_column(_VALUE).to_numpy().astype(np.float64, copy=True)
            times, values = _extrapolated(t, v, grid, window_us, is_counter, is_rate)
            if times.size == 0:
                continue
            key = part.select(series_cols).head(1) if series_cols else pl.DataFrame()
            piece = pl.DataFrame({"_t": times, _VALUE: values})
            if series_cols:
                piece = piece.join(key, how="cross")
            parts.append(piece)
        if parts:
            result = pl.concat(parts, how="vertical").select(
                pl.col("_t").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(_TS),
                *series_cols,
                _VALUE,
            )
        else:
            result = pl.DataFrame(schema=out_schema)

    if by is None:
        if _METRIC not in result.columns:
            result = result.with_columns(pl.lit(fn).alias(_METRIC))
        labels = [c for c in series_cols if c != _METRIC]
        return result.select(_TS, _METRIC, _VALUE, *labels)
    groups_by = [c for c in dict.fromkeys(by) if c not in (_TS, _VALUE)]
    summed = result.group_by([_TS, *groups_by], maintain_order=True).agg(pl.col(_VALUE).sum())
    if _METRIC not in groups_by:
        names = frame.get_column(_METRIC).unique().to_list() if _METRIC in frame.columns else []
        summed = summed.with_columns(pl.lit(names[0] if len(names) == 1 else fn).alias(_METRIC))
    labels = [c for c in groups_by if c != _METRIC]
    return summed.select(_TS, _METRIC, _VALUE, *labels).sort([*labels, _TS], nulls_last=True, maintain_order=True)


def rate(
    frame: pl.DataFrame,
    window: DurationLike = "5m",
    step: DurationLike = "1m",
    *,
    start: TimeArg | None = None,
    end: TimeArg | None = None,
    by: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Per-second average increase of counters over ``window``, like PromQL ``rate``.

    Parameters
    ----------
    frame
        Metrics frame of raw samples (``timestamp``, ``metric``, ``value``, labels), e.g.
        loaded with ``PrometheusClient.query("x[1h]", time=...)`` or from a scrape log.
        Null values are ignored; NaN values are used (and propagate), as in Prometheus.
    window
        The range of the selector, ``x[<window>]``: seconds or ``"5m"``-style duration.
    step
        Spacing of the evaluation grid.
    start, end
        First and last evaluation time (``datetime``, RFC 3339 or epoch seconds). Default:
        the first and last sample times rounded up to a multiple of ``step``.
    by
        ``None``: one output series per input series. A list of columns: the per-series
        results are summed by ``(timestamp, *by)``, i.e. ``sum by (<by>) (rate(x[w]))``.

    Returns
    -------
    polars.DataFrame
        Canonical metrics frame: ``timestamp`` (the grid times that had at least two
        samples in their window), ``metric`` (the input name; with ``by``, the single
        input name or ``"rate"``), ``value``, then the series or ``by`` columns.

    Raises
    ------
    AnalysisError
        A required column is missing or ``timestamp`` is not a Datetime.
    ValueError
        A bad ``window``/``step`` duration.
    """
    return _rate_like(frame, window, step, start, end, by, fn="rate", is_counter=True, is_rate=True)


def increase(
    frame: pl.DataFrame,
    window: DurationLike = "5m",
    step: DurationLike = "1m",
    *,
    start: TimeArg | None = None,
    end: TimeArg | None = None,
    by: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Increase of counters over ``window`` (``rate * window``), like PromQL ``increase``.

    Parameters
    ----------
    frame
        Metrics frame of raw samples (``timestamp``, ``metric``, ``value``, labels), e.g.
        loaded with ``PrometheusClient.query("x[1h]", time=...)`` or from a scrape log.
        Null values are ignored; NaN values are used (and propagate), as in Prometheus.
    window
        The range of the selector, ``x[<window>]``: seconds or ``"5m"``-style duration.
    step
        Spacing of the evaluation grid.
    start, end
        First and last evaluation time (``datetime``, RFC 3339 or epoch seconds). Default:
        the first and last sample times rounded up to a multiple of ``step``.
    by
        ``None``: one output series per input series. A list of columns: the per-series
        results are summed by ``(timestamp, *by)``, i.e. ``sum by (<by>) (increase(x[w]))``.

    Returns
    -------
    polars.DataFrame
        Canonical metrics frame: ``timestamp`` (the grid times that had at least two
        samples in their window), ``metric`` (the input name; with ``by``, the single
        input name or ``"increase"``), ``value``, then the series or ``by`` columns.

    Raises
    ------
    AnalysisError
        A required column is missing or ``timestamp`` is not a Datetime.
    ValueError
        A bad ``window``/``step`` duration.
    """
    return _rate_like(frame, window, step, start, end, by, fn="increase", is_counter=True, is_rate=False)


def delta(
    frame: pl.DataFrame,
    window: DurationLike = "5m",
    step: DurationLike = "1m",
    *,
    start: TimeArg | None = None,
    end: TimeArg | None = None,
    by: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Difference of gauges over ``window``, extrapolated, like PromQL ``delta``.

    Parameters
    ----------
    frame
        Metrics frame of raw samples (``timestamp``, ``metric``, ``value``, labels), e.g.
        loaded with ``PrometheusClient.query("x[1h]", time=...)`` or from a scrape log.
        Null values are ignored; NaN values are used (and propagate), as in Prometheus.
    window
        The range of the selector, ``x[<window>]``: seconds or ``"5m"``-style duration.
    step
        Spacing of the evaluation grid.
    start, end
        First and last evaluation time (``datetime``, RFC 3339 or epoch seconds). Default:
        the first and last sample times rounded up to a multiple of ``step``.
    by
        ``None``: one output series per input series. A list of columns: the per-series
        results are summed by ``(timestamp, *by)``, i.e. ``sum by (<by>) (delta(x[w]))``.

    Returns
    -------
    polars.DataFrame
        Canonical metrics frame: ``timestamp`` (the grid times that had at least two
        samples in their window), ``metric`` (the input name; with ``by``, the single
        input name or ``"delta"``), ``value``, then the series or ``by`` columns.

    Raises
    ------
    AnalysisError
        A required column is missing or ``timestamp`` is not a Datetime.
    ValueError
        A bad ``window``/``step`` duration.
    """
    return _rate_like(frame, window, step, start, end, by, fn="delta", is_counter=False, is_rate=False)
