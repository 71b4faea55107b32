"""Normed Wasserstein-1 distance (``wasserstein``): drift when ``>= threshold`` (default 0.1).

The distance is divided by ``max(std(reference), 0.001)`` (Evidently's norm). On a
reference-binned histogram the tails are exact and the current CDF is known at the edges,
so the exact distance lies in a computed ``[low, high]``.

>>> round(normed_wasserstein([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]), 4)
1.2247
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import ArrayLike, FloatArray, Sample, as_sample

__all__ = ["WASSERSTEIN", "normed_wasserstein", "wasserstein_sorted"]


def wasserstein_sorted(a: FloatArray, b: FloatArray) -> float:
    """First Wasserstein distance of two sorted samples, ``integral |Qa(u) - Qb(u)| du``.

    The quantile function of ``a`` steps at ``i / n`` and that of ``b`` at ``j / m``. In
    integer units of ``1 / lcm(n, m)`` both step sets are arithmetic progressions, so their
    merge is computed (no comparison sort): an ``a`` step goes after the ``b`` steps strictly
    below it, a ``b`` step after the ``a`` steps at or below it. On each merged interval
    both quantile functions are constant. Equal sizes reduce to ``mean(|a - b|)``.

    >>> wasserstein_sorted(np.array([0.0, 1.0]), np.array([1.0, 2.0, 3.0]))
    1.5
    """
    n, m = int(a.size), int(b.size)
    if n == m:
        d = np.subtract(a, b)
        return float(np.mean(np.abs(d, out=d)))
    g = math.gcd(n, m)
    sa, sb = m // g, n // g  # step widths of a and b in units of 1 / lcm(n, m)
    total = n * sa  # lcm(n, m)
    if total > 2**53:  # the units would not be exact as float64
        return float(stats.wasserstein_distance(a, b))
    ua = np.arange(sa, total + 1, sa, dtype=np.int64)  # a's steps i * sa, i = 1..n
    ub = np.arange(sb, total + 1, sb, dtype=np.int64)  # b's steps j * sb, j = 1..m
    ib = (ua - 1) // sb  # b steps strictly below each a step = index of Qb there
    ia = (ub - 1) // sa  # a steps strictly below each b step = index of Qa there
    pos_a = ib + np.arange(n, dtype=np.int64)
    pos_b = ub // sa
    pos_b += np.arange(m, dtype=np.int64)
    u = np.empty(n + m + 1, dtype=np.float64)  # merged steps after a leading 0 (exact)
    u[0] = 0.0
    merged = u[1:]
    merged[pos_a] = ua
    merged[pos_b] = ub
    du = np.subtract(merged, u[:-1])
    gap = np.empty(n + m, dtype=np.float64)
    gap[pos_a] = a - b[ib]
    gap[pos_b] = a[ia] - b
    return float(np.dot(np.abs(gap, out=gap), du)) / total


def normed_wasserstein(reference: ArrayLike | Sample, current: ArrayLike | Sample) -> float:
    """Wasserstein-1 distance divided by ``max(std(reference), 0.001)`` (Evidently's norm)."""
    ref, cur = as_sample(reference, "numeric"), as_sample(current, "numeric")
    return wasserstein_sorted(ref.sorted, cur.sorted) / max(ref.std, 0.001)


def _on_histogram(hist: Any, ref: Sample) -> tuple[float, float, float]:
    norm = max(ref.std, 0.001)
    est, lo, hi = hist.wasserstein_bounds(ref.sorted)
    return est / norm, lo / norm, hi / norm


WASSERSTEIN = register(StatTest("wasserstein", kinds("numeric"), 0.1, False, "Wasserstein distance (normed)",
                                on_samples=normed_wasserstein, on_histogram=_on_histogram))
