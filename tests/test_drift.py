"""Tests of obskit.analyze.drift and obskit.analyze.stattests, with Evidently parity."""

from __future__ import annotations

import math
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.spatial import distance

from obskit.analyze.drift import (
    KL_ALERT_THRESHOLD,
    benjamini_hochberg,
    column_drift,
    dataset_drift,
    drift_over_time,
    infer_kind,
    kl_divergence,
    prediction_drift_over_time,
    psi,
    psi_band,
)
from obskit.analyze.stattests import STAT_TESTS, Sample, binned_shares, default_test, get_test
from obskit.errors import AnalysisError

# --------------------------------------------------------------------------- fixtures

NUMERIC = ["num", "num_shift", "lowcard", "binary_num", "int_many"]
CATEGORICAL = ["cat", "cat_bin", "flag"]


def _mixed(n: int, seed: int, shift: float) -> pl.DataFrame:
    """Mixed-type frame: floats with nulls/NaN/inf, low-cardinality numerics, strings, bools."""
    rng = np.random.default_rng(seed)
    num = rng.normal(0, 1, n)
    num[rng.random(n) < 0.05] = np.nan
    num[0] = np.inf
    cats = ["a", "b", "c", "d"] + (["e"] if shift else [])
    cat = rng.choice(cats, n).astype(object)
    cat[rng.random(n) < 0.03] = None
    flag = rng.random(n) < (0.5 + shift / 4)
    flag_list: list[bool | None] = [bool(v) for v in flag]
    for i in range(0, n, 37):
        flag_list[i] = None
    return pl.DataFrame(
        {
            "num": pl.Series(num).fill_nan(None).to_list(),
            "num_shift": rng.normal(shift, 1 + shift / 3, n),
            "lowcard": rng.integers(0, 4, n).astype(float) + (rng.random(n) < shift / 3),
            "binary_num": (rng.random(n) < 0.3 + shift / 5).astype(float),
            "int_many": rng.integers(0, 100 + int(20 * shift), n),
            "cat": pl.Series(list(cat), dtype=pl.String),
            "cat_bin": rng.choice(["x", "y"], n, p=[0.5 + shift / 5, 0.5 - shift / 5]),
            "flag": pl.Series(flag_list, dtype=pl.Boolean),
        }
    )


KINDS = {**dict.fromkeys(NUMERIC, "numeric"), **dict.fromkeys(CATEGORICAL, "categorical")}

EVIDENTLY_NAMES = {t.display_name: t.name for t in STAT_TESTS.values()}


def _evidently(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    methods: dict[str, str] | None,
    thresholds: dict[str, float] | None,
) -> tuple[dict[str, dict[str, Any]], float]:
    """Run Evidently 0.7's DataDriftPreset; per-column method/statistic/verdict and share."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    report = Report(
        [DataDriftPreset(per_column_method=methods, per_column_threshold=thresholds)],
        include_tests=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snap = report.run(
            Dataset.from_pandas(current.to_pandas(), data_definition=definition),
            Dataset.from_pandas(reference.to_pandas(), data_definition=definition),
        ).dict()
    by_id: dict[str, dict[str, Any]] = {}
    share = math.nan
    for m in snap["metrics"]:
        cfg = m["config"]
        if cfg["type"] == "evidently:metric_v2:ValueDrift":
            by_id[m["id"]] = {
                "column": cfg["column"],
                "method": EVIDENTLY_NAMES.get(cfg["method"], cfg["method"]),
                "threshold": cfg["threshold"],
                "statistic": float(m["value"]),
            }
        elif cfg["type"] == "evidently:metric_v2:DriftedColumnsCount":
            share = float(m["value"]["share"])
    for t in snap["tests"]:
        fp = t["bound_test"].get("metric_fingerprint")
        if fp in by_id:
            by_id[fp]["drifted"] = t["status"].value == "FAIL"
    return {v["column"]: v for v in by_id.values()}, share


OVERRIDES: dict[str, tuple[dict[str, str] | None, dict[str, float] | None]] = {
    "auto": (None, None),
    "set1": (
        {
            "num": "anderson",
            "num_shift": "cramer_von_mises",
            "lowcard": "mannw",
            "int_many": "t_test",
            "binary_num": "psi",
            "cat": "kl_div",
            "cat_bin": "hellinger",
            "flag": "chisquare",
        },
        {"num_shift": 0.2, "cat": 0.3},
    ),
    "set2": (
        {
            "num": "ks",
            "num_shift": "wasserstein",
            "lowcard": "jensenshannon",
            "int_many": "hellinger",
            "binary_num": "kl_div",
            "cat": "psi",
            "cat_bin": "z",
            "flag": "jensenshannon",
        },
        {"num": 0.01, "lowcard": 0.05},
    ),
}


@pytest.mark.parametrize("n_ref", [500, 5000])
@pytest.mark.parametrize("config", list(OVERRIDES))
def test_parity_with_evidently(n_ref: int, config: str) -> None:
    methods, thresholds = OVERRIDES[config]
    reference = _mixed(n_ref, seed=n_ref, shift=0.0)
    current = _mixed(int(n_ref * 0.8), seed=n_ref + 1, shift=0.4)
    ours = column_drift(reference, current, kinds=KINDS, method=methods, threshold=thresholds)
    theirs, share = _evidently(reference, current, methods, thresholds)
    assert set(ours["column"]) == set(theirs)
    for row in ours.iter_rows(named=True):
        ev = theirs[row["column"]]
        ctx = f"{config}/{n_ref}/{row['column']}: obskit {row} vs evidently {ev}"
        assert row["method"] == ev["method"], ctx
        assert row["threshold"] == pytest.approx(ev["threshold"]), ctx
        assert row["statistic"] == pytest.approx(ev["statistic"], rel=1e-6, abs=1e-12), ctx
        assert row["drifted"] == ev["drifted"], ctx
    assert dataset_drift(ours).share == pytest.approx(share)


def test_auto_choice_covers_every_branch() -> None:
    reference = _mixed(500, seed=500, shift=0.0)
    current = _mixed(400, seed=501, shift=0.4)
    small = column_drift(reference, current, kinds=KINDS)
    assert dict(small.select("column", "method").iter_rows()) == {
        "num": "ks",
        "num_shift": "ks",
        "lowcard": "chisquare",  # 3-5 distinct values across both samples
        "binary_num": "z",
        "int_many": "ks",
        "cat": "chisquare",
        "cat_bin": "z",
        "flag": "z",
    }
    big = column_drift(_mixed(5000, 1, 0.0), _mixed(4000, 2, 0.4), kinds=KINDS)
    assert dict(big.select("column", "method").iter_rows()) == {
        "num": "wasserstein",
        "num_shift": "wasserstein",
        "lowcard": "jensenshannon",
        "binary_num": "jensenshannon",
        "int_many": "wasserstein",
        "cat": "jensenshannon",
        "cat_bin": "jensenshannon",
        "flag": "jensenshannon",
    }
    # nulls are dropped before the size rule: 1001 rows with 2 nulls is a "small" reference
    ref = pl.DataFrame({"x": [None, None, *np.linspace(0, 1, 999).tolist()]})
    assert column_drift(ref, ref).item(0, "method") == "ks"


def test_inferred_kinds_follow_evidently() -> None:
    assert infer_kind(pl.Series(list(range(10)) * 3)) == "categorical"
    assert infer_kind(pl.Series(list(range(11)))) == "numeric"
    assert infer_kind(pl.Series([True, None])) == "categorical"
    assert infer_kind(pl.Series([datetime(2024, 1, 1)])) is None
    assert infer_kind(pl.Series([f"req-{i}" for i in range(100)])) is None  # "text"
    assert infer_kind(pl.Series(["a", "b"] * 50)) == "categorical"
    frame = _mixed(300, 3, 0.0).with_columns(pl.lit(datetime(2024, 1, 1)).alias("ts"))
    out = column_drift(frame, frame)
    assert "ts" not in out["column"].to_list()
    assert dict(out.select("column", "kind").iter_rows())["int_many"] == "numeric"


# --------------------------------------------------------------------------- registry


EXPECTED = {
    # name: (default threshold, is_pvalue, drifted exactly at the threshold)
    "ks": (0.05, True, True),
    "chisquare": (0.05, True, False),
    "z": (0.05, True, False),
    "wasserstein": (0.1, False, True),
    "jensenshannon": (0.1, False, True),
    "psi": (0.1, False, True),
    "kl_div": (0.1, False, True),
    "hellinger": (0.1, False, True),
    "anderson": (0.1, True, False),
    "cramer_von_mises": (0.1, True, True),
    "mannw": (0.05, True, False),
    "t_test": (0.05, True, False),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_registry_direction_and_threshold(name: str) -> None:
    threshold, is_pvalue, at_threshold = EXPECTED[name]
    test = get_test(name)
    assert test.default_threshold == threshold
    assert test.is_pvalue is is_pvalue
    assert test.drifted(threshold) is at_threshold
    small, large = threshold / 10, min(threshold * 5, 1.0)
    assert test.drifted(small) is is_pvalue
    assert test.drifted(large) is not is_pvalue
    assert test.drifted(0.5, threshold=0.6) is is_pvalue


def test_registry_funcs_take_numpy_and_polars() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=300), rng.normal(0.3, 1, 300)
    for name, test in STAT_TESTS.items():
        kind = "numeric" if "numeric" in test.kinds else "categorical"
        x, y = (a, b) if kind == "numeric" else (a.round() > 0, b.round() > 0)
        v1 = test.func(x, y, kind)
        v2 = test.func(pl.Series(x), pl.Series(y), kind)
        assert v1 == pytest.approx(v2), name
        assert np.isfinite(v1), name


def test_registry_rejects_unknown_and_wrong_kind() -> None:
    with pytest.raises(AnalysisError, match="unknown drift test"):
        get_test("nope")
    frame = pl.DataFrame({"c": ["a", "b"] * 20, "x": np.arange(40.0)})
    with pytest.raises(AnalysisError, match="does not apply") as info:
        column_drift(frame, frame, method={"c": "ks"})
    assert info.value.column == "c"
    with pytest.raises(AnalysisError, match="missing"):
        column_drift(frame, frame.drop("x"), columns=["x"])
    with pytest.raises(AnalysisError, match="no non-null") as info:
        column_drift(frame, frame.with_columns(pl.lit(None, pl.Float64).alias("x")))
    assert info.value.column == "x"


def test_default_test_counts_values_of_both_samples() -> None:
    ref = Sample([0.0, 1.0] * 100, "numeric")
    assert default_test(ref, Sample([0.0, 1.0], "numeric")).name == "z"
    assert default_test(ref, Sample([0.0, 1.0, 2.0], "numeric")).name == "chisquare"
    assert default_test(ref, Sample([2.0, 3.0, 4.0, 5.0], "numeric")).name == "ks"


def _scipy_wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b))


@pytest.mark.parametrize(
    ("n", "m", "values"),
    [
        (1, 1, "normal"),
        (1, 7, "normal"),
        (500, 500, "normal"),
        (500, 500, "ties"),
        (3, 2000, "normal"),
        (2000, 3, "ties"),
        (12, 18, "ties"),
        (999, 1000, "rounded"),
        (1000, 250, "rounded"),
        (4096, 3, "constant"),
    ]
    + [(int(n), int(m), "random") for n, m in np.random.default_rng(3).integers(1, 3000, (8, 2))],
)
def test_wasserstein_quantile_merge_matches_scipy(n: int, m: int, values: str) -> None:
    from obskit.analyze.stattests.wasserstein import wasserstein_sorted as _wasserstein_sorted

    rng = np.random.default_rng(n * 7919 + m)
    if values == "ties":
        a, b = rng.integers(0, 4, n).astype(float), rng.integers(1, 6, m).astype(float)
    elif values == "rounded":
        a, b = rng.normal(size=n).round(1), rng.normal(0.2, 1.5, m).round(1)
    elif values == "constant":
        a, b = np.full(n, 2.5), np.full(m, 2.5)
    else:
        a, b = rng.normal(size=n), rng.standard_t(3, m) + 0.1
    ref, cur = Sample(a, "numeric"), Sample(b, "numeric")
    assert np.array_equal(ref.sorted, np.sort(a)) and np.array_equal(cur.sorted, np.sort(b))
    expected = _scipy_wasserstein(a, b)
    for got in (_wasserstein_sorted(ref.sorted, cur.sorted), _wasserstein_sorted(cur.sorted, ref.sorted)):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_sample_sort_handles_signed_zeros_and_extremes() -> None:
    x = [0.0, -0.0, 1.0, -1.0, 5e-324, -5e-324, 1e308, -1e308, float("nan"), None, float("-inf")]
    got = Sample(x, "numeric").sorted
    assert got.tolist() == [-1e308, -1.0, -5e-324, 0.0, 0.0, 5e-324, 1.0, 1e308]
    assert got.dtype == np.float64 and got.flags.c_contiguous


# --------------------------------------------------------------------------- BH, KL, PSI


def test_benjamini_hochberg_by_hand() -> None:
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    m = len(p)
    # step-up by hand: p_(i) * m / i, then running minimum from the largest rank down
    raw = [p[i] * m / (i + 1) for i in range(m)]
    expected = [min(raw[i:]) for i in range(m)]
    rng = np.random.default_rng(0)
    perm = rng.permutation(m)
    got = benjamini_hochberg(np.array(p)[perm])
    np.testing.assert_allclose(got, np.array(expected)[perm])
    assert benjamini_hochberg([0.9, np.nan]).tolist()[0] == pytest.approx(0.9)
    assert np.isnan(benjamini_hochberg([0.9, np.nan])[1])
    assert benjamini_hochberg([0.5, 0.9]).max() <= 1.0


def test_column_drift_applies_bh_across_pvalue_columns() -> None:
    rng = np.random.default_rng(11)
    ref = pl.DataFrame({f"x{i}": rng.normal(size=400) for i in range(4)})
    cur = pl.DataFrame({f"x{i}": rng.normal(0.15 * i, 1, 400) for i in range(4)})
    out = column_drift(ref, cur)
    assert out["method"].unique().to_list() == ["ks"]
    expected = benjamini_hochberg(out["statistic"].to_numpy())
    np.testing.assert_allclose(out["p_value_adjusted"].to_numpy(), expected)


def test_kl_smoothing_with_empty_bins() -> None:
    ref = ["a"] * 50 + ["b"] * 50
    cur = ["a"] * 100
    _, c = binned_shares(ref, cur, "categorical")
    assert sorted(c.tolist()) == [1e-4, 1.0]  # the empty bin gets 1e-4
    p, q = np.array([0.5, 0.5]), np.array([1.0, 1e-4]) / 1.0001
    expected = float(np.sum(p * np.log(p / q)))
    assert kl_divergence(ref, cur, kind="categorical") == pytest.approx(expected)
    assert STAT_TESTS["kl_div"].func(ref, cur, "categorical") == pytest.approx(expected)
    assert kl_divergence(ref, cur, kind="categorical") > KL_ALERT_THRESHOLD
    # tiny shares: empty bins get (smallest non-empty share) / 1e6
    big = ["a"] * 99_999 + ["b"]
    _, c2 = binned_shares(["a", "b", "c"], big, "categorical")
    assert sorted(c2.tolist())[0] == pytest.approx(1e-5 / 1e6)
    # an explicit smoothing value replaces Evidently's rule
    eps = 1e-3
    q2 = np.array([1.0, eps]) / (1 + eps)
    assert kl_divergence(ref, cur, kind="categorical", smoothing=eps) == pytest.approx(
        float(np.sum(p * np.log(p / q2)))
    )
    # Jensen-Shannon does not smooth
    assert STAT_TESTS["jensenshannon"].func(ref, cur, "categorical") == pytest.approx(
        distance.jensenshannon([0.5, 0.5], [1.0, 0.0])
    )


def test_kl_quantile_bins() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=20_000)
    assert kl_divergence(ref, rng.normal(size=20_000), bins=10) < 0.01
    assert kl_divergence(ref, rng.normal(1.5, 1, 20_000), bins=10) > KL_ALERT_THRESHOLD
    with pytest.raises(AnalysisError):
        kl_divergence(["a"], ["b"], kind="categorical", bins=5)


def test_psi_and_bands() -> None:
    assert psi_band(0.0) == "stable"
    assert psi_band(0.0999) == "stable"
    assert psi_band(0.1) == "moderate"
    assert psi_band(0.2499) == "moderate"
    assert psi_band(0.25) == "significant"
    ref = ["a"] * 50 + ["b"] * 50
    cur = ["a"] * 80 + ["b"] * 20
    expected = (0.5 - 0.8) * math.log(0.5 / 0.8) + (0.5 - 0.2) * math.log(0.5 / 0.2)
    assert psi(ref, cur, kind="categorical") == pytest.approx(expected)
    assert psi_band(expected) == "significant"
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=5000), rng.normal(size=5000)
    assert psi(x, y) == pytest.approx(STAT_TESTS["psi"].func(x, y))  # Evidently's binning
    assert psi_band(psi(x, y)) == "stable"


# --------------------------------------------------------------------------- over time


def _hourly(hours: int, per_hour: int, shift_from: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    ts: list[datetime] = []
    x: list[float] = []
    pred: list[str] = []
    conf: list[float] = []
    for h in range(hours):
        shifted = h >= shift_from
        for i in range(per_hour):
            ts.append(t0 + timedelta(hours=h, seconds=i * 3600 // per_hour))
        x.extend(rng.normal(0.8 if shifted else 0.0, 1.0, per_hour))
        mix = [0.7, 0.2, 0.1] if shifted else [0.34, 0.33, 0.33]
        pred.extend(rng.choice(["cat", "dog", "eel"], per_hour, p=mix))
        conf.extend(rng.beta(2 if shifted else 8, 2, per_hour))
    return pl.DataFrame(
        {"timestamp": ts, "x": x, "prediction": pred, "confidence": conf},
        schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
    )


def test_drift_over_time_flags_from_injected_hour() -> None:
    rng = np.random.default_rng(21)
    reference = pl.DataFrame({"x": rng.normal(size=3000)})
    current = _hourly(hours=6, per_hour=400, shift_from=3, seed=22)
    out = drift_over_time(reference, current, every="1h", columns=["x"])
    assert out.columns[:4] == ["window_start", "column", "kind", "method"]
    assert out.height == 6
    assert out["method"].unique().to_list() == ["wasserstein"]
    assert out["drifted"].to_list() == [False] * 3 + [True] * 3
    assert out["obskit_drifted"].to_list() == [False] * 3 + [True] * 3
    starts = out["window_start"].to_list()
    assert starts[3] == datetime(2024, 3, 1, 3, tzinfo=UTC)
    assert out["n_current"].to_list() == [400] * 6


def test_drift_over_time_rejects_bad_timestamp() -> None:
    frame = pl.DataFrame({"timestamp": ["2024"], "x": [1.0]})
    with pytest.raises(AnalysisError) as info:
        drift_over_time(frame, frame)
    assert info.value.column == "timestamp"


def test_prediction_drift_over_time() -> None:
    reference = _hourly(hours=4, per_hour=1000, shift_from=99, seed=30).drop("timestamp")
    current = _hourly(hours=4, per_hour=1000, shift_from=2, seed=31)
    out = prediction_drift_over_time(reference, current)
    assert set(out["column"]) == {"prediction", "confidence"}
    pred = out.filter(pl.col("column") == "prediction")
    conf = out.filter(pl.col("column") == "confidence")
    assert pred["method"].unique().to_list() == ["jensenshannon"]
    assert pred["drifted"].to_list() == [False, False, True, True]
    assert conf["drifted"].to_list() == [False, False, True, True]
    with pytest.raises(AnalysisError):
        prediction_drift_over_time(reference.drop("prediction"), current)


# --------------------------------------------------------------------------- obskit verdict


def test_effect_ci_contains_true_value() -> None:
    # two unit-variance normals 0.5 apart: W1 = 0.5 and the reference std is 1, so the
    # normalized Wasserstein distance is 0.5; shares (0.5, 0.5) vs (0.7, 0.3) give a known
    # Jensen-Shannon distance. Check the 95 % intervals cover them in most of 40 draws.
    true_js = distance.jensenshannon([0.5, 0.5], [0.7, 0.3])
    hits_x = hits_c = 0
    widths = []
    draws = 40
    for seed in range(draws):
        rng = np.random.default_rng(seed)
        ref = pl.DataFrame({"x": rng.normal(0, 1, 3000), "c": rng.choice(["a", "b"], 3000)})
        cur = pl.DataFrame(
            {"x": rng.normal(0.5, 1, 3000), "c": rng.choice(["a", "b"], 3000, p=[0.7, 0.3])}
        )
        out = {r["column"]: r for r in column_drift(ref, cur, seed=seed).iter_rows(named=True)}
        x, c = out["x"], out["c"]
        assert x["effect_name"] == "wasserstein_normed"
        assert c["effect_name"] == "jensenshannon"
        assert x["effect_ci_low"] <= x["effect_size"] <= x["effect_ci_high"]
        hits_x += x["effect_ci_low"] < 0.5 < x["effect_ci_high"]
        hits_c += c["effect_ci_low"] < true_js < c["effect_ci_high"]
        widths.append(x["effect_ci_high"] - x["effect_ci_low"])
    assert hits_x >= 0.85 * draws
    assert hits_c >= 0.85 * draws
    assert float(np.median(widths)) < 0.15
    # deterministic for a seed
    rng = np.random.default_rng(0)
    ref = pl.DataFrame({"x": rng.normal(0, 1, 3000)})
    cur = pl.DataFrame({"x": rng.normal(0.5, 1, 3000)})
    first = column_drift(ref, cur, seed=3)["effect_ci_low"].item()
    assert column_drift(ref, cur, seed=3)["effect_ci_low"].item() == first


def test_large_sample_pvalue_drift_is_not_obskit_drift() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    ref = pl.DataFrame({"x": rng.normal(0, 1, n)})
    cur = pl.DataFrame({"x": rng.normal(0.02, 1, n)})
    ks = column_drift(ref, cur, method="ks").row(0, named=True)
    assert ks["statistic"] < 1e-4
    assert ks["drifted"] is True  # Evidently: drift
    assert ks["p_value_adjusted"] < 0.05
    assert ks["effect_size"] < 0.05
    assert ks["obskit_drifted"] is False  # obskit: too small to matter
    auto = column_drift(ref, cur).row(0, named=True)
    assert auto["method"] == "wasserstein"
    assert auto["drifted"] is False and auto["obskit_drifted"] is False


def test_distance_verdict_needs_ci_away_from_zero() -> None:
    rng = np.random.default_rng(9)
    ref = pl.DataFrame({"x": rng.normal(size=3000)})
    cur = pl.DataFrame({"x": rng.normal(size=3000)})
    row = column_drift(ref, cur, threshold=0.001).row(0, named=True)
    assert row["method"] == "wasserstein"
    assert row["drifted"] is True  # any noise passes a tiny threshold
    assert row["effect_ci_low"] == 0.0
    assert row["obskit_drifted"] is False


def test_dataset_drift_rule() -> None:
    res = pl.DataFrame(
        {"drifted": [True, True, False, False], "obskit_drifted": [True, False, False, False]}
    )
    d = dataset_drift(res)
    assert (d.n_columns, d.n_drifted, d.share, d.drifted) == (4, 2, 0.5, True)
    assert (d.obskit_share, d.obskit_drifted) == (0.25, False)
    assert dataset_drift(res, drift_share=0.75).drifted is False
    with pytest.raises(AnalysisError):
        dataset_drift(pl.DataFrame({"x": [1]}))
