"""Replicas needed under the 80 % rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from obskit.analyze.capacity import replicas_needed
from obskit.errors import AnalysisError
from tests import analyze_days as days

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _load(rps: list[float], util: list[float], gpus: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    ts = [T0 + timedelta(minutes=5 * i) for i in range(len(rps))]
    req = pl.DataFrame({"timestamp": [t for t, r in zip(ts, rps, strict=True) for _ in range(int(r * 300))]})
    gpu = pl.DataFrame({"timestamp": [t for t in ts for _ in range(gpus)], "gpu": list(range(gpus)) * len(ts),
                        "utilization_pct": [u for u in util for _ in range(gpus)]})
    return req, gpu


def test_linear_load_hand_computed() -> None:
    # util = 10 % idle + 5 % per req/s on one GPU; peak 20 req/s -> 110 % of one GPU.
    req, gpu = _load([2.0, 6.0, 10.0, 20.0], [20.0, 40.0, 60.0, 110.0])
    plan = replicas_needed(req, gpu, target_util=0.8)
    assert plan.util_per_rps == pytest.approx(5.0)
    assert plan.idle_util_pct == pytest.approx(10.0)
    assert plan.peak_rps == pytest.approx(20.0)
    # 10 + 5 * 20 / R <= 80  ->  R >= 100 / 70  ->  2
    assert plan.replicas == 2 and plan.current_replicas == 1
    assert plan.peak_util_gpus == pytest.approx(1.1)
    assert "2 replica(s)" in plan.explanation and "add 1" in plan.explanation
    assert plan.frame().height == 1


def test_no_idle_reduces_to_peak_over_target() -> None:
    req, gpu = _load([1.0, 2.0, 3.0, 6.0], [15.0, 30.0, 45.0, 90.0], gpus=2)
    plan = replicas_needed(req, gpu, target_util=0.8)
    # per GPU: 30 % per req/s/GPU; peak 6 req/s over 2 GPUs = 90 % each = 1.8 GPUs -> ceil(1.8 / 0.8) = 3
    assert plan.peak_util_gpus == pytest.approx(1.8)
    assert plan.replicas == 3


def test_errors() -> None:
    req, gpu = _load([1.0, 1.0, 1.0], [90.0, 90.0, 90.0])
    with pytest.raises(AnalysisError, match="never varies"):
        replicas_needed(req, gpu)
    with pytest.raises(AnalysisError, match="share"):
        replicas_needed(req, gpu, target_util=80)


def test_sample_day_capacity() -> None:
    plan = replicas_needed(days.requests(), days.gpu())
    assert plan.current_replicas == 1
    assert plan.fit_r2 > 0.8
    assert 3 < plan.idle_util_pct < 12  # the generator's idle draw is 6 %
    assert plan.replicas in (1, 2)
    assert plan.observed_peak_util_pct > 70


@pytest.mark.parametrize(("rps", "util"), [
    ([2.0, 6.0, 10.0, 20.0, 4.0, 12.0], [60.0, 20.0, 70.0, 15.0, 65.0, 30.0]),  # no relation: R² near 0
    ([2.0, 6.0, 10.0, 20.0], [80.0, 60.0, 40.0, 20.0]),  # utilization falls as load rises
])
def test_no_advice_without_evidence(rps: list[float], util: list[float]) -> None:
    req, gpu = _load(rps, util)
    plan = replicas_needed(req, gpu, target_util=0.8)
    assert not plan.enough_evidence
    assert plan.explanation.startswith("Not enough evidence") and "keep" not in plan.explanation
