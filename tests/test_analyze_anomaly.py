"""Robust z-scores (MAD, seasonal), CUSUM and PELT change points."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from obskit.analyze.anomaly import anomalies, change_points, cusum, pelt, robust_zscore
from obskit.analyze.business import business_metrics
from obskit.errors import AnalysisError
from tests import analyze_days as days

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _series(values: list[float] | np.ndarray, step_min: int = 5) -> pl.DataFrame:
    return pl.DataFrame({"window_start": [T0 + timedelta(minutes=step_min * i) for i in range(len(values))],
                         "value": np.asarray(values, dtype=float)})


def test_mad_zscore_hand_computed() -> None:
    # trailing window [8, 9, 10, 11, 12]: median 10, MAD 1 -> z(14) = 0.6745 * 4 / 1
    out = robust_zscore(_series([8, 9, 10, 11, 12, 14]), window=5, min_periods=5)
    last = out.row(-1, named=True)
    assert last["baseline"] == 10.0
    assert last["scale"] == pytest.approx(1 / 0.6745)
    assert last["zscore"] == pytest.approx(0.6745 * 4)
    assert out["zscore"][:5].is_null().all()
    assert last["basis"] == "rolling"


def test_mad_zero_falls_back_to_mean_absolute_deviation() -> None:
    # window [10, 10, 11, 9, 10, 10]: MAD 0, mean absolute deviation 1/3 -> sigma 1.253314 / 3
    out = robust_zscore(_series([10, 10, 11, 9, 10, 10, 30]), window=6, min_periods=6)
    assert out["zscore"][-1] == pytest.approx(20 / (1.253314 / 3))
    flat = robust_zscore(_series([5.0] * 8), window=6, min_periods=6)
    assert flat["zscore"].drop_nulls().to_list() == [0.0, 0.0]
    with pytest.raises(AnalysisError):
        robust_zscore(_series([1.0]), window=0)


def test_seasonal_scores_ignore_the_daily_peak() -> None:
    # three days of a daily cycle (5-minute windows) with one spike on day 3
    i = np.arange(3 * 288)
    rng = np.random.default_rng(0)
    v = 100 + 80 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 2, i.size)
    v[2 * 288 + 100] += 40
    f = _series(v)
    seasonal = robust_zscore(f, window=48)
    day3 = seasonal.filter(pl.col("window_start") >= T0 + timedelta(days=2))
    assert (day3["basis"] == "same time last period").all()
    spike = T0 + timedelta(days=2, minutes=500)
    assert day3.filter("anomaly")["window_start"].to_list() == [spike]
    # without the seasonal comparison the slopes of the cycle raise false alarms and the spike scores lower
    plain = robust_zscore(f, window=48, seasonal="never").filter(pl.col("window_start") >= T0 + timedelta(days=2))
    assert plain.filter("anomaly").height > 5
    z_of = lambda fr: fr.filter(pl.col("window_start") == spike)["zscore"].item()  # noqa: E731
    assert z_of(day3) > 1.5 * z_of(plain)
    assert seasonal.filter(pl.col("window_start") < T0 + timedelta(days=1))["basis"].unique().to_list() == ["rolling"]
    # a one-day series is scored against the rolling window
    assert robust_zscore(f.head(288))["basis"].unique().to_list() == ["rolling"]


def test_cusum_on_a_step() -> None:
    x = np.r_[np.zeros(20), np.full(20, 3.0)]
    # z = 3 per point, k = 0.5: S+ = 2.5, 5.0, 7.5 at points 20, 21, 22 -> alarm at 22 (> 5)
    assert cusum(x, mu=0.0, sigma=1.0, k=0.5, h=5.0) == [(22, 20, 1)]
    down = np.r_[np.full(30, 10.0), np.full(30, 8.0)] + np.tile([0.3, -0.3], 30)
    alarms = cusum(down)
    assert len(alarms) == 1 and alarms[0][2] == -1 and 29 <= alarms[0][1] <= 31
    assert cusum(np.array([np.nan])) == []


def test_pelt_finds_steps_and_nothing_in_noise() -> None:
    rng = np.random.default_rng(4)
    y = np.r_[np.zeros(100), np.full(100, 2.0), np.full(88, -1.0)] + rng.normal(0, 1, 288)
    cps = pelt(y)
    assert len(cps) == 2 and abs(cps[0] - 100) <= 3 and abs(cps[1] - 200) <= 3
    false = sum(len(pelt(np.random.default_rng(s).normal(0, 1, 288))) for s in range(50))
    assert false <= 2
    with pytest.raises(AnalysisError, match="NaN"):
        pelt(np.array([1.0, math.nan, 2.0, 3.0]))


def test_change_points_and_anomalies_on_frames() -> None:
    f = _series([1.0, 1.2] * 15 + [5.0, 5.2] * 15)
    for method in ("pelt", "cusum"):
        cp = change_points(f, method=method)
        assert cp.height == 1
        row = cp.row(0, named=True)
        assert row["window_start"] == T0 + timedelta(minutes=150)
        assert row["detected_at"] >= row["window_start"]
        assert row["before"] == pytest.approx(1.1) and row["after"] == pytest.approx(5.1)
    found = anomalies(f, change_method="pelt")
    assert "change_point" in found["kind"].to_list()


def test_confident_rate_change_at_the_brightness_shift() -> None:
    conf = business_metrics(days.requests(), "15m").select("window_start", pl.col("confident_rate").alias("value"))
    cp = change_points(conf)
    start, _ = days.window("feature_shift")
    main = cp.sort("score", descending=True).row(0, named=True)
    assert abs((main["window_start"] - start).total_seconds()) <= 3600
    assert main["after"] < main["before"] - 0.1
    clean = business_metrics(days.requests(clean=True), "15m").select(
        "window_start", pl.col("confident_rate").alias("value"))
    assert change_points(clean).height == 0
