"""The :class:`StatTest` record and the registry every drift path looks tests up in.

A test gives its statistic in up to three forms, and each path uses what it needs:

``on_samples(reference, current)``
    On two cleaned :class:`~obskit.analyze.stattests.Sample` objects (the in-memory and
    over-time paths). Optional when ``on_counts`` is given: the counts are then taken in
    Evidently's bins (:func:`~obskit.analyze.stattests.binned_counts` when ``binned``,
    one bin per distinct value otherwise).
``on_counts(reference_counts, current_counts)``
    On aligned counts of the same bins: what the streaming and Dask paths merge exactly.
``on_histogram(histogram, reference)``
    On a current :class:`~obskit.scale.sketches.NumericHistogram` in reference-quantile
    bins: ``(statistic, low, high)``, the exact statistic lying in ``[low, high]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from obskit.analyze.stattests._sample import (
    ArrayLike,
    IntArray,
    Kind,
    Sample,
    as_sample,
    binned_counts,
    joint_counts,
    many_values,
)
from obskit.errors import AnalysisError

__all__ = ["STAT_TESTS", "StatTest", "get_test", "register", "stream_mode", "unregister"]

SampleStat = Callable[[Sample, Sample], float]
CountStat = Callable[[IntArray, IntArray], float]
HistogramStat = Callable[[Any, Sample], tuple[float, float, float]]
StreamMode = Literal["sturges", "histogram", "counts"]


@dataclass(frozen=True)
class StatTest:
    """One drift test.

    Attributes
    ----------
    name
        Registry name (Evidently's name, so a method string means the same in both tools).
    kinds
        Column kinds it may be asked for.
    default_threshold
        Threshold used when none is given.
    is_pvalue
        True: the statistic is a p-value (drift when small); False: a distance.
    display_name
        Evidently's display name (what its reports print as the method).
    inclusive
        p-value tests only: drift when ``p <= threshold`` instead of ``p < threshold``.
    on_samples, on_counts, on_histogram
        The statistic on samples, on aligned counts, on a reference-binned histogram.
    binned
        Numeric columns with more than 20 distinct reference values are compared in
        Evidently's Sturges bins (``psi``, ``kl_div``, ``jensenshannon``).
    counts_kinds
        Kinds for which ``on_counts`` of per-value counts equals the sample statistic.
    """

    name: str
    kinds: frozenset[Kind]
    default_threshold: float
    is_pvalue: bool
    display_name: str = ""
    inclusive: bool = False
    on_samples: SampleStat | None = None
    on_counts: CountStat | None = None
    on_histogram: HistogramStat | None = None
    binned: bool = False
    counts_kinds: frozenset[Kind] | None = None

    def __post_init__(self) -> None:
        if self.on_samples is None and self.on_counts is None:
            raise AnalysisError(f"test {self.name!r} needs on_samples or on_counts")

    def drifted(self, statistic: float, threshold: float | None = None) -> bool:
        """Evidently's verdict for ``statistic`` against ``threshold`` (default if None).

        >>> get_test("psi").drifted(0.1), get_test("t_test").drifted(0.05)
        (True, False)
        """
        t = self.default_threshold if threshold is None else threshold
        if self.is_pvalue:
            return bool(statistic <= t) if self.inclusive else bool(statistic < t)
        return bool(statistic >= t)

    def counts_apply(self, kind: Kind) -> bool:
        """Whether ``on_counts`` of per-value counts is the statistic for ``kind`` columns."""
        return self.on_counts is not None and kind in (self.counts_kinds or self.kinds)

    def compute(self, reference: Sample, current: Sample) -> float:
        """Statistic on two already-cleaned samples."""
        if reference.n == 0 or current.n == 0:
            side = "reference" if reference.n == 0 else "current"
            raise AnalysisError(f"no non-null values in the {side} data", column=reference.name)
        if self.on_samples is not None:
            return self.on_samples(reference, current)
        assert self.on_counts is not None
        rc, cc = binned_counts(reference, current) if self.binned else joint_counts(reference, current)
        return self.on_counts(rc, cc)

    def func(self, reference: ArrayLike | Sample, current: ArrayLike | Sample, kind: Kind | None = None) -> float:
        """The statistic on raw values (``kind`` defaults to numeric when the test accepts it).

        >>> round(get_test("psi").func(["a", "b"], ["a", "a"], "categorical"), 4)
        4.6043
        """
        k: Kind = kind or ("numeric" if "numeric" in self.kinds else "categorical")
        return self.compute(as_sample(reference, k), as_sample(current, k))


def stream_mode(test: StatTest, reference: Sample, tracked: bool) -> StreamMode | None:
    """How a histogram state computes ``test`` on a column like ``reference``, or None if it cannot.

    ``tracked``: the numeric state kept exact per-value counts (few distinct values).
    ``"sturges"``: a second pass counts the current data in Evidently's bins, then
    ``on_counts``; ``"histogram"``: ``on_histogram`` with its bound; ``"counts"``:
    ``on_counts`` of per-value counts.
    """
    if reference.kind == "numeric":
        if test.binned and test.on_counts is not None and many_values(reference):
            return "sturges"
        if test.on_histogram is not None:
            return "histogram"
        if not tracked or many_values(reference):
            return None
    return "counts" if test.counts_apply(reference.kind) else None


class _Registry(Mapping[str, StatTest]):
    """Name -> test, in registration order; :func:`register` adds, :func:`unregister` removes."""

    def __init__(self) -> None:
        self._tests: dict[str, StatTest] = {}

    def __getitem__(self, name: str) -> StatTest:
        return self._tests[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tests)

    def __len__(self) -> int:
        return len(self._tests)


#: Every registered test by name.
STAT_TESTS: Mapping[str, StatTest] = _Registry()


def register(test: StatTest, *, replace: bool = False) -> StatTest:
    """Add ``test`` to :data:`STAT_TESTS`: every drift path (in memory, over time, streaming,
    Dask) can then use it by name.

    >>> import numpy as np
    >>> t = register(StatTest("l1", frozenset({"categorical"}), 0.2, False,
    ...                       on_counts=lambda r, c: float(np.abs(r / r.sum() - c / c.sum()).sum())))
    >>> get_test("l1").func(["a", "b"], ["a", "a"], "categorical")
    1.0
    >>> unregister("l1")
    """
    reg = STAT_TESTS
    assert isinstance(reg, _Registry)
    if test.name in reg._tests and not replace:
        raise AnalysisError(f"a drift test named {test.name!r} is already registered")
    reg._tests[test.name] = test
    return test


def unregister(name: str) -> None:
    """Remove the test ``name`` (no error when absent)."""
    reg = STAT_TESTS
    assert isinstance(reg, _Registry)
    reg._tests.pop(name, None)


def get_test(name: str, kind: Kind | None = None) -> StatTest:
    """The registered test ``name``; with ``kind``, check that it accepts that kind.

    >>> get_test("psi").default_threshold
    0.1
    >>> get_test("ks", "categorical")
    Traceback (most recent call last):
    ...
    obskit.errors.AnalysisError: test 'ks' does not apply to categorical columns (only numeric)
    """
    test = STAT_TESTS.get(name)
    if test is None:
        raise AnalysisError(f"unknown drift test {name!r}; known: {', '.join(STAT_TESTS)}")
    if kind is not None and kind not in test.kinds:
        only = ", ".join(sorted(test.kinds))
        raise AnalysisError(f"test {name!r} does not apply to {kind} columns (only {only})")
    return test


def kinds(*names: Kind) -> frozenset[Kind]:
    """Shorthand for the ``kinds`` of a test."""
    return frozenset(names)

