"""k-sample Anderson-Darling test (``anderson``): p-value (scipy's capped one), drift when ``< threshold``.

Needs every value: not available on streamed data.

>>> import numpy as np
>>> ANDERSON.func(np.arange(100.0), np.arange(100.0) + 50) < 0.1
True
"""

from __future__ import annotations

import warnings

from scipy import stats

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import Sample

__all__ = ["ANDERSON"]


def _on_samples(ref: Sample, cur: Sample) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.anderson_ksamp([ref.sorted, cur.sorted])[2])


ANDERSON = register(StatTest("anderson", kinds("numeric"), 0.1, True, "Anderson-Darling", on_samples=_on_samples))
