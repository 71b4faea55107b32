"""Label arrival at scale from the window state's counts equals the value of its own pass over the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from obskit.alerts.count_state import label_minutes
from obskit.alerts.model_signals import label_arrival
from obskit.alerts.scale_inputs import scale_signal_frames
from obskit.scale.rollup import build_rollup

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def _rows(seed: int, n: int = 40_000, hours: int = 10) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    at = np.sort(rng.integers(0, hours * 3_600_000_000, n))
    # corrections arrive quickly at first, then slowly (the labelling queue stalls after hour 6)
    lag_min = np.where(at < 6 * 3_600_000_000, rng.exponential(8, n), rng.exponential(40, n))
    corrected = rng.random(n) < 0.3
    return pl.DataFrame({
        "timestamp": [T0 + timedelta(microseconds=int(a)) for a in at],
        "status": rng.choice(["ok", "ok", "ok", "error"], n).tolist(),
        "latency_ms": rng.lognormal(3, 0.4, n),
        "model_version": rng.choice(["v1", "v2"], n).tolist(),
        "corrected_at": [T0 + timedelta(microseconds=int(a), minutes=float(m)) if c else None
                         for a, m, c in zip(at, lag_min, corrected, strict=True)],
    }, schema_overrides={"corrected_at": pl.Datetime("us", "UTC")}).with_columns(
        pl.when(pl.col("corrected_at").is_not_null()).then(pl.lit("cat")).alias("corrected_label"))


@pytest.mark.parametrize("seed", [1, 2])
def test_label_arrival_from_the_window_state_is_the_rows_value(seed: int) -> None:
    rows = _rows(seed)
    period = build_rollup(rows, slo_ms=50.0, every="1m")
    labels = label_minutes(period)
    assert labels is not None and labels["answers"].sum() == rows.filter(pl.col("status") == "ok").height
    from_state = scale_signal_frames(rows.lazy(), slo_ms=50.0, labels=labels)["label_arrival"]
    from_pass = scale_signal_frames(rows.lazy(), slo_ms=50.0)["label_arrival"]
    in_memory = label_arrival(rows)
    assert from_state.equals(from_pass)
    assert from_state.equals(in_memory)
    assert from_state["value"].drop_nans().min() < 0.5  # the stall is seen


def test_no_label_counts_without_correction_times() -> None:
    rows = _rows(3, n=2_000).drop("corrected_at")
    assert label_minutes(build_rollup(rows, slo_ms=50.0, every="1m")) is None
    assert label_minutes(build_rollup(_rows(3, n=2_000), slo_ms=50.0, every="5m")) is None
