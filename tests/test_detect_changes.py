"""Change points: CUSUM and PELT, on arrays and frames."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from obskit.analyze.business import business_metrics
from obskit.analyze.detect import change_points, cusum, pelt
from obskit.errors import AnalysisError
from tests import analyze_days as days

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _series(values: list[float] | np.ndarray, step_min: int = 5) -> pl.DataFrame:
    return pl.DataFrame({"window_start": [T0 + timedelta(minutes=step_min * i) for i in range(len(values))],
                         "value": np.asarray(values, dtype=float)})


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


def test_change_points_on_frames() -> None:
    f = _series([1.0, 1.2] * 15 + [5.0, 5.2] * 15)
    for method in ("pelt", "cusum"):
        cp = change_points(f, method=method)
        assert cp.height == 1
        row = cp.row(0, named=True)
        assert row["window_start"] == T0 + timedelta(minutes=150)
        assert row["detected_at"] >= row["window_start"]
        assert row["before"] == pytest.approx(1.1) and row["after"] == pytest.approx(5.1)
    with pytest.raises(AnalysisError, match="unknown method"):
        change_points(f, method="magic")  # type: ignore[arg-type]


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
