"""Two-sample Kolmogorov-Smirnov test (``ks``): p-value, drift when ``p <= threshold``.

On a reference-binned histogram both CDFs are exact at the bin edges, so the KS distance is
known to within the largest current share of one bin; the p-values of the two distance
bounds bracket the exact p-value.

>>> import numpy as np
>>> KS.func(np.arange(100.0), np.arange(100.0) + 50) < 0.05
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import Sample

__all__ = ["KS", "ks_pvalue"]


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """p-value of the two-sided two-sample KS distance ``d``, as ``scipy.stats.ks_2samp(method="auto")``.

    >>> x = np.arange(100.0)
    >>> abs(ks_pvalue(0.5, 100, 100) - float(stats.ks_2samp(x, x + 50)[1])) < 1e-12
    True
    """
    if max(n1, n2) <= 10_000:
        try:
            from scipy.stats._stats_py import _attempt_exact_2kssamp

            ok, _, prob = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
            if ok:
                return float(np.clip(prob, 0, 1))
        except (ImportError, TypeError, ValueError):  # pragma: no cover - scipy internals moved
            pass
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def _on_samples(ref: Sample, cur: Sample) -> float:
    return float(stats.ks_2samp(ref.sorted, cur.sorted)[1])


def _on_histogram(hist: Any, ref: Sample) -> tuple[float, float, float]:
    d, d_lo, d_hi = hist.ks_bounds(ref.sorted)
    return ks_pvalue(d, ref.n, hist.n), ks_pvalue(d_hi, ref.n, hist.n), ks_pvalue(d_lo, ref.n, hist.n)


KS = register(StatTest("ks", kinds("numeric"), 0.05, True, "K-S p_value", inclusive=True,
                       on_samples=_on_samples, on_histogram=_on_histogram))
