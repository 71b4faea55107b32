"""One options object for every drift path: which columns, their kinds, which test, which threshold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from obskit.analyze.stattests._registry import StatTest, get_test
from obskit.analyze.stattests._sample import Sample
from obskit.analyze.stattests.choice import default_test
from obskit.errors import AnalysisError

__all__ = ["DriftOptions"]


@dataclass(frozen=True)
class DriftOptions:
    """What to test and how, shared by :func:`~obskit.analyze.drift.column_drift`,
    :func:`~obskit.analyze.drift.drift_over_time`, :func:`~obskit.scale.stream_drift` and
    :func:`~obskit.scale.distributed.dask_drift`.

    Parameters
    ----------
    columns
        Columns to test (default: every column of the reference with a drift kind).
    kinds
        Column -> ``"numeric"`` or ``"categorical"`` (default: inferred from the reference).
    method
        A registered test name for every column, or a mapping column -> name; columns
        without one get the automatic choice (:func:`~obskit.analyze.stattests.default_test`).
    threshold
        One threshold, or column -> threshold; default: the test's own.

    Examples
    --------
    >>> o = DriftOptions(method={"x": "psi"}, threshold=0.2)
    >>> o.method_for("x"), o.method_for("y"), o.threshold_for("y", get_test("ks"))
    ('psi', None, 0.2)
    """

    columns: Sequence[str] | None = None
    kinds: Mapping[str, str] | None = None
    method: str | Mapping[str, str] | None = None
    threshold: float | Mapping[str, float] | None = None

    def method_for(self, column: str) -> str | None:
        """The test name asked for ``column``, or None (automatic choice)."""
        return self.method.get(column) if isinstance(self.method, Mapping) else self.method

    def threshold_for(self, column: str, test: StatTest) -> float:
        """The threshold for ``column`` under ``test`` (the test's default when none is set)."""
        t = self.threshold.get(column) if isinstance(self.threshold, Mapping) else self.threshold
        return test.default_threshold if t is None else float(t)

    def test_for(self, reference: Sample, current: Sample) -> StatTest:
        """The test of a column: the one asked for (checked against the kind), else the automatic choice."""
        name = self.method_for(reference.name or "")
        if name is None:
            return default_test(reference, current)
        return self.asked_test(reference, name)

    def asked_test(self, reference: Sample, name: str) -> StatTest:
        """``get_test(name, kind)`` with the column named in the error."""
        try:
            return get_test(name, reference.kind)
        except AnalysisError as err:
            raise AnalysisError(err.reason, column=reference.name) from None

    @classmethod
    def of(cls, options: DriftOptions | None = None, **given: Any) -> DriftOptions:
        """``options`` with the non-None keyword values ``given`` laid over it."""
        base = options or cls()
        fields = {k: v for k, v in given.items() if v is not None}
        return cls(**{**base.__dict__, **fields}) if fields else base
