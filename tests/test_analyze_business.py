"""Attempts, confident rate, correction rate, calibrated quality estimate, classification metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from obskit.analyze.business import (
    HISTORICAL_CONFIDENT_RATE,
    business_metrics,
    classification_metrics,
    fit_calibration,
    quality_estimate,
)
from obskit.errors import AnalysisError
from tests import analyze_days as days

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_business_metrics_hand_computed() -> None:
    r = pl.DataFrame({
        "timestamp": [T0] * 6 + [T0 + timedelta(hours=1)] * 2,
        "status": ["ok", "ok", "ok", "ok", "ok", "error", "ok", "ok"],
        "confidence": [0.95, 0.85, 0.8, 0.3, 0.6, None, 0.1, 0.2],
        "corrected_label": ["x", None, None, "y", None, None, None, None],
    })
    out = business_metrics(r, confidence_threshold=0.8)
    assert out.select("attempts", "answered", "confident", "corrections", "corrected_confident").rows() == [
        (6, 5, 3, 2, 1), (2, 2, 0, 0, 0)]
    assert out["confident_rate"].to_list() == pytest.approx([0.6, 0.0])
    assert out["correction_rate"].to_list()[0] == pytest.approx(1 / 3)
    assert out["correction_rate"].to_list()[1] is None
    assert out["any_correction_rate"].to_list() == pytest.approx([0.4, 0.0])
    assert HISTORICAL_CONFIDENT_RATE == 0.7349


def test_isotonic_calibration_matches_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    conf = np.round(rng.uniform(0.2, 1.0, 3000), 3)
    right = rng.random(3000) < conf ** 2
    ref = pl.DataFrame({"confidence": conf, "prediction": "a", "label": np.where(right, "a", "b")})
    cal = fit_calibration(ref, "isotonic")
    grid = np.linspace(0.0, 1.0, 501)
    sk = IsotonicRegression(out_of_bounds="clip").fit(conf, right.astype(float))
    np.testing.assert_allclose(cal.apply(grid), sk.predict(grid), atol=1e-12)


def test_histogram_calibration_hand_computed() -> None:
    ref = pl.DataFrame({"confidence": [0.1, 0.2, 0.6, 0.7, 0.9], "prediction": ["a"] * 5,
                        "label": ["a", "b", "a", "a", "b"]})
    cal = fit_calibration(ref, "histogram", bins=2)
    assert cal.apply(np.array([0.0, 0.49, 0.5, 1.0])).tolist() == pytest.approx([0.5, 0.5, 2 / 3, 2 / 3])
    with pytest.raises(AnalysisError, match="method"):
        fit_calibration(ref, "platt")  # type: ignore[arg-type]


def test_classification_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    n = 600
    truth = rng.choice(["a", "b", "c", "d"], n)
    pred = np.where(rng.random(n) < 0.7, truth, rng.choice(["a", "b", "c", "e"], n))
    ts = [T0 + timedelta(minutes=int(m)) for m in np.sort(rng.integers(0, 120, n))]
    r = pl.DataFrame({"timestamp": ts, "prediction": pred, "label": truth})
    out = classification_metrics(r, "1h")
    hours = np.array([t.hour for t in ts])
    for h, row in zip((0, 1), out.iter_rows(named=True), strict=True):
        y, p = truth[hours == h], pred[hours == h]
        assert row["labelled"] == y.size
        assert row["accuracy"] == pytest.approx(accuracy_score(y, p))
        assert row["precision"] == pytest.approx(precision_score(y, p, average="macro", zero_division=0))
        assert row["recall"] == pytest.approx(recall_score(y, p, average="macro", zero_division=0))
        assert row["f1"] == pytest.approx(f1_score(y, p, average="macro", zero_division=0))
        assert row["truth"] == "label"


def test_classification_from_corrections() -> None:
    r = pl.DataFrame({"timestamp": [T0] * 4, "status": ["ok"] * 4, "prediction": ["a", "a", "b", "b"],
                      "corrected_label": [None, "b", None, None]})
    out = classification_metrics(r)
    assert out.select("labelled", "accuracy", "truth").row(0) == (4, 0.75, "corrections")


# ------------------------------------------------------------------ sample day


@pytest.fixture(scope="module")
def hourly() -> pl.DataFrame:
    return business_metrics(days.requests(), "1h", confidence_threshold=0.8)


def test_correction_rate_above_one_percent_after_15h(hourly: pl.DataFrame) -> None:
    start, _ = days.window("correction_rate")
    after = hourly.filter(pl.col("window_start") >= start)
    before = hourly.filter(pl.col("window_start") < start)
    assert after.height == 9
    assert (after["correction_rate"] > 0.01).all()
    assert (before["correction_rate"] < 0.01).all()


def test_confident_rate_drops_with_the_brightness_shift(hourly: pl.DataFrame) -> None:
    start, _ = days.window("feature_shift")
    before = hourly.filter(pl.col("window_start") < start)["confident_rate"]
    after = hourly.filter(pl.col("window_start") >= start + timedelta(hours=1))["confident_rate"]
    # the morning matches the historical figure the seeds quote
    assert abs(before.mean() - HISTORICAL_CONFIDENT_RATE) < 0.02  # type: ignore[operator]
    assert after.max() < before.min() - 0.1  # type: ignore[operator]


def test_quality_estimate_falls_after_the_shift() -> None:
    cal = fit_calibration(days.reference(), "isotonic")
    q = quality_estimate(days.requests(), "1h", calibration=cal)
    start, _ = days.window("feature_shift")
    before = q.filter(pl.col("window_start") < start)["expected_accuracy"].mean()
    after = q.filter(pl.col("window_start") >= start + timedelta(hours=1))["expected_accuracy"].mean()
    assert 0.85 < before < 0.97  # type: ignore[operator]
    assert after < before - 0.05  # type: ignore[operator]
    assert q["method"].unique().to_list() == ["isotonic"]


def test_clean_day_business_is_steady() -> None:
    out = business_metrics(days.requests(clean=True), "1h")
    assert (out["correction_rate"] < 0.01).all()
    assert out["confident_rate"].max() - out["confident_rate"].min() < 0.05  # type: ignore[operator]
