"""Pooled two-proportion z-test (``z``) for two-valued columns: p-value, drift when ``p < threshold``.

Also the home of :func:`pooled_z`, the statistic other analyses (error rates of two model
versions) compare proportions with.

>>> Z.func(["a", "b"] * 50, ["a"] * 80 + ["b"] * 20, "categorical") < 0.05
True
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import IntArray

__all__ = ["Z", "pooled_z", "z_counts"]


def pooled_z(x1: float, n1: float, x2: float, n2: float) -> float:
    """``(x1/n1 - x2/n2) / se`` with the pooled standard error; NaN (or +-inf) when ``se`` is 0.

    >>> round(pooled_z(30, 1000, 10, 1000), 4)
    3.1944
    """
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2)
    if var <= 0:
        return math.nan if p1 == p2 else math.copysign(math.inf, p1 - p2)
    return (p1 - p2) / math.sqrt(var)


def z_counts(rc: IntArray, cc: IntArray) -> float:
    """Evidently's p-value from aligned counts: the first value against all others."""
    if rc.size == 1:  # one single value, the same in both samples
        return 1.0
    nr, nc = int(rc.sum()), int(cc.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        z = pooled_z(float(nr - rc[0]), nr, float(nc - cc[0]), nc)
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


# Asked for explicitly on categorical columns; the automatic choice also uses it on numeric
# columns with at most two distinct values.
Z = register(StatTest("z", kinds("categorical"), 0.05, True, "Z-test p_value",
                      on_counts=z_counts, counts_kinds=kinds("numeric", "categorical")))
