"""Kullback-Leibler divergence KL(reference || current) (``kl_div``) in Evidently's bins, in nats.

Empty bins get Evidently's fill; drift when ``>= threshold`` (default 0.1).

>>> round(KL_DIV.func(["a", "b"] * 50, ["a"] * 100, "categorical"), 4)
3.9121
"""

from __future__ import annotations

from scipy import stats

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import IntArray, fill_empty_bins

__all__ = ["KL_DIV", "kl_div_counts"]


def kl_div_counts(rc: IntArray, cc: IntArray) -> float:
    """``scipy.stats.entropy`` of the filled reference shares against the filled current shares."""
    rp, cp = fill_empty_bins(rc / rc.sum()), fill_empty_bins(cc / cc.sum())
    return float(stats.entropy(rp, cp))


KL_DIV = register(StatTest("kl_div", kinds("numeric", "categorical"), 0.1, False, "Kullback-Leibler divergence",
                           on_counts=kl_div_counts, binned=True))
