"""Change points of a series: Page's CUSUM (online) and PELT (offline, optimal).

:func:`cusum`, :func:`cusum_statistic`
    Page's tabular CUSUM on a numpy array: online alarms with the estimated start of each
    shift, or the decision statistic itself.
:func:`pelt`
    The optimal segmentation of the mean for a penalty (Killick et al. 2012).
:func:`change_points`
    Either, on a series frame, per label group, with the levels either side.

For anomalies (a row unusual against the series' own past) see
:func:`obskit.analyze.detect.score`.

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
from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl

from obskit.analyze._frames import require
from obskit.errors import AnalysisError

__all__ = ["change_points", "cusum", "cusum_statistic", "pelt"]

_K = 0.6745  # Phi^-1(0.75): makes MAD a consistent estimate of sigma for normal data


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
