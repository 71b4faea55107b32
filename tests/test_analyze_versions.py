"""Version traffic, rollout/rollback episodes, two-proportion z-test and the canary comparison."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy.stats import chi2_contingency

from obskit.analyze.canary import canary_comparison, two_proportion_ztest
from obskit.analyze.versions import rollout_episodes, version_spans, version_traffic
from obskit.errors import AnalysisError
from tests import analyze_days as days

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(10, 1000, 30, 1000), (5, 200, 4, 180), (120, 5000, 90, 2500)])
def test_two_proportion_z_matches_scipy_chi_square(x1: int, n1: int, x2: int, n2: int) -> None:
    z, p = two_proportion_ztest(x1, n1, x2, n2)
    chi2, p_chi, _, _ = chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)
    assert z ** 2 == pytest.approx(chi2)
    assert p == pytest.approx(p_chi)
    assert (z > 0) == (x2 / n2 > x1 / n1)


def test_traffic_and_episodes_hand_made() -> None:
    ts = [T0 + timedelta(hours=h) for h in range(8)]
    r = pl.DataFrame({"timestamp": ts * 3 + ts[2:5] + ts[6:],
                      "model_version": ["v1"] * 24 + ["v2"] * 3 + ["v3"] * 2})
    tr = version_traffic(r, "1h")
    assert tr.filter(pl.col("window_start") == ts[2]).select("model_version", "share").rows() == [
        ("v1", 0.75), ("v2", 0.25)]
    ep = rollout_episodes(r, "1h", max_gap="1h")
    assert ep.select("model_version", "began", "outcome").rows() == [
        ("v1", "before data", "serving"), ("v2", "rollout", "rolled back"), ("v3", "rollout", "serving")]
    assert version_spans(r)["requests"].to_list() == [24, 3, 2]


def test_canary_on_synthetic_latencies() -> None:
    rng = np.random.default_rng(5)
    n = 6000
    ver = rng.choice(["base", "can"], n, p=[0.8, 0.2])
    lat = rng.lognormal(3.0, 0.3, n) * np.where(ver == "can", 1.0, 1.0)
    r = pl.DataFrame({"timestamp": [T0 + timedelta(seconds=i) for i in range(n)], "model_version": ver,
                      "latency_ms": lat, "status": "ok"})
    same = canary_comparison(r, "base", "can", n_boot=300)
    assert not same.slower and not same.faster
    assert "not clearly different" in same.verdict
    slow = canary_comparison(r.with_columns(pl.when(pl.col("model_version") == "can")
                                            .then(pl.col("latency_ms") * 1.5).otherwise("latency_ms")),
                             "base", "can", n_boot=300)
    p95 = slow.table.filter(pl.col("metric") == "p95_ms").row(0, named=True)
    assert slow.slower and p95["ci_low"] < 0.5 < p95["ci_high"]
    with pytest.raises(AnalysisError, match="no requests"):
        canary_comparison(r, "base", "nope")


def test_canary_is_slower_on_the_sample_day() -> None:
    df = days.requests()
    start, end = days.window("canary_slower")
    ep = rollout_episodes(df).filter(pl.col("model_version") == "v1.5.0").row(0, named=True)
    assert (ep["start"], ep["end"]) == (start, end)
    assert ep["outcome"] == "rolled back"
    assert 0.07 < ep["mean_share"] < 0.13
    res = canary_comparison(df, "v1.4.0", "v1.5.0", n_boot=300)
    assert res.slower and not res.more_errors
    assert res.verdict.startswith("v1.5.0 is slower: p95 +")
    assert start <= res.start and res.end <= end
    rows = {r["metric"]: r for r in res.table.iter_rows(named=True)}
    assert rows["p50_ms"]["rel_diff"] > 0.15
    assert rows["p95_ms"]["ci_low"] > 0
    assert not rows["error_rate"]["significant"]
    assert not rows["correction_rate"]["significant"]


def test_clean_day_serves_one_version() -> None:
    df = days.requests(clean=True)
    ep = rollout_episodes(df)
    assert ep.select("model_version", "outcome").rows() == [("v1.4.0", "serving")]
    with pytest.raises(AnalysisError, match=r"v1\.5\.0"):
        canary_comparison(df, "v1.4.0", "v1.5.0")
