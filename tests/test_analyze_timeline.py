"""One aligned timeline of serving, GPU, business and drift signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from obskit.analyze.latency import latency_percentiles
from obskit.analyze.timeline import one_timeline
from tests import analyze_days as days

DAY = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.fixture(scope="module")
def timeline() -> pl.DataFrame:
    drift = pl.DataFrame({
        "window_start": [DAY + timedelta(hours=h) for h in range(24) for _ in range(2)],
        "column": ["brightness", "contrast"] * 24,
        "statistic": [0.5 if h >= 15 else 0.02 for h in range(24) for _ in range(2)],
        "drifted": [h >= 15 and c == "brightness" for h in range(24) for c in ("brightness", "contrast")],
    })
    return one_timeline(days.requests(), gpu=days.gpu(), drift=drift, every="5m")


def test_one_row_per_window_and_all_signals(timeline: pl.DataFrame) -> None:
    assert timeline.height == 288
    assert timeline.columns == ["window_start", "requests", "rps", "error_rate", "p99_ms", "confident_rate",
                                "correction_rate", "gpu_util_pct", "gpu_memory_share", "drift_statistic",
                                "drifted_columns"]
    assert timeline["requests"].sum() == 150_000
    ref = latency_percentiles(days.requests(), "5m", by=(), quantiles=(0.99,))
    assert timeline["p99_ms"].to_list() == ref["p99_ms"].to_list()


def test_incidents_show_in_their_windows(timeline: pl.DataFrame) -> None:
    def at(h: int, m: int) -> dict[str, object]:
        return timeline.filter(pl.col("window_start") == DAY + timedelta(hours=h, minutes=m)).row(0, named=True)

    assert at(8, 25)["error_rate"] > 0.03  # type: ignore[operator]
    assert at(19, 30)["p99_ms"] > 120 and at(19, 30)["gpu_memory_share"] > 0.9  # type: ignore[operator]
    assert at(12, 0)["gpu_memory_share"] < 0.5  # type: ignore[operator]
    assert at(16, 5)["drift_statistic"] == 0.5 and at(16, 5)["drifted_columns"] == 1
    assert at(14, 55)["drift_statistic"] == 0.02
    late = timeline.filter(pl.col("window_start") >= DAY + timedelta(hours=16))
    assert late["correction_rate"].mean() > 0.015  # type: ignore[operator]


def test_gaps_are_kept_as_empty_windows() -> None:
    r = pl.DataFrame({"timestamp": [DAY, DAY + timedelta(minutes=20)], "latency_ms": [1.0, 2.0],
                      "status": ["ok", "ok"]})
    out = one_timeline(r, every="5m")
    assert out["requests"].to_list() == [1, 0, 0, 0, 1]
    assert out["confident_rate"].null_count() == 5
