"""The automatic test choice (Evidently 0.7's ``get_stattest``), one rule for every path.

With at most :data:`SMALL_REFERENCE` non-null reference values a numeric column gets ``ks``
(``chisquare`` if it has 3-5 distinct values across both samples, ``z`` if at most 2) and a
categorical column ``chisquare`` (``z`` if at most 2 distinct values); with more, a numeric
column gets ``wasserstein`` (``jensenshannon`` if at most 5 distinct values) and a
categorical one ``jensenshannon``.
"""

from __future__ import annotations

from obskit.analyze.stattests._registry import StatTest, get_test
from obskit.analyze.stattests._sample import Kind, Sample, n_joint_unique

__all__ = ["FEW_VALUES", "SMALL_REFERENCE", "auto_test", "default_test"]

#: Reference size up to which Evidently picks p-value tests (``<=``).
SMALL_REFERENCE = 1000
#: Distinct values (both samples) up to which a numeric column is tested like a categorical.
FEW_VALUES = 5


def auto_test(kind: Kind, n_reference: int, n_values: int) -> StatTest:
    """The automatic choice from the column kind, the reference size and the distinct values
    across both samples (any count above :data:`FEW_VALUES` means "many").

    >>> auto_test("numeric", 5000, 6).name, auto_test("categorical", 200, 2).name
    ('wasserstein', 'z')
    """
    if n_reference <= SMALL_REFERENCE:
        if kind == "numeric" and n_values > FEW_VALUES:
            return get_test("ks")
        return get_test("chisquare" if n_values > 2 else "z")
    if kind == "numeric" and n_values > FEW_VALUES:
        return get_test("wasserstein")
    return get_test("jensenshannon")


def default_test(reference: Sample, current: Sample) -> StatTest:
    """:func:`auto_test` for two cleaned samples of one column.

    >>> import numpy as np
    >>> r = Sample(np.arange(2000.0), "numeric")
    >>> default_test(r, r).name
    'wasserstein'
    >>> default_test(Sample(["a", "b"] * 10, "categorical"), Sample(["a"], "categorical")).name
    'z'
    """
    return auto_test(reference.kind, reference.n, n_joint_unique(reference, current, FEW_VALUES))
