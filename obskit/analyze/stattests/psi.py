"""Population stability index (``psi``) in Evidently's bins: drift when ``>= threshold`` (0.1).

Empty bins get Evidently's fill (:func:`~obskit.analyze.stattests.fill_empty_bins`).

>>> round(PSI.func(["a", "b"] * 50, ["a"] * 55 + ["b"] * 45, "categorical"), 4)
0.01
"""

from __future__ import annotations

import numpy as np

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import IntArray, fill_empty_bins

__all__ = ["PSI", "psi_counts"]


def psi_counts(rc: IntArray, cc: IntArray) -> float:
    """``sum((r - c) * ln(r / c))`` over the filled shares of two aligned count vectors."""
    rp, cp = fill_empty_bins(rc / rc.sum()), fill_empty_bins(cc / cc.sum())
    return float(np.sum((rp - cp) * np.log(rp / cp)))


PSI = register(StatTest("psi", kinds("numeric", "categorical"), 0.1, False, "PSI", on_counts=psi_counts,
                        binned=True))
