"""GPU stats, idle/saturated/memory-pressure episodes and energy per 1000 inferences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from obskit.analyze.gpu import (
    energy_per_1k_inferences,
    gpu_stats,
    idle_periods,
    memory_pressure,
    saturated_periods,
)
from tests import analyze_days as days

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _gpu(util: list[float], step_s: int = 60, gpu: int = 0, **cols: list[float]) -> pl.DataFrame:
    n = len(util)
    return pl.DataFrame({"timestamp": [T0 + timedelta(seconds=step_s * i) for i in range(n)], "gpu": gpu,
                         "utilization_pct": util, "memory_total_mib": [1000.0] * n, **cols},
                        schema_overrides={"gpu": pl.Int32})


def test_gpu_stats_per_window_and_gpu() -> None:
    g = pl.concat([
        _gpu([10.0, 30.0], memory_used_mib=[100.0, 300.0], power_w=[50.0, 70.0], temperature_c=[40.0, 44.0]),
        _gpu([90.0, 90.0], gpu=1, memory_used_mib=[900.0, 900.0], power_w=[250.0, 250.0],
             temperature_c=[70.0, 72.0]),
    ])
    out = gpu_stats(g, "5m")
    cols = ("gpu", "samples", "util_mean_pct", "memory_share_max", "power_mean_w", "temperature_max_c")
    assert out.select(cols).rows() == [(0, 2, 20.0, 0.3, 60.0, 44.0), (1, 2, 90.0, 0.9, 250.0, 72.0)]


def test_idle_and_saturated_periods() -> None:
    util = [50.0] * 3 + [2.0] * 11 + [50.0] * 2 + [95.0] * 6 + [50.0]
    g = _gpu(util)
    idle = idle_periods(g, min_duration="10m")
    assert idle.select("duration_s", "samples", "peak").rows() == [(600.0, 11, 2.0)]
    assert idle_periods(g, min_duration="11m").height == 0
    sat = saturated_periods(g, min_duration="5m")
    assert sat.select("duration_s", "samples", "peak").rows() == [(300.0, 6, 95.0)]


def test_memory_pressure_breaks_on_sampling_gaps() -> None:
    ts = [T0 + timedelta(seconds=s) for s in (0, 30, 60, 90, 120, 150, 600, 630, 660)]
    g = pl.DataFrame({"timestamp": ts, "gpu": 0, "memory_used_mib": [950.0] * 9, "memory_total_mib": 1000.0})
    ep = memory_pressure(g, min_duration="2m")
    assert ep.select("start", "duration_s", "samples").rows() == [(T0, 150.0, 6)]
    assert memory_pressure(g, min_duration="1m").height == 2
    assert memory_pressure(g, min_duration="1m", max_gap="10m").height == 1


def test_energy_integration_hand_computed() -> None:
    # GPU 0: 100 W then 200 W (ramp between samples), GPU 1: flat 300 W; 10-minute samples over 1 h.
    p0 = [100.0, 100.0, 100.0, 200.0, 200.0, 200.0, 200.0]
    g = pl.concat([_gpu([0.0] * 7, step_s=600, power_w=p0), _gpu([0.0] * 7, step_s=600, gpu=1, power_w=[300.0] * 7)])
    r = pl.DataFrame({"timestamp": [T0 + timedelta(minutes=5)] * 2000})
    out = energy_per_1k_inferences(g, r, every=None)
    # GPU 0: (100 + 100 + 150 + 200 + 200 + 200) W x 1/6 h = 158.33 Wh; GPU 1: 300 Wh
    assert out["energy_wh"][0] == pytest.approx(950 / 6 + 300)
    assert out["requests"][0] == 2000
    assert out["wh_per_1k"][0] == pytest.approx((950 / 6 + 300) / 2)
    per_window = energy_per_1k_inferences(g, r, every="30m")
    assert per_window["energy_wh"].to_list() == pytest.approx([(100 + 100 + 150) / 6 + 150, (600) / 6 + 150])
    assert per_window["requests"].to_list() == [2000, 0]
    assert per_window["wh_per_1k"][1] is None


def test_memory_pressure_on_the_sample_day() -> None:
    ep = memory_pressure(days.gpu())
    start, end = days.window("latency_regression")
    assert ep.height == 1
    row = ep.row(0, named=True)
    assert start - timedelta(minutes=10) <= row["start"] <= start + timedelta(minutes=5)
    assert end - timedelta(minutes=5) <= row["end"] <= end
    assert row["peak"] > 0.95


def test_clean_day_has_no_memory_pressure() -> None:
    g = days.gpu(clean=True)
    assert memory_pressure(g).height == 0
    assert saturated_periods(g).height == 0
    assert gpu_stats(g, "1h")["memory_share_max"].max() < 0.5  # type: ignore[operator]


def test_energy_on_the_sample_day() -> None:
    out = energy_per_1k_inferences(days.gpu(), days.requests(), every=None)
    # ~150 W average over 24 h is ~3.6 kWh for 150k requests: ~24 Wh per 1000
    assert 3000 < out["energy_wh"][0] < 4300
    assert 15 < out["wh_per_1k"][0] < 35
