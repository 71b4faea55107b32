"""The drift issue's must-show on the committed sample day (data/samples).

The sample day injects one feature incident (incidents.json, ``brightness-shift``): from
15:00 UTC an upstream client darkens images, mean brightness falls from ~118 to ~84 over
the first half hour, predictions move towards the dark classes (boots, jacket, wallet)
and confidence falls. Every other feature (contrast, file_size_kb, jpeg_quality, width,
height, client, region) keeps the reference distribution all day.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from obskit.analyze.drift import (
    KL_ALERT_THRESHOLD,
    drift_over_time,
    kl_divergence,
    prediction_drift_over_time,
)
from obskit.config import load_config
from obskit.load.logs import load_requests

STABLE = ["contrast", "file_size_kb", "jpeg_quality", "width", "height", "client", "region"]
DARK = ["boots", "jacket", "wallet"]
SHIFT_HOUR = 15


@pytest.fixture(scope="module")
def day(samples_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, str]]:
    cfg = load_config(samples_dir / "obskit.toml")
    assert cfg.requests is not None
    requests = load_requests(cfg.requests.path, columns=cfg.requests.columns)
    reference = pl.read_parquet(samples_dir / "reference.parquet")
    kinds = {
        **dict.fromkeys(cfg.features.numeric, "numeric"),
        **dict.fromkeys(cfg.features.categorical, "categorical"),
    }
    return reference, requests, kinds


def _hour(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("window_start").dt.hour().alias("hour"))


def _hours(frame: pl.DataFrame, column: str, verdict: str) -> list[int]:
    return sorted(frame.filter((pl.col("column") == column) & pl.col(verdict))["hour"].to_list())


@pytest.fixture(scope="module")
def features(day: tuple[pl.DataFrame, pl.DataFrame, dict[str, str]]) -> pl.DataFrame:
    reference, requests, kinds = day
    return _hour(drift_over_time(reference, requests, columns=list(kinds), kinds=kinds))


@pytest.fixture(scope="module")
def predictions(day: tuple[pl.DataFrame, pl.DataFrame, dict[str, str]]) -> pl.DataFrame:
    reference, requests, _ = day
    return _hour(prediction_drift_over_time(reference, requests))


AFTER = list(range(SHIFT_HOUR, 24))


def test_day_has_24_hourly_windows(features: pl.DataFrame) -> None:
    assert features["hour"].unique().sort().to_list() == list(range(24))
    assert features.group_by("hour").len()["len"].unique().to_list() == [8]


@pytest.mark.parametrize("verdict", ["drifted", "obskit_drifted"])
def test_brightness_flagged_from_15_not_before(features: pl.DataFrame, verdict: str) -> None:
    assert _hours(features, "brightness", verdict) == AFTER
    after = features.filter((pl.col("column") == "brightness") & (pl.col("hour") >= SHIFT_HOUR))
    # A large effect (Wasserstein / reference std), with its bootstrap interval well away from 0.
    assert after["effect_size"].min() > 0.9 and after["effect_ci_low"].min() > 0.9


@pytest.mark.parametrize("column", STABLE)
def test_stable_features_never_flagged(features: pl.DataFrame, column: str) -> None:
    assert _hours(features, column, "obskit_drifted") == []
    # On this day the Evidently-compatible verdict agrees: with a 50k-row reference Evidently
    # picks distance tests (Wasserstein / Jensen-Shannon, threshold 0.1) and no stable column
    # comes near 0.1 in any hour (largest: contrast 0.045 at 04:00). It would be the p-value
    # tests of a small reference (<= 1000 rows) that flag stable columns on big hours.
    assert _hours(features, column, "drifted") == []
    assert features.filter(pl.col("column") == column)["effect_size"].max() < 0.06


@pytest.mark.parametrize("verdict", ["drifted", "obskit_drifted"])
def test_confidence_distribution_flagged_from_15(predictions: pl.DataFrame, verdict: str) -> None:
    assert _hours(predictions, "confidence", verdict) == AFTER


def test_class_mix_shift_from_15(
    day: tuple[pl.DataFrame, pl.DataFrame, dict[str, str]], predictions: pl.DataFrame
) -> None:
    reference, requests, _ = day
    mix = predictions.filter(pl.col("column") == "prediction").sort("hour")
    assert mix["method"].unique().to_list() == ["jensenshannon"]
    js = dict(zip(mix["hour"].to_list(), mix["statistic"].to_list(), strict=True))
    # The class mix moves less than the threshold Evidently uses for the Jensen-Shannon
    # distance (0.1): 0.058 in the 15:00 hour (half of it still before the ramp ends),
    # 0.074-0.085 after, against at most 0.038 in any hour before. With the default
    # threshold neither verdict flags the class mix on this day (the confidence distribution
    # carries the prediction drift); the separation is clear, so a threshold of 0.05 (a
    # documented per-column override) flags exactly the hours from 15:00.
    assert min(js[h] for h in AFTER) > 0.05 > max(js[h] for h in range(SHIFT_HOUR))
    tuned = _hour(prediction_drift_over_time(reference, requests, threshold={"prediction": 0.05}))
    assert _hours(tuned, "prediction", "drifted") == AFTER
    assert _hours(tuned, "prediction", "obskit_drifted") == AFTER
    # ... and the move is towards the dark classes, in every hour after the shift.
    ref_dark = reference["prediction"].is_in(DARK).mean()
    hourly = (
        requests.filter(pl.col("prediction").is_not_null())
        .group_by(pl.col("timestamp").dt.hour().alias("hour"))
        .agg(pl.col("prediction").is_in(DARK).mean().alias("dark"))
    )
    assert ref_dark is not None
    assert hourly.filter(pl.col("hour") >= SHIFT_HOUR)["dark"].min() > ref_dark + 0.05
    assert hourly.filter(pl.col("hour") < SHIFT_HOUR)["dark"].max() < ref_dark + 0.03


def test_brightness_kl_above_alert_from_15_only(day: tuple[pl.DataFrame, pl.DataFrame, dict[str, str]]) -> None:
    reference, requests, _ = day
    ref = reference["brightness"]
    kl = {
        int(hour): kl_divergence(ref, part["brightness"])
        for (hour,), part in requests.group_by(pl.col("timestamp").dt.hour()).__iter__()
    }
    assert KL_ALERT_THRESHOLD == 0.3
    assert sorted(h for h, v in kl.items() if v > KL_ALERT_THRESHOLD) == AFTER
    # Evidently's Sturges bins on the combined range: before 15:00 KL stays below 0.004
    # (80x under the alert); the 15:00 hour is 0.37 (the shift ramps in over its first
    # 30 minutes), the full-shift hours 0.68-0.73.
    assert max(kl[h] for h in range(SHIFT_HOUR)) < 0.01
    assert 0.3 < kl[SHIFT_HOUR] < min(kl[h] for h in AFTER[1:])


def test_shift_starts_at_the_incident_time(day: tuple[pl.DataFrame, pl.DataFrame, dict[str, str]]) -> None:
    _, requests, _ = day
    start = datetime.fromisoformat("2026-11-22T15:00:00+00:00")
    before = requests.filter(pl.col("timestamp") < start)["brightness"].mean()
    after = requests.filter(pl.col("timestamp") >= datetime.fromisoformat("2026-11-22T15:30:00+00:00"))[
        "brightness"
    ].mean()
    assert isinstance(before, float) and isinstance(after, float)
    assert before == pytest.approx(118, abs=2) and after == pytest.approx(84, abs=3)
