"""Latency percentiles, Triton summaries and the queue/compute breakdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from obskit.analyze.latency import latency_percentiles, summary_quantiles, triton_latency_breakdown
from obskit.analyze.serving import quantile_column, window_stats
from obskit.errors import AnalysisError
from tests import analyze_days as days

T0 = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.fixture(scope="module")
def synthetic() -> pl.DataFrame:
    rng = np.random.default_rng(3)
    n = 20_000
    secs = np.sort(rng.integers(0, 6 * 3600, n))
    return pl.DataFrame(
        {
            "timestamp": [T0 + timedelta(seconds=int(s)) for s in secs],
            "model": "m",
            "model_version": rng.choice(["v1", "v2"], n, p=[0.8, 0.2]),
            "latency_ms": rng.lognormal(3.0, 0.6, n),
            "status": rng.choice(["ok", "error"], n, p=[0.98, 0.02]),
        }
    )


@pytest.mark.parametrize("every", ["1m", "5m", "1h"])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99, 0.999])
def test_percentiles_equal_numpy_linear(synthetic: pl.DataFrame, every: str, q: float) -> None:
    out = latency_percentiles(synthetic, every=every, quantiles=(q,))
    step = {"1m": 60, "5m": 300, "1h": 3600}[every]
    epoch = synthetic["timestamp"].dt.epoch("s").to_numpy()
    start = epoch // step * step
    lat = synthetic["latency_ms"].to_numpy()
    ver = synthetic["model_version"].to_numpy()
    checked = 0
    for row in out.iter_rows(named=True):
        w = int(row["window_start"].timestamp())
        mask = (start == w) & (ver == row["model_version"])
        assert row["requests"] == mask.sum()
        assert row[quantile_column(q)] == pytest.approx(np.quantile(lat[mask], q, method="linear"), rel=1e-12)
        checked += 1
    assert checked == out.height > 0


def test_percentiles_agree_with_window_stats(synthetic: pl.DataFrame) -> None:
    qs = (0.5, 0.99)
    ours = latency_percentiles(synthetic, every="5m", by=("model_version",), quantiles=qs)
    ref = window_stats(synthetic, every="5m", by=("model_version",), quantiles=qs)
    assert ours.select("window_start", "model_version", "requests", "p50_ms", "p99_ms").equals(
        ref.select("window_start", "model_version", "requests", "p50_ms", "p99_ms")
    )


def test_status_filter_and_bad_quantile(synthetic: pl.DataFrame) -> None:
    ok = latency_percentiles(synthetic, every="1h", by=(), status="ok")
    assert ok["requests"].sum() == (synthetic["status"] == "ok").sum()
    with pytest.raises(AnalysisError, match="quantile"):
        latency_percentiles(synthetic, quantiles=(1.0,))
    with pytest.raises(AnalysisError, match="latency_ms"):
        latency_percentiles(synthetic.drop("latency_ms"))


def test_summary_quantiles_match_the_requests_before_each_scrape() -> None:
    """Triton's summary covers the 5 minutes before each hourly scrape (see the generator)."""
    summ = summary_quantiles(days.scrapes(), phase="request").filter(pl.col("version") == "v1.4.0")
    assert summ.height == 24
    assert {"p50_ms", "p90_ms", "p99_ms", "count", "mean_ms"} <= set(summ.columns)
    df = days.requests()
    for row in summ.filter(pl.col("window_start").dt.hour().is_in([3, 12, 20])).iter_rows(named=True):
        end = row["window_start"]
        lat = df.filter(
            pl.col("timestamp").is_between(end - timedelta(minutes=5), end, closed="left")
            & (pl.col("model_version") == "v1.4.0")
        )["latency_ms"].to_numpy()
        assert row["count"] == lat.size
        assert row["p99_ms"] == pytest.approx(np.quantile(lat, 0.99), abs=0.01)
        assert row["p50_ms"] == pytest.approx(np.quantile(lat, 0.5), abs=0.01)


def _counter(name: str, values: list[float], **labels: str) -> pl.DataFrame:
    ts = [T0 + timedelta(minutes=i) for i in range(len(values))]
    cols = {k: [v] * len(ts) for k, v in labels.items()}
    return pl.DataFrame({"timestamp": ts, "metric": name, "value": values, **cols})


def test_breakdown_hand_computed_with_a_counter_reset() -> None:
    # 10 requests/min of 20 ms (5 queue, 12 compute); Triton restarts after minute 5.
    req = [0, 10, 20, 30, 40, 50, 10, 20, 30, 40, 50]
    m = pl.concat(
        [
            _counter("nv_inference_request_success", [float(x) for x in req], model="m", version="1"),
            _counter("nv_inference_request_failure", [0.0] * 11, model="m", version="1", reason="BACKEND"),
            _counter("nv_inference_request_duration_us", [x * 20_000.0 for x in req], model="m", version="1"),
            _counter("nv_inference_queue_duration_us", [x * 5_000.0 for x in req], model="m", version="1"),
            _counter("nv_inference_compute_infer_duration_us", [x * 12_000.0 for x in req], model="m", version="1"),
        ],
        how="diagonal",
    )
    out = triton_latency_breakdown(m, window="5m", step="5m")
    assert out["request_ms"].to_list() == pytest.approx([20.0, 20.0])
    assert out["queue_ms"].to_list() == pytest.approx([5.0, 5.0])
    assert out["compute_ms"].to_list() == pytest.approx([12.0, 12.0])
    assert out["other_ms"].to_list() == pytest.approx([3.0, 3.0])
    assert out["requests"].to_list() == pytest.approx([50.0, 50.0])
    assert out["queue_share"].to_list() == pytest.approx([0.25, 0.25])


def test_breakdown_on_the_sample_day() -> None:
    out = triton_latency_breakdown(days.metrics())
    stable = out.filter(pl.col("version") == "v1.4.0").drop_nulls("request_ms")
    # the generator splits 85 % of each request's latency between queue and compute
    share = ((stable["queue_ms"] + stable["compute_ms"]) / stable["request_ms"]).to_numpy()
    assert np.all(np.abs(share - 0.85) < 0.02)
    assert (stable["request_ms"] > 0).all()
    # average request time over 12:00-12:05 matches the request log
    row = stable.filter(pl.col("window_end") == datetime(2026, 11, 22, 12, 5, tzinfo=UTC))
    df = days.requests().filter(
        pl.col("timestamp").is_between(datetime(2026, 11, 22, 12, tzinfo=UTC), datetime(2026, 11, 22, 12, 5,
                                                                                       tzinfo=UTC))
        & (pl.col("model_version") == "v1.4.0")
    )
    assert row["request_ms"].item() == pytest.approx(df["latency_ms"].mean(), rel=0.1)
    # compute time rises during the GPU memory pressure
    start, end = days.window("latency_regression")
    inside = stable.filter(pl.col("window_start").is_between(start, end - timedelta(minutes=5)))["compute_ms"]
    before = stable.filter(pl.col("window_end") <= start)["compute_ms"]
    assert inside.median() > 1.3 * before.median()  # type: ignore[operator]


def test_breakdown_needs_the_counters() -> None:
    with pytest.raises(AnalysisError, match="nv_inference_request_duration_us"):
        triton_latency_breakdown(_counter("nv_inference_request_success", [1.0, 2.0]))
