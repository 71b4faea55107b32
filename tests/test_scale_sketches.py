"""Mergeable state of the scale path: sketch guarantees, exact merges, histogram bounds."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy import stats

from obskit.errors import AnalysisError
from obskit.scale.sketches import (
    CategoricalCounts,
    FixedHistogram,
    NumericHistogram,
    QuantileSketch,
    RateCounts,
    SketchTable,
    reference_edges,
)

QS = [0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]
SLACK = 1 + 1e-9  # floating-point rounding of the logarithm


def _distributions(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "normal_abs": np.abs(rng.normal(50, 10, 5000)),
        "lognormal_heavy": rng.lognormal(0.0, 3.0, 5000),
        "pareto": rng.pareto(1.1, 5000) + 1e-3,
        "exponential": rng.exponential(12.0, 3000),
        "constant": np.full(1000, 17.25),
        "zeros": np.zeros(500),
        "mostly_zeros": np.where(rng.random(2000) < 0.9, 0.0, rng.exponential(5.0, 2000)),
        "tiny_and_huge": np.concatenate([rng.uniform(1e-6, 1e-5, 500), rng.uniform(1e5, 1e7, 500)]),
        "integers": rng.integers(1, 20, 4000).astype(float),
        "single": np.array([3.5]),
        "pair": np.array([1.0, 1000.0]),
        "latency_like": 5 + rng.gamma(2.0, 3.0, 8000) + np.where(rng.random(8000) < 0.01, 1000.0, 0.0),
    }


@pytest.mark.parametrize("alpha", [0.001, 0.005, 0.02, 0.1])
@pytest.mark.parametrize("seed", range(4))
def test_relative_error_guarantee(alpha: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name, x in _distributions(rng).items():
        s = QuantileSketch(alpha=alpha).add(x)
        xs = np.sort(x)
        n = xs.size
        for q in QS:
            k = int(np.floor(q * (n - 1)))
            lower = s.quantile(q, method="lower")
            assert abs(lower - xs[k]) <= alpha * abs(xs[k]) * SLACK, (name, q)
            exact = float(np.quantile(x, q))
            f = q * (n - 1) - k
            nxt = xs[min(k + 1, n - 1)]
            bound = alpha * ((1 - f) * abs(xs[k]) + f * abs(nxt)) * SLACK
            assert abs(s.quantile(q) - exact) <= bound + 1e-12, (name, q)


def test_negative_and_mixed_values() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([-rng.lognormal(1, 2, 3000), rng.lognormal(1, 2, 3000), np.zeros(100)])
    s = QuantileSketch(alpha=0.01).add(x)
    xs = np.sort(x)
    for q in QS:
        k = int(np.floor(q * (x.size - 1)))
        assert abs(s.quantile(q, "lower") - xs[k]) <= 0.01 * abs(xs[k]) * SLACK


def test_values_below_min_value_count_as_zero() -> None:
    s = QuantileSketch(alpha=0.01, min_value=1e-3).add([1e-5, 2e-5, 5.0])
    assert s.zero_count == 2
    assert abs(s.quantile(0.5) - 2e-5) <= 1e-3


def test_extremes_exact_and_non_finite_ignored() -> None:
    s = QuantileSketch().add([3.0, np.nan, np.inf, 7.0, 11.0])
    assert s.count == 3 and s.quantile(0.0) == 3.0 and s.quantile(1.0) == 11.0
    assert s.mean == 7.0


def test_empty_sketch() -> None:
    s = QuantileSketch()
    assert np.isnan(s.quantile(0.5)) and s.count == 0
    assert QuantileSketch.from_dict(s.to_dict()) == s


@pytest.mark.parametrize("seed", range(6))
def test_merge_is_associative_commutative_and_equals_concatenation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.lognormal(2, 1.5, 4000), np.zeros(30), -rng.exponential(3, 200)])
    rng.shuffle(x)
    cuts = np.sort(rng.choice(x.size, 2, replace=False))
    a, b, c = (QuantileSketch(alpha=0.01).add(p) for p in np.split(x, cuts))
    whole = QuantileSketch(alpha=0.01).add(x)
    assert a.merge(b).merge(c) == whole
    assert a.merge(b.merge(c)) == whole
    assert c.merge(a).merge(b) == whole
    assert np.array_equal(a.merge(b).merge(c).quantiles(QS), whole.quantiles(QS))
    # inputs are unchanged
    assert a.count + b.count + c.count == x.size


def test_serialization_round_trip_through_json() -> None:
    rng = np.random.default_rng(3)
    s = QuantileSketch(alpha=0.002).add(rng.lognormal(0, 2, 1000)).add(-rng.random(10))
    back = QuantileSketch.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s
    assert np.array_equal(back.quantiles(QS), s.quantiles(QS))


def test_merge_rejects_different_parameters() -> None:
    with pytest.raises(AnalysisError, match="different parameters"):
        QuantileSketch(alpha=0.01).merge(QuantileSketch(alpha=0.02))
    with pytest.raises(AnalysisError):
        QuantileSketch(alpha=1.5)
    with pytest.raises(AnalysisError):
        QuantileSketch().quantile(1.5)


def test_bucket_count_is_logarithmic() -> None:
    s = QuantileSketch(alpha=0.005).add(np.geomspace(1e-3, 1e6, 100_000))
    assert s.n_buckets <= int(np.log(1e9) / np.log(s.gamma)) + 2


# --------------------------------------------------------------------------- sketch tables


def _grouped(seed: int, n: int = 20_000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "g": rng.choice(["a", "b", "c"], n),
        "h": rng.integers(0, 3, n),
        "x": np.where(rng.random(n) < 0.02, 0.0, rng.lognormal(2.0, 1.0, n)),
    })


def test_sketch_table_matches_single_sketches_and_exact() -> None:
    df = _grouped(0)
    t = SketchTable.from_frame(df, "x", keys=("g", "h"), alpha=0.005)
    out = t.quantiles([0.5, 0.9, 0.99], names=["p50", "p90", "p99"])
    exact = df.group_by("g", "h").agg(
        pl.col("x").quantile(0.5, "linear").alias("e50"),
        pl.col("x").quantile(0.9, "linear").alias("e90"),
        pl.col("x").quantile(0.99, "linear").alias("e99"),
    )
    j = out.join(exact, on=["g", "h"])
    assert j.height == 9
    for a, b in (("p50", "e50"), ("p90", "e90"), ("p99", "e99")):
        assert ((j[a] - j[b]).abs() <= 0.005 * j[b].abs() * SLACK + 1e-12).all()
    for g, h in [("a", 0), ("c", 2)]:
        vals = df.filter((pl.col("g") == g) & (pl.col("h") == h))["x"].to_numpy()
        single = QuantileSketch(alpha=0.005).add(vals)
        assert t.sketch({"g": g, "h": h}) == single
        row = out.filter((pl.col("g") == g) & (pl.col("h") == h)).row(0, named=True)
        assert np.allclose([row["p50"], row["p90"], row["p99"]], single.quantiles([0.5, 0.9, 0.99]), rtol=1e-12)


def test_sketch_table_merge_equals_whole() -> None:
    df = _grouped(1)
    parts = [SketchTable.from_frame(p, "x", keys=("g",)) for p in df.iter_slices(3000)]
    merged = SketchTable.merge_all(parts)
    whole = SketchTable.from_frame(df, "x", keys=("g",))
    a, b = merged.quantiles(QS), whole.quantiles(QS)
    assert a["g"].equals(b["g"])
    assert np.allclose(a.drop("g").to_numpy(), b.drop("g").to_numpy(), rtol=1e-12, atol=0)
    assert parts[0].merge(parts[1]).sketch() == parts[1].merge(parts[0]).sketch()


def test_rate_counts_merge_exact() -> None:
    a = RateCounts(("g",), pl.DataFrame({"g": ["x", "y"], "requests": [10, 5], "errors": [1, 0]}))
    b = RateCounts(("g",), pl.DataFrame({"g": ["y", "z"], "requests": [5, 1], "errors": [5, 1]}))
    m = a.merge(b)
    assert m.rate("errors").rows() == [("x", 10, 1, 0.1), ("y", 10, 5, 0.5), ("z", 1, 1, 1.0)]
    assert m.frame.equals(b.merge(a).frame)


# --------------------------------------------------------------------------- drift histograms


def _cases(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    ref = rng.normal(0, 1, 8000)
    return [
        (ref, rng.normal(0, 1, 6000)),
        (ref, rng.normal(0.3, 1.2, 6000)),
        (ref, rng.normal(4.0, 1.0, 6000)),  # mostly outside the reference range
        (ref, np.concatenate([rng.normal(0, 1, 5000), rng.uniform(-50, 50, 100)])),  # far outliers
        (np.round(rng.exponential(5, 8000), 1), np.round(rng.exponential(6, 7000), 1)),  # discrete values
        (rng.integers(0, 50, 3000).astype(float), rng.integers(10, 70, 3000).astype(float)),
        (np.full(1000, 2.0), rng.normal(2.0, 0.1, 500)),  # constant reference
    ]


@pytest.mark.parametrize("bins", [16, 256, 2048])
def test_wasserstein_and_ks_bounds_contain_exact(bins: int) -> None:
    rng = np.random.default_rng(bins)
    for ref, cur in _cases(rng):
        rs = np.sort(ref)
        h = NumericHistogram(reference_edges(rs, bins))
        for part in np.array_split(cur, 3):
            h.add(part)
        w_exact = stats.wasserstein_distance(ref, cur)
        est, lo, hi = h.wasserstein_bounds(rs)
        tol = 1e-9 * max(1.0, w_exact)
        assert lo - tol <= w_exact <= hi + tol
        assert lo - tol <= est <= hi + tol
        # documented width bound: sum of (inner bin width x current share)
        widths = np.diff(h.edges)
        assert hi - lo <= float(np.dot(widths, h.counts[1:-1] / h.n)) + tol
        d_exact = stats.ks_2samp(ref, cur).statistic
        d, d_lo, d_hi = h.ks_bounds(rs)
        assert d_lo - 1e-12 <= d_exact <= d_hi + 1e-12
        assert d_lo <= d <= d_hi
        assert d_hi - d_lo <= h.counts[1:-1].max(initial=0) / h.n + 1e-12


def test_numeric_histogram_merge_exact() -> None:
    rng = np.random.default_rng(5)
    edges = reference_edges(np.sort(rng.normal(size=2000)), 64)
    x = rng.normal(0.2, 1, 9000)
    whole = NumericHistogram(edges, track_values=True).add(np.round(x, 1))
    parts = [NumericHistogram(edges, track_values=True).add(np.round(p, 1)) for p in np.array_split(x, 4)]
    merged = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    assert np.array_equal(merged.counts, whole.counts) and merged.n == whole.n
    assert np.allclose(merged.sums, whole.sums)
    assert (merged.min, merged.max) == (whole.min, whole.max)
    assert np.array_equal(merged.values, whole.values)
    assert np.array_equal(merged.value_counts, whole.value_counts)
    with pytest.raises(AnalysisError):
        merged.merge(NumericHistogram(edges[:-1]))


def test_value_tracking_overflow() -> None:
    h = NumericHistogram(np.array([0.0, 1.0]), track_values=True, max_values=10)
    h.add(np.arange(5.0))
    assert h.value_count_arrays()[0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    h.add(np.arange(100.0))
    with pytest.raises(AnalysisError, match="exact value counts"):
        h.value_count_arrays()


def test_fixed_histogram_matches_numpy() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=10_000)
    edges = np.linspace(-2, 2, 17)
    h = FixedHistogram(edges)
    for p in np.array_split(x, 5):
        h.add(p)
    assert np.array_equal(h.counts, np.histogram(x, edges)[0])
    assert h.n == x.size


def test_categorical_counts_merge() -> None:
    a = CategoricalCounts.from_values(pl.Series([1, 2, 2, None]))
    b = CategoricalCounts.from_values(pl.Series([2, 3]))
    assert a.merge(b).as_dict() == {"1": 1, "2": 3, "3": 1}
    assert a.merge(b).as_dict() == b.merge(a).as_dict()
    assert a.n == 3
