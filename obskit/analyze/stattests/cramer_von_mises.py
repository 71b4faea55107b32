"""Two-sample Cramer-von Mises test (``cramer_von_mises``): p-value, drift when ``p <= threshold``.

Needs every value (and two per sample): not available on streamed data.

>>> import numpy as np
>>> CRAMER_VON_MISES.func(np.arange(100.0), np.arange(100.0) + 50) <= 0.1
True
"""

from __future__ import annotations

from scipy import stats

from obskit.analyze.stattests._registry import StatTest, kinds, register
from obskit.analyze.stattests._sample import Sample
from obskit.errors import AnalysisError

__all__ = ["CRAMER_VON_MISES"]


def _on_samples(ref: Sample, cur: Sample) -> float:
    if ref.n <= 1 or cur.n <= 1:
        raise AnalysisError("cramer_von_mises needs at least two values in each sample", column=ref.name)
    return float(stats.cramervonmises_2samp(ref.sorted, cur.sorted).pvalue)


CRAMER_VON_MISES = register(StatTest("cramer_von_mises", kinds("numeric"), 0.1, True, "Cramer-von Mises",
                                     inclusive=True, on_samples=_on_samples))
