"""DCGM and Triton GPU families pivoted into the canonical gpu frame."""

from __future__ import annotations

from pathlib import Path

import pytest

from obskit.errors import SourceError
from obskit.load.gpu_metrics import gpu_from_metrics
from obskit.load.prometheus_api import load_prometheus_json
from obskit.load.prometheus_text import load_prometheus_text
from obskit.schemas import check


def test_dcgm_scrape(data_dir: Path) -> None:
    m = load_prometheus_text(data_dir / "prometheus" / "dcgm.prom", timestamp="2026-11-22T00:00:00Z")
    g = check(gpu_from_metrics(m), "gpu")
    assert g["gpu"].to_list() == [0, 1]
    assert g["name"].to_list() == ["NVIDIA H100 80GB HBM3"] * 2
    assert g["sm_clock_mhz"].to_list() == [1980.0, 1755.0]
    assert g["power_w"].to_list() == pytest.approx([512.338, 201.734])


def test_triton_gauges_from_the_sample_query_range(samples_dir: Path) -> None:
    m = load_prometheus_json(samples_dir / "prometheus" / "query_range.json")
    g = check(gpu_from_metrics(m), "gpu")
    assert g["memory_total_mib"].unique().to_list() == [23028.0]
    assert g["utilization_pct"].min() >= 0 and g["utilization_pct"].max() <= 100  # type: ignore[operator]
    assert g.height == 2880


def test_no_gpu_metric_is_a_clear_error(data_dir: Path) -> None:
    m = load_prometheus_text(data_dir / "prometheus" / "counter.prom", timestamp="2026-11-22T00:00:00Z")
    with pytest.raises(SourceError, match="no DCGM"):
        gpu_from_metrics(m)
