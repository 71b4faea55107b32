"""Drift tests, one module per test, reproducing Evidently 0.7's stat-test semantics.

Every test is one :class:`StatTest` in :data:`STAT_TESTS`, registered by its own module
(:mod:`~obskit.analyze.stattests.ks`, :mod:`~obskit.analyze.stattests.psi`, ...): its name
(Evidently's, so a method string means the same thing in both tools), the column kinds it
accepts, its default threshold, whether its statistic is a p-value, and its statistic on
samples and, where one exists, on counts (what the streaming and Dask paths merge). Every
drift path looks tests up here: :func:`~obskit.analyze.drift.column_drift`,
:func:`~obskit.analyze.drift.drift_over_time`, :func:`~obskit.scale.stream_drift` and
:func:`~obskit.scale.distributed.dask_drift`. A new test is one module that calls
:func:`register`; nothing else changes.

Verdict
    A p-value test flags drift when ``p < threshold`` (``ks`` and ``cramer_von_mises`` use
    ``p <= threshold``, as Evidently does); a distance test flags drift when
    ``statistic >= threshold``. :meth:`StatTest.drifted` applies the right comparison.
Cleaning
    Nulls are dropped; for numeric columns NaN and +-inf are dropped too (Evidently replaces
    +-inf with NaN and drops NaN before testing). Numeric values are cast to ``Float64``.
Binning (``psi``, ``kl_div``, ``jensenshannon``: ``binned=True``)
    A numeric column with more than 20 distinct reference values is cut into Sturges bins
    spanning the combined reference+current range (``numpy.histogram_bin_edges(...,
    "sturges")`` on the concatenation); any other column uses one bin per distinct value
    seen in either sample. ``psi`` and ``kl_div`` then replace empty bins in each sample by
    ``1e-4`` (or by the smallest non-empty share / 1e6 when that share is itself <= 1e-4);
    ``jensenshannon`` does not smooth.
Automatic choice
    :func:`default_test` / :func:`auto_test` (see :mod:`obskit.analyze.stattests.choice`).
Options
    :class:`DriftOptions`: columns, kinds, method and threshold, for every path.

Examples
--------
>>> import numpy as np
>>> from obskit.analyze.stattests import get_test
>>> ks = get_test("ks")
>>> p = ks.func(np.arange(100.0), np.arange(100.0) + 50)
>>> bool(ks.drifted(p, ks.default_threshold))
True
>>> round(get_test("wasserstein").func(np.zeros(3) + [0, 1, 2], np.array([1.0, 2.0, 3.0])), 4)
1.2247
"""

from __future__ import annotations

from obskit.analyze.stattests import (  # noqa: F401  (each module registers its test)
    anderson,
    chisquare,
    cramer_von_mises,
    hellinger,
    jensenshannon,
    kl_div,
    ks,
    mannw,
    psi,
    t_test,
    wasserstein,
    z,
)
from obskit.analyze.stattests._registry import STAT_TESTS, StatTest, get_test, register, stream_mode, unregister
from obskit.analyze.stattests._sample import (
    BINNING_UNIQUE,
    KINDS,
    ArrayLike,
    Kind,
    Sample,
    binned_counts,
    binned_shares,
    fill_empty_bins,
    joint_counts,
    many_values,
    n_joint_unique,
    sturges_edges,
)
from obskit.analyze.stattests.choice import FEW_VALUES, SMALL_REFERENCE, auto_test, default_test
from obskit.analyze.stattests.options import DriftOptions
from obskit.analyze.stattests.wasserstein import normed_wasserstein

__all__ = [
    "BINNING_UNIQUE",
    "FEW_VALUES",
    "KINDS",
    "SMALL_REFERENCE",
    "STAT_TESTS",
    "ArrayLike",
    "DriftOptions",
    "Kind",
    "Sample",
    "StatTest",
    "auto_test",
    "binned_counts",
    "binned_shares",
    "default_test",
    "fill_empty_bins",
    "get_test",
    "joint_counts",
    "many_values",
    "n_joint_unique",
    "normed_wasserstein",
    "register",
    "stream_mode",
    "sturges_edges",
    "unregister",
]
