"""Jensen-Shannon distance (``jensenshannon``) in Evidently's bins, no smoothing: drift when ``>= threshold``.

>>> round(JENSENSHANNON.func(["a", "b"] * 50, ["a"] * 100, "categorical"), 4)
0.4645
"""

from __future__ import annotations

from scipy.spatial import distance

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import IntArray

__all__ = ["JENSENSHANNON", "jensenshannon_counts"]


def jensenshannon_counts(rc: IntArray, cc: IntArray) -> float:
    """Jensen-Shannon distance (base e) of the shares of two aligned count vectors."""
    return float(distance.jensenshannon(rc / rc.sum(), cc / cc.sum()))


JENSENSHANNON = register(StatTest("jensenshannon", kinds("numeric", "categorical"), 0.1, False,
                                  "Jensen-Shannon distance", on_counts=jensenshannon_counts, binned=True))
