"""The canary comparison streamed from a lazy scan agrees with the one on the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from obskit.analyze.canary import _Dist, _ranked_p, canary_comparison
from obskit.scale.sketches import DEFAULT_ALPHA
from tests import analyze_days as days

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RATES = ("error_rate", "confident_rate", "correction_rate")


def _assert_same_answer(rows: pl.DataFrame | pl.LazyFrame, base: str, new: str) -> None:
    exact = canary_comparison(rows.lazy().collect() if isinstance(rows, pl.LazyFrame) else rows, base, new,
                              n_boot=300)
    streamed = canary_comparison(rows.lazy(), base, new, n_boot=300)
    assert exact.bound is None and streamed.bound is not None and "exact" in streamed.bound
    assert (streamed.slower, streamed.faster, streamed.more_errors) == (exact.slower, exact.faster, exact.more_errors)
    assert (streamed.start, streamed.end) == (exact.start, exact.end)
    a = {r["metric"]: r for r in exact.table.iter_rows(named=True)}
    b = {r["metric"]: r for r in streamed.table.iter_rows(named=True)}
    assert a.keys() == b.keys()
    for metric in RATES:  # counts are exact: the same rates, tests and intervals
        if metric in a:
            assert a[metric] == b[metric], metric
    for metric in ("mean_ms", "mean_confidence"):
        if metric in a:
            assert b[metric]["baseline"] == pytest.approx(a[metric]["baseline"], rel=1e-12)
            assert b[metric]["canary"] == pytest.approx(a[metric]["canary"], rel=1e-12)
    for metric in ("p50_ms", "p95_ms", "p99_ms"):  # within the sketch's relative bound
        for side in ("baseline", "canary"):
            assert abs(b[metric][side] / a[metric][side] - 1) <= DEFAULT_ALPHA * (1 + 1e-9), (metric, side)
    for metric in ("p95_ms", "p99_ms"):  # bootstrap intervals of the bucketed values: about the same
        assert abs(b[metric]["ci_low"] - a[metric]["ci_low"]) < 0.02
        assert abs(b[metric]["ci_high"] - a[metric]["ci_high"]) < 0.02


def test_streamed_canary_on_the_sample_day_says_the_same() -> None:
    _assert_same_answer(days.requests(), "v1.4.0", "v1.5.0")


@pytest.mark.parametrize(("factor", "error"), [(1.0, 0.001), (1.5, 0.001), (0.7, 0.001), (1.0, 0.05)])
def test_streamed_canary_on_synthetic_versions(factor: float, error: float) -> None:
    rng = np.random.default_rng(11)
    n = 20_000
    ver = rng.choice(["base", "can"], n, p=[0.8, 0.2])
    can = ver == "can"
    frame = pl.DataFrame({
        "timestamp": [T0 + timedelta(seconds=i) for i in range(n)], "model_version": ver,
        "latency_ms": rng.lognormal(3.0, 0.3, n) * np.where(can, factor, 1.0),
        "status": np.where(rng.random(n) < np.where(can, error, 0.001), "error", "ok"),
        "confidence": rng.beta(5, 2, n),
        "corrected_label": np.where(rng.random(n) < 0.01, "cat", None),
    })
    _assert_same_answer(frame, "base", "can")


def test_streamed_canary_reads_a_scan_of_files(tmp_path: pytest.TempPathFactory) -> None:
    frame = days.requests()
    path = f"{tmp_path}/day.parquet"
    frame.write_parquet(path)
    res = canary_comparison(pl.scan_parquet(path), "v1.4.0", "v1.5.0", n_boot=200)
    assert res.slower and res.bound is not None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=60), st.lists(st.integers(0, 12), min_size=1, max_size=60))
def test_ranked_p_is_scipys_tie_corrected_asymptotic_test(x: list[int], y: list[int]) -> None:
    def binned(v: list[int]) -> _Dist:
        values, counts = np.unique(np.asarray(v, dtype=np.float64), return_counts=True)
        return _Dist(values, counts, float(sum(v)))

    if len(set(x) | set(y)) < 2:
        return  # every value tied: scipy's statistic is undefined
    expected = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic").pvalue
    assert _ranked_p(binned(x), binned(y)) == pytest.approx(float(expected), abs=1e-9)


def test_bucket_bootstrap_of_exact_values_is_the_row_bootstrap() -> None:
    x = np.random.default_rng(2).lognormal(2, 0.5, 5000)
    exact = _Dist.exact(x)
    values, counts = np.unique(x, return_counts=True)
    binned = _Dist(values, counts, float(x.sum()))
    for q in (0.5, 0.95, 0.99):
        a = exact.boot(q, 500, np.random.default_rng(3))
        b = binned.boot(q, 500, np.random.default_rng(3))
        assert np.array_equal(a, b)
        assert abs(np.median(a) / np.quantile(x, q) - 1) < 0.05


def test_the_windowed_p50_ratio_from_sketches_is_the_rows_ratio() -> None:
    from obskit.alerts.version_sketch import version_latency_tail_scan
    from obskit.analyze.versions import version_latency_ratio

    df = days.requests()
    exact = version_latency_ratio(df, every="15m")
    sketched = version_latency_tail_scan(df.lazy(), every="15m", quantiles=(0.5,))
    joined = exact.join(sketched, on=["window_start", "model_version"], how="full", coalesce=True)
    assert joined.height == exact.height == sketched.height > 0
    assert joined["requests"].equals(joined["requests_right"], check_names=False)
    assert ((joined["ratio_right"] / joined["ratio"] - 1).abs() <= 2.1 * DEFAULT_ALPHA).all()
