"""Cost per 1000 inferences from GPU-hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from obskit.analyze.cost import cost_per_1k
from obskit.errors import AnalysisError
from tests import analyze_days as days

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_whole_span_hand_computed() -> None:
    # two GPUs observed for 10 h at 1.5 per GPU-hour = 30; 60 000 requests -> 0.5 per 1000
    gpu = pl.DataFrame({"timestamp": [T0, T0 + timedelta(hours=10)] * 2, "gpu": [0, 0, 1, 1]})
    req = pl.DataFrame({"timestamp": [T0 + timedelta(hours=1)] * 60_000 + [T0 + timedelta(hours=11)] * 5})
    out = cost_per_1k(gpu, req, 1.5)
    assert out.select("gpus", "gpu_hours", "requests", "cost", "cost_per_1k").row(0) == (2, 20.0, 60_000, 30.0, 0.5)


def test_per_window() -> None:
    gpu = pl.DataFrame({"timestamp": [T0, T0 + timedelta(minutes=30), T0 + timedelta(hours=1)], "gpu": [0, 1, 0]})
    req = pl.DataFrame({"timestamp": [T0] * 1000})
    out = cost_per_1k(gpu, req, 2.0, every="1h")
    assert out.select("gpus", "gpu_hours", "requests", "cost").rows() == [(2, 2.0, 1000, 4.0), (1, 1.0, 0, 2.0)]
    assert out["cost_per_1k"].to_list() == [4.0, None]
    with pytest.raises(AnalysisError, match="price"):
        cost_per_1k(gpu, req, -1.0)


def test_sample_day_cost() -> None:
    out = cost_per_1k(days.gpu(), days.requests(), 1.2)
    # one A10G for (almost) 24 h, 150k requests
    assert out["gpu_hours"][0] == pytest.approx(24, abs=0.01)
    assert out["cost_per_1k"][0] == pytest.approx(24 * 1.2 / 150, rel=0.01)
