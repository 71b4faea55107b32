"""Anomalies in any series frame: robust rolling z-scores and change points (CUSUM, PELT).

A *series frame* has a time column (``window_start``), a numeric value column and
optional label columns; every result frame of :mod:`obskit.analyze` qualifies (p99 per
window, error rate, confident rate, GPU memory share...).

:func:`robust_zscore`
    The modified z-score ``0.6745 * (x - median) / MAD`` of each point against the
    trailing window of previous points (Iglewicz & Hoaglin). With at least two seasonal
    periods of data (default one day) the series is first compared with the same time one
    period earlier, so a daily traffic peak is not an anomaly.
:func:`cusum`, :func:`pelt`
    Change-point detection on a numpy array: Page's tabular CUSUM (online, reports the
    alarm and the estimated start of the shift) and PELT with a Gaussian mean-change cost
    (offline, optimal segmentation for a penalty).
:func:`change_points`, :func:`anomalies`
    The same on frames, per label group; ``anomalies`` gathers both kinds with a score.

Examples
--------
>>> import numpy as np
>>> x = np.r_[np.zeros(20), np.full(20, 3.0)]
>>> cusum(x, mu=0.0, sigma=1.0)
[(22, 20, 1)]
>>> pelt(x + np.tile([0.1, -0.1], 20))
[20]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from obskit.analyze._frames import every_us, require
from obskit.errors import AnalysisError

__all__ = ["anomalies", "change_points", "cusum", "cusum_statistic", "pelt", "robust_zscore"]

_K = 0.6745  # Phi^-1(0.75): makes MAD a consistent estimate of sigma for normal data
_MEANAD = 1.253314  # sqrt(pi/2): mean absolute deviation to sigma, used when MAD is 0


def _trailing_z(x: np.ndarray, window: int, min_periods: int, chunk: int = 4096,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, robust sigma and modified z of each point against its ``window`` predecessors.

    Vectorised over chunks of rows; NaN where fewer than ``min_periods`` finite predecessors
    exist, and a NaN z where the past is constant and the point differs from it (no scale to
    judge the change by; :func:`obskit.analyze.detect.score` handles breaks of a flat line).
    """
    n = x.size
    med = np.full(n, np.nan)
    sigma = np.full(n, np.nan)
    z = np.full(n, np.nan)
    views = sliding_window_view(np.r_[np.full(window, np.nan), x][:-1], window)  # rows before each row
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        v = views[c0:c1]
        enough = (~np.isnan(v)).sum(axis=1) >= min_periods
        if not enough.any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            m = np.nanmedian(v, axis=1)
            dev = np.abs(v - m[:, None])
            mad = np.nanmedian(dev, axis=1)
            mean_ad = np.nanmean(dev, axis=1)
        s_ = np.where(mad > 0, mad / _K, mean_ad * _MEANAD)
        d = x[c0:c1] - m
        with np.errstate(invalid="ignore", divide="ignore"):
            zz = np.where(s_ > 0, d / np.where(s_ > 0, s_, 1.0), np.where(d == 0, 0.0, np.nan))
        ok = enough & ~np.isnan(x[c0:c1])
        med[c0:c1] = np.where(ok, m, np.nan)
        sigma[c0:c1] = np.where(ok, s_, np.nan)
        z[c0:c1] = np.where(ok, zz, np.nan)
    return med, sigma, z


def robust_zscore(
    frame: pl.DataFrame,
    value: str = "value",
    *,
    time: str = "window_start",
    by: Sequence[str] = (),
    window: int = 24,
    min_periods: int = 6,
    seasonal: Literal["auto", "always", "never"] = "auto",
    period: str = "1d",
    threshold: float = 3.5,
) -> pl.DataFrame:
    """Robust z-score of every point against the trailing window, seasonality-aware.

    Parameters
    ----------
    frame
        A series frame (``time``, ``value``, ``by`` columns).
    value, time, by
        Column names.
    window
        Number of previous points forming the baseline (the current point is excluded);
        24 is two hours of 5-minute windows. Much smaller windows make the MAD noisy.
    min_periods
        Fewest non-null previous points needed for a score (else null).
    seasonal
        ``"auto"``: compare with the same time one ``period`` earlier for rows with at
        least two periods of the group before them (decided per row, so earlier rows never
        depend on later ones); ``"always"``/``"never"`` force it. Seasonal scoring works on
        the differences ``x(t) - x(t - period)``; points without a value one period
        earlier fall back to the plain rolling score.
    period
        Length of the season (``"1d"``; ``"7d"`` for weekly patterns).
    threshold
        ``|zscore| >= threshold`` marks an anomaly (3.5 is Iglewicz & Hoaglin's advice).

    Returns
    -------
    polars.DataFrame
        The input columns plus ``baseline`` (expected value), ``scale`` (robust sigma),
        ``zscore``, ``anomaly`` (bool) and ``basis`` (``"rolling"`` or
        ``"same time last period"``), sorted by group and time.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> f = pl.DataFrame({"window_start": [t0 + timedelta(minutes=5 * i) for i in range(6)],
    ...                   "value": [8.0, 9.0, 10.0, 11.0, 12.0, 14.0]})
    >>> robust_zscore(f, window=5, min_periods=5).select(pl.col("zscore").round(4), "anomaly").row(-1)
    (2.698, False)
    """
    require(frame, [time, value, *by], "robust_zscore")
    if window < 1 or min_periods < 1:
        raise AnalysisError("window and min_periods must be >= 1")
    period_us = every_us(period)
    keys = list(by)
    df = frame.sort([*keys, time])
    parts = df.partition_by(keys, maintain_order=True) if keys else [df]
    out = []
    for part in parts:
        t = part.get_column(time).dt.epoch("us").to_numpy()
        x = part.get_column(value).cast(pl.Float64).fill_null(np.nan).to_numpy()
        # causal: a row uses the seasonal basis once two periods of the group lie behind it
        use_season = np.full(t.size, seasonal == "always")
        if seasonal == "auto" and t.size:
            use_season = (t - t[0]) >= 2 * period_us
        med, sigma, z = _trailing_z(x, window, min_periods)
        baseline = med
        basis = np.full(x.size, "rolling", dtype=object)
        if use_season.any():
            pos = np.searchsorted(t, t - period_us)
            has = (pos < t.size) & (t[np.minimum(pos, t.size - 1)] == t - period_us)
            lag = np.where(has, x[np.minimum(pos, t.size - 1)], np.nan)
            diff = x - lag
            dmed, dsig, dz = _trailing_z(diff, window, min_periods)
            ok = use_season & has & ~np.isnan(dz)
            baseline = np.where(ok, lag + dmed, med)
            sigma = np.where(ok, dsig, sigma)
            z = np.where(ok, dz, z)
            basis = np.where(ok, "same time last period", basis)
        out.append(
            part.with_columns(
                pl.Series("baseline", baseline).fill_nan(None),
                pl.Series("scale", sigma).fill_nan(None),
                pl.Series("zscore", z).fill_nan(None),
                pl.Series("basis", basis.astype(str), dtype=pl.String),
            )
        )
    res = pl.concat(out) if out else df.with_columns(
        pl.lit(None, dtype=pl.Float64).alias("baseline"),
        pl.lit(None, dtype=pl.Float64).alias("scale"),
        pl.lit(None, dtype=pl.Float64).alias("zscore"),
        pl.lit(None, dtype=pl.String).alias("basis"),
    )
    res = res.with_columns((pl.col("zscore").abs() >= threshold).fill_null(False).alias("anomaly"))
    return res.select(*frame.columns, "baseline", "scale", "zscore", "anomaly", "basis")


# ------------------------------------------------------------------ change points


def _robust_sigma(x: np.ndarray) -> float:
    """Noise level from first differences, robust to level shifts: median(|diff|) / 0.6745 / sqrt(2)."""
    d = np.diff(x[~np.isnan(x)])
    if d.size == 0:
        return 0.0
    s = float(np.median(np.abs(d))) / _K / math.sqrt(2)
    if s <= 1e-12 * max(1.0, float(np.max(np.abs(x[~np.isnan(x)])))):
        s = float(np.std(d)) / math.sqrt(2)
    return s


def _cusum(values: np.ndarray, k: float, h: float, mu: float | None, sigma: float | None,
           warmup: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    x = np.asarray(values, dtype=np.float64)
    stat = np.full(x.size, np.nan)
    finite_idx = np.flatnonzero(~np.isnan(x))
    if finite_idx.size == 0:
        return stat, []
    first = x[finite_idx[:max(2, warmup)]]  # the warm-up prefix only: no look-ahead
    m = float(np.median(first)) if mu is None else float(mu)
    s = _robust_sigma(first) if sigma is None else float(sigma)
    s = max(s, 1e-9 * (1.0 + abs(m)))
    hi = lo = 0.0
    hi_start = lo_start = 0
    alarms: list[tuple[int, int, int]] = []
    for i in finite_idx.tolist():
        xi = float(x[i])
        z = (xi - m) / s
        if hi == 0.0:
            hi_start = i
        if lo == 0.0:
            lo_start = i
        hi = max(0.0, hi + z - k)
        lo = max(0.0, lo - z - k)
        stat[i] = max(hi, lo)
        if hi > h or lo > h:
            up = hi > h
            start = hi_start if up else lo_start
            alarms.append((i, start, 1 if up else -1))
            m = float(np.nanmedian(x[start:i + 1]))
            hi = lo = 0.0
    return stat, alarms


def cusum(
    values: np.ndarray,
    *,
    k: float = 0.5,
    h: float = 5.0,
    mu: float | None = None,
    sigma: float | None = None,
    warmup: int = 30,
) -> list[tuple[int, int, int]]:
    """Page's two-sided tabular CUSUM on standardised values, online.

    ``S+ = max(0, S+ + z - k)`` and ``S- = max(0, S- - z - k)`` with ``z = (x - mu) /
    sigma``; an alarm is raised when either exceeds ``h`` strictly (defaults k = 0.5, h = 5
    detect a one-sigma shift with an in-control run length of about 465 points on
    independent normal noise; real metrics are rarely that, see
    :func:`obskit.analyze.detect.score` for a calibrated detector). After an alarm the
    reference level ``mu`` becomes the median since the estimated start and the sums
    restart, so successive shifts are all reported. Causal: the defaults for ``mu`` and
    ``sigma`` come from the first ``warmup`` points only, so no verdict reads later rows.

    Parameters
    ----------
    values
        The series (NaN points are skipped).
    k, h
        Allowance and decision interval, in sigmas.
    mu, sigma
        In-control mean and standard deviation; default the median and the robust noise
        level (from first differences) of the first ``warmup`` points.
    warmup
        Points used to estimate ``mu`` and ``sigma``.

    Returns
    -------
    list of (alarm_index, start_index, direction)
        ``start_index`` is the point after the last time the alarming sum was zero (the
        estimated first shifted point); ``direction`` is +1 (up) or -1 (down).
        :func:`cusum_statistic` gives the sums themselves, to rank or re-threshold.

    Examples
    --------
    >>> cusum(np.r_[np.full(15, 10.0), np.full(10, 7.0)], sigma=1.0)
    [(17, 15, -1)]
    """
    return _cusum(values, k, h, mu, sigma, warmup)[1]


def cusum_statistic(
    values: np.ndarray,
    *,
    k: float = 0.5,
    h: float = 5.0,
    mu: float | None = None,
    sigma: float | None = None,
    warmup: int = 30,
) -> np.ndarray:
    """The CUSUM decision statistic ``max(S+, S-)`` per point, in sigmas (NaN where skipped).

    The same recursion as :func:`cusum` (the sums restart after each alarm at ``h``);
    comparing it with another threshold below ``h`` re-thresholds the detector.

    Examples
    --------
    >>> cusum_statistic(np.r_[np.zeros(3), np.full(3, 2.0)], mu=0.0, sigma=1.0).tolist()
    [0.0, 0.0, 0.0, 1.5, 3.0, 4.5]
    """
    return _cusum(values, k, h, mu, sigma, warmup)[0]


def pelt(values: np.ndarray, *, penalty: float | None = None, min_size: int = 2) -> list[int]:
    """Change points of the mean by PELT (Killick et al. 2012) with a Gaussian cost.

    The series is scaled by its robust noise level, the cost of a segment is its sum of
    squared deviations from its mean, and each change costs ``penalty`` (default
    ``3 * log(n)``: about 1 % of pure-noise series of 288 points get a false change).
    PELT finds the exact optimum of that penalised cost, pruning candidates that can no
    longer win.

    Parameters
    ----------
    values
        The series (no NaN).
    penalty
        Cost of one change, in units of the scaled series' variance.
    min_size
        Shortest segment.

    Returns
    -------
    list of int
        Indices where a new segment starts, ascending.

    Examples
    --------
    >>> pelt(np.r_[np.zeros(30), np.full(30, 1.0), np.zeros(30)] + np.tile([0.05, -0.05], 45))
    [30, 60]
    """
    x = np.asarray(values, dtype=np.float64)
    if np.isnan(x).any():
        raise AnalysisError("pelt: the series has NaN values; drop or fill them first")
    n = x.size
    if n < 2 * min_size:
        return []
    s = _robust_sigma(x)
    z = (x - np.median(x)) / (s if s > 0 else 1.0)
    pen = 3.0 * math.log(n) if penalty is None else float(penalty)
    c1 = np.r_[0.0, np.cumsum(z)]
    c2 = np.r_[0.0, np.cumsum(z * z)]

    def cost(starts: np.ndarray, t: int) -> np.ndarray:
        length = t - starts
        seg = c1[t] - c1[starts]
        return (c2[t] - c2[starts]) - seg * seg / length

    f = np.full(n + 1, np.inf)
    f[0] = -pen
    prev = np.zeros(n + 1, dtype=np.int64)
    cands = np.array([0], dtype=np.int64)
    for t in range(min_size, n + 1):
        ready = cands[t - cands >= min_size]
        if ready.size:
            total = f[ready] + cost(ready, t) + pen
            j = int(np.argmin(total))
            f[t] = total[j]
            prev[t] = ready[j]
            keep = (t - cands < min_size) | np.isin(cands, ready[total - pen <= f[t]])
            cands = cands[keep]
        nxt = t - min_size + 1
        if nxt >= min_size and np.isfinite(f[nxt]):
            cands = np.append(cands, nxt)
    out = []
    t = n
    while t > 0:
        s0 = int(prev[t])
        if s0 > 0:
            out.append(s0)
        t = s0
    return sorted(out)


def change_points(
    frame: pl.DataFrame,
    value: str = "value",
    *,
    time: str = "window_start",
    by: Sequence[str] = (),
    method: Literal["pelt", "cusum"] = "pelt",
    penalty: float | None = None,
    min_size: int = 3,
    k: float = 0.5,
    h: float = 5.0,
) -> pl.DataFrame:
    """Change points of a series frame, per label group.

    Parameters
    ----------
    frame
        A series frame; null values are dropped.
    method
        ``"pelt"`` (offline, optimal segmentation) or ``"cusum"`` (online alarms).
    penalty, min_size
        PELT parameters (see :func:`pelt`).
    k, h
        CUSUM parameters (see :func:`cusum`).

    Returns
    -------
    polars.DataFrame
        The ``by`` columns, ``time`` (first point of the new level), ``detected_at`` (the
        CUSUM alarm; equal to ``time`` for PELT), ``before``/``after`` (medians of the
        segments either side), ``score`` (``|after - before|`` in robust sigmas) and
        ``method``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> f = pl.DataFrame({"window_start": [t0 + timedelta(minutes=i) for i in range(40)],
    ...                   "value": [1.0, 1.2] * 10 + [5.0, 5.2] * 10})
    >>> change_points(f).select(pl.col("window_start").dt.minute(), "before", "after").rows()
    [(20, 1.1, 5.1)]
    """
    require(frame, [time, value, *by], "change_points")
    keys = list(by)
    df = frame.select(*keys, time, pl.col(value).cast(pl.Float64)).drop_nulls(value).sort([*keys, time])
    parts = df.partition_by(keys, maintain_order=True) if keys else [df]
    rows: list[dict[str, object]] = []
    for part in parts:
        x = part.get_column(value).to_numpy()
        ts = part.get_column(time).to_list()
        sigma = _robust_sigma(x)
        found: list[tuple[int, int]]
        if method == "pelt":
            found = [(i, i) for i in pelt(x, penalty=penalty, min_size=min_size)]
        elif method == "cusum":
            found = [(start, alarm) for alarm, start, _ in cusum(x, k=k, h=h)]
        else:
            raise AnalysisError(f"unknown method {method!r}; use 'pelt' or 'cusum'")
        bounds = [0, *[s for s, _ in found], x.size]
        label = {c: part.get_column(c)[0] for c in keys}
        for j, (start, alarm) in enumerate(found):
            before = float(np.median(x[bounds[j]:start])) if start > bounds[j] else math.nan
            after = float(np.median(x[start:bounds[j + 2]])) if bounds[j + 2] > start else math.nan
            score = abs(after - before) / sigma if sigma > 0 else math.inf
            rows.append({**label, time: ts[start], "detected_at": ts[alarm], "before": before, "after": after,
                         "score": score, "method": method})
    schema: dict[str, pl.DataType] = {c: frame.schema[c] for c in keys}
    schema.update({time: frame.schema[time], "detected_at": frame.schema[time], "before": pl.Float64(),
                   "after": pl.Float64(), "score": pl.Float64(), "method": pl.String()})
    return pl.DataFrame(rows, schema=schema)


def anomalies(
    frame: pl.DataFrame,
    value: str = "value",
    *,
    time: str = "window_start",
    by: Sequence[str] = (),
    threshold: float = 3.5,
    window: int = 24,
    seasonal: Literal["auto", "always", "never"] = "auto",
    period: str = "1d",
    change_method: Literal["pelt", "cusum"] | None = "pelt",
) -> pl.DataFrame:
    """Anomalous windows of a series frame: z-score outliers and level changes, with a score.

    Returns
    -------
    polars.DataFrame
        ``by`` columns, ``time``, ``value``, ``score`` (``|zscore|`` for outliers, the
        shift in robust sigmas for change points), ``kind`` (``"outlier"`` or
        ``"change_point"``), sorted by time.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> v = [10.0, 11.0, 9.0, 10.5, 9.5] * 6
    >>> v[20] = 40.0
    >>> f = pl.DataFrame({"window_start": [t0 + timedelta(minutes=i) for i in range(30)], "value": v})
    >>> anomalies(f, change_method=None).select(pl.col("window_start").dt.minute(), "kind").rows()
    [(20, 'outlier')]
    """
    z = robust_zscore(frame, value, time=time, by=by, window=window, seasonal=seasonal, period=period,
                      threshold=threshold)
    keys = list(by)
    out = z.filter(pl.col("anomaly")).select(
        *keys, time, pl.col(value).cast(pl.Float64).alias("value"), pl.col("zscore").abs().alias("score"),
        pl.lit("outlier").alias("kind"),
    )
    if change_method is not None:
        cp = change_points(frame, value, time=time, by=by, method=change_method)
        vals = frame.select(*keys, time, pl.col(value).cast(pl.Float64).alias("value"))
        cp = cp.join(vals, on=[*keys, time], how="left", nulls_equal=True).select(
            *keys, time, "value", "score", pl.lit("change_point").alias("kind")
        )
        out = pl.concat([out, cp], how="vertical_relaxed")
    return out.sort([time, *keys, "kind"])
