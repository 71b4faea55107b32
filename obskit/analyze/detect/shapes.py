"""The detectors' raw statistics: shape distances, level deviation and the series' period.

Each function is causal: the value of row ``i`` reads rows ``0..i`` only, so
:func:`obskit.analyze.detect.score` can calibrate it online against its own past.

Examples
--------
>>> import numpy as np
>>> x = np.sin(np.arange(1000) * 2 * np.pi / 48)
>>> estimate_period(x)
48
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from obskit.analyze.online import trailing
from obskit.errors import InvalidArgument

__all__ = ["estimate_period", "ffill", "gap_windows", "knn_distance", "level_deviation"]


def ffill(x: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward (leading NaN stay NaN); causal.

    Examples
    --------
    >>> ffill(np.array([np.nan, 1.0, np.nan, 3.0])).tolist()
    [nan, 1.0, 1.0, 3.0]
    """
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    if ok.all():
        return x
    idx = np.where(ok, np.arange(x.size), 0)
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    out[~ok & (idx == 0) & ~ok[0]] = np.nan
    return out


def gap_windows(x: np.ndarray, m: int) -> np.ndarray:
    """Rows whose last ``m`` values include a missing one (its carried-forward value is no shape).

    Examples
    --------
    >>> gap_windows(np.array([1.0, np.nan, 2.0, 3.0, 4.0]), 2).tolist()
    [False, True, True, False, False]
    """
    missing = ~np.isfinite(np.asarray(x, dtype=np.float64))
    if not missing.any():
        return missing
    c = np.cumsum(np.r_[0, missing.astype(np.int64)])
    i = np.arange(missing.size)
    return (c[i + 1] - c[np.maximum(0, i - m + 1)]) > 0


def estimate_period(x: np.ndarray, *, shortest: int = 8, min_correlation: float = 0.3) -> int | None:
    """The series' dominant period in rows, from its autocorrelation, or None.

    The period is the shortest lag, between the first negative autocorrelation (or
    ``shortest``) and half the series' length, where the autocorrelation function peaks
    (its highest value within a tenth of the lag either side) within 90 % of its highest
    peak (multiples of the period correlate almost as well), if that peak reaches
    ``min_correlation`` (0.5 beyond a third of the length, where fewer than three cycles are
    in view and random walks show bumps of 0.3-0.4; a wrong period on red noise only picks
    the discord member's shape length, whose alarms stay calibrated).
    :func:`obskit.analyze.detect.score` calls it on the warm-up rows only, so the shape
    lengths it derives never read later rows.

    Parameters
    ----------
    x
        The rows to estimate from (gaps are carried forward; None if more than half are missing).
    shortest
        The shortest period considered.
    min_correlation
        The least autocorrelation at that lag for the period to count.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> estimate_period(np.sin(np.arange(2000) * 2 * np.pi / 150) + rng.normal(0, 0.3, 2000))
    150
    >>> estimate_period(rng.normal(0, 1, 2000)) is None
    True
    """
    v = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(v)
    if finite.sum() < 0.5 * v.size:
        return None  # too many gaps to trust a period
    v = ffill(v[int(np.argmax(finite)):])  # gaps carried forward: rows keep their place in time
    n = v.size
    longest = n // 2
    if longest <= shortest + 1:
        return None
    y = v - v.mean()
    scale = np.max(np.abs(y))
    if not scale > 0:
        return None
    y = y / scale
    f = np.fft.rfft(y, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:longest + 1]
    acf = acf / acf[0]
    below = np.flatnonzero(acf[1:] < 0)  # a cycle first decorrelates: peaks before that are the slope at 0
    if below.size == 0:
        return None
    lags = np.arange(max(shortest, int(below[0]) + 1), longest)
    if lags.size == 0:
        return None
    a = acf[lags]
    # a peak is the highest value within a tenth of its lag either side (noise makes small bumps)
    top = np.array([acf[max(1, lag - max(2, lag // 10)): lag + max(2, lag // 10) + 1].max() for lag in lags.tolist()])
    # fewer than three cycles in view: red noise has long-lag bumps too, so ask for more
    peak = (a >= top) & (a >= np.where(lags * 3 > n, max(min_correlation, 0.5), min_correlation))
    if not peak.any():
        return None
    # multiples of the period correlate almost as well: the shortest lag near the best peak
    best = a[peak].max()
    return int(lags[peak][np.argmax(a[peak] >= 0.9 * best)])


def knn_distance(x: np.ndarray, m: int = 10, *, k: int = 10, history: int = 750, block: int = 50) -> np.ndarray:
    """Mean distance from each row's last ``m`` values to their ``k`` nearest past shapes.

    The candidate shapes end between ``history`` rows and ``m`` rows before the scored block
    (rows are scored in blocks of ``block`` against the same past, so no row ever sees
    itself or a later row). NaN until ``k + 1`` past shapes exist.

    Examples
    --------
    >>> x = np.r_[np.tile([0.0, 1.0], 100), 5.0]
    >>> d = knn_distance(x, m=4, k=3)
    >>> float(d[-2]), float(d[-1]) > 3
    (0.0, True)
    """
    from scipy.spatial import cKDTree

    if m < 1 or k < 1 or block < 1:
        raise InvalidArgument("knn_distance needs m, k and block of at least 1")
    x_in = x
    x = ffill(x)
    n = x.size
    out = np.full(n, np.nan)
    if n < m + k + 1:
        return out
    shapes = sliding_window_view(np.nan_to_num(x, nan=0.0), m)  # shapes[j] ends at row j + m - 1
    for b0 in range(m - 1, n, block):
        b1 = min(n, b0 + block)
        lo, hi = max(m - 1, b0 - history), b0 - m  # ends of the reference shapes
        if hi - lo + 1 < k + 1:
            continue
        tree = cKDTree(shapes[lo - m + 1: hi - m + 2])
        dist, _ = tree.query(shapes[b0 - m + 1: b1 - m + 1], k=k)
        out[b0:b1] = dist.mean(axis=1) if k > 1 else dist
    out[gap_windows(x_in, m)] = np.nan  # a gap carried forward is no shape
    return out


def level_deviation(x: np.ndarray, window: int = 256) -> np.ndarray:
    """``|x - median| / sigma`` against the previous ``window`` rows (sigma = IQR / 1.349).

    A flat past has a tiny floor as sigma (relative to the level), so any change from a
    constant series stands out; :func:`obskit.analyze.detect.score` then judges it against
    past deviations.

    Examples
    --------
    >>> level_deviation(np.r_[np.tile([9.0, 11.0], 20), 30.0], window=40)[-1].round(2)
    np.float64(13.49)
    """
    x = np.asarray(x, dtype=np.float64)
    med = trailing(x, window, "median")
    iqr = trailing(x, window, "q75") - trailing(x, window, "q25")
    sigma = np.maximum(np.nan_to_num(iqr / 1.349, nan=0.0), 1e-6 * (np.abs(np.nan_to_num(med)) + 1e-3))
    return np.abs(x - med) / sigma
