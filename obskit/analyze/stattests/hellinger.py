"""Hellinger distance (``hellinger``): drift when ``>= threshold`` (default 0.1).

Categorical columns: from per-value shares (so from counts too). Numeric columns: Evidently
takes Sturges bins over the *distinct* values of both samples, which needs every value.

>>> round(HELLINGER.func(["a", "b"] * 50, ["a"] * 100, "categorical"), 4)
0.5412
"""

from __future__ import annotations

import numpy as np

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import IntArray, Sample, hist_sorted, joint_counts

__all__ = ["HELLINGER", "hellinger_counts"]


def hellinger_counts(rc: IntArray, cc: IntArray) -> float:
    """Hellinger distance of the shares of two aligned count vectors."""
    bc = float(np.sum(np.sqrt((rc / rc.sum()) * (cc / cc.sum()))))
    return float(np.sqrt(1 - np.clip(bc, 0, 1)))


def _on_samples(ref: Sample, cur: Sample) -> float:
    if ref.kind == "categorical":
        return hellinger_counts(*joint_counts(ref, cur))
    keys = np.union1d(ref.value_counts[0], cur.value_counts[0])
    edges = np.histogram_bin_edges(keys, bins="sturges")
    widths = np.diff(edges)
    h1 = hist_sorted(ref.sorted, edges)
    h2 = hist_sorted(cur.sorted, edges)
    d1 = h1 / widths / h1.sum()
    d2 = h2 / widths / h2.sum()
    bin_width = (edges.max() - edges.min()) / (len(edges) - 1)
    bc = float(np.sum(np.sqrt(d1 * d2) * bin_width))
    return float(np.sqrt(1 - np.clip(bc, 0, 1)))


HELLINGER = register(StatTest("hellinger", kinds("numeric", "categorical"), 0.1, False, "Hellinger distance",
                              on_samples=_on_samples, on_counts=hellinger_counts,
                              counts_kinds=kinds("categorical")))
