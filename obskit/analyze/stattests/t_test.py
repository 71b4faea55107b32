"""Student's two-sample t-test (``t_test``, equal variances): p-value, drift when ``< threshold``.

Needs every value: not available on streamed data.

>>> import numpy as np
>>> T_TEST.func(np.arange(100.0), np.arange(100.0) + 50) < 0.05
True
"""

from __future__ import annotations

from scipy import stats

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import Sample

__all__ = ["T_TEST"]


def _on_samples(ref: Sample, cur: Sample) -> float:
    return float(stats.ttest_ind(ref.sorted, cur.sorted)[1])


T_TEST = register(StatTest("t_test", kinds("numeric"), 0.05, True, "t_test", on_samples=_on_samples))
