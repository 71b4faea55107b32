"""Tests of obskit.analyze.multivariate: domain-classifier drift."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from obskit.analyze.multivariate import delong_ci, domain_classifier_drift
from obskit.errors import AnalysisError

N = 600


def _frame(seed: int, *, shift: float = 0.0, cat_p: tuple[float, float, float] = (0.5, 0.3, 0.2)) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1.0, N)
    a[rng.random(N) < 0.05] = np.nan
    return pl.DataFrame(
        {
            "a": a,
            "b": rng.normal(0.0, 1.0, N),
            "c": rng.choice(["x", "y", "z"], N, p=list(cat_p)),
            "d": rng.integers(0, 100, N),
            "request_id": [f"r{seed}-{i}" for i in range(N)],  # text: left out automatically
        }
    )


def test_no_drift_auc_ci_includes_half() -> None:
    res = domain_classifier_drift(_frame(0), _frame(1))
    assert res.columns == ("a", "b", "c", "d")
    assert res.auc_ci_low <= 0.5 <= res.auc_ci_high
    assert not res.drifted
    assert res.folds.height == 5 and res.importance.height == 4
    assert not res.sampled and (res.n_reference, res.n_current) == (N, N)


def test_numeric_shift_is_detected_and_ranked_first() -> None:
    res = domain_classifier_drift(_frame(0), _frame(1, shift=1.0))
    assert res.drifted
    assert res.auc > 0.65 and res.auc_ci_low > 0.55
    assert res.importance.row(0, named=True)["column"] == "a"
    assert res.importance["rank"].to_list() == [1, 2, 3, 4]
    assert "drift" in res.summary()


def test_categorical_shift_is_detected() -> None:
    res = domain_classifier_drift(_frame(0), _frame(1, cat_p=(0.2, 0.3, 0.5)))
    assert res.drifted
    top = res.importance.row(0, named=True)
    assert (top["column"], top["kind"]) == ("c", "categorical")


def test_sampling_is_stated() -> None:
    res = domain_classifier_drift(_frame(0), _frame(1), columns=["a", "c"], max_rows=200)
    assert res.sampled
    assert (res.n_reference, res.n_current, res.n_reference_total, res.n_current_total) == (200, 200, N, N)
    assert "200 of 600 reference rows" in res.summary()


def test_delong_matches_sklearn_auc() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    s = rng.normal(size=500) + y * 0.8
    s[:50] = 0.0  # ties
    auc, lo, hi = delong_ci(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s))
    assert lo < auc < hi


def test_errors() -> None:
    ref = _frame(0)
    with pytest.raises(AnalysisError, match="cv"):
        domain_classifier_drift(ref, ref, cv=1)
    with pytest.raises(AnalysisError, match="missing"):
        domain_classifier_drift(ref, ref.drop("b"), columns=["b"])
    with pytest.raises(AnalysisError, match="kind"):
        domain_classifier_drift(ref, ref, columns=["request_id"])
