"""Pearson's chi-square test (``chisquare``) of current counts against reference shares: p-value.

The expected counts are the reference counts scaled to the current size; drift when
``p < threshold`` (default 0.05).

>>> round(CHISQUARE.func(["a", "b", "c"] * 30, ["a"] * 60 + ["b", "c"] * 15, "categorical"), 6) < 0.05
True
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import IntArray

__all__ = ["CHISQUARE", "chisquare_counts"]


def chisquare_counts(rc: IntArray, cc: IntArray) -> float:
    """p-value of the current counts ``cc`` against the reference counts ``rc`` (same bins)."""
    f_exp = rc * (cc.sum() / rc.sum())
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.chisquare(cc.astype(np.float64), f_exp)[1])


# Asked for explicitly on categorical columns; the automatic choice also uses it on numeric
# columns with 3-5 distinct values (per-value counts), as Evidently does.
CHISQUARE = register(StatTest("chisquare", kinds("categorical"), 0.05, True, "chi-square p_value",
                              on_counts=chisquare_counts, counts_kinds=kinds("numeric", "categorical")))
