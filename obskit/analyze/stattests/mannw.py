"""Mann-Whitney U test (``mannw``), one-sided "less" as Evidently runs it: p-value, drift when ``< threshold``.

Needs every value: not available on streamed data.

>>> import numpy as np
>>> MANNW.func(np.arange(100.0), np.arange(100.0) + 50) < 0.05
True
"""

from __future__ import annotations

from scipy import stats

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import Sample

__all__ = ["MANNW"]


def _on_samples(ref: Sample, cur: Sample) -> float:
    return float(stats.mannwhitneyu(ref.sorted, cur.sorted, alternative="less")[1])


MANNW = register(StatTest("mannw", kinds("numeric"), 0.05, True, "Mann-Whitney U-rank test", on_samples=_on_samples))
