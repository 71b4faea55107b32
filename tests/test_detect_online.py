"""Online anomaly detectors: causality (prefix invariance), calibration, verdicts, alerts and the NAB scorer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.alerts.engine import evaluate
from obskit.alerts.export import prometheus_export
from obskit.alerts.rules import parse_rules
from obskit.analyze import detect, online
from obskit.errors import AlertRuleError, AnalysisError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NAB = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "nab"


def _frame(x: np.ndarray, step_min: int = 5) -> pl.DataFrame:
    return pl.DataFrame({"window_start": [T0 + timedelta(minutes=step_min * i) for i in range(x.size)],
                         "value": x})


def _series_kinds() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    n = 1400
    i = np.arange(n)
    walk = np.cumsum(rng.normal(0, 1, n))
    daily = 50 + 20 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 2, n)
    steps = np.r_[np.full(700, 5.0), np.full(700, 9.0)] + rng.normal(0, 0.5, n)
    counts = rng.poisson(3, n).astype(float)
    flat = np.r_[np.full(900, 7.0), np.full(500, 7.5)]
    gappy = daily.copy()
    gappy[rng.random(n) < 0.05] = np.nan
    return [walk, daily, steps, counts, flat, gappy]


def _nab_series() -> list[np.ndarray]:
    if not NAB.exists():
        return []
    names = ["realKnownCause/nyc_taxi.csv", "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv",
             "realTweets/Twitter_volume_AAPL.csv"]
    return [np.genfromtxt(NAB / "corpus" / n, delimiter=",", skip_header=1, usecols=1)[:3000] for n in names]


DETECTORS = {
    **{f"score[{m}]": (lambda x, _m=m: np.c_[detect.score(x, method=_m).score, detect.score(x, method=_m).anomaly])
       for m in detect.METHODS},
    "knn_distance": lambda x: detect.knn_distance(x, 10),
    "level_deviation": detect.level_deviation,
    "tail_probability": lambda x: online.tail_probability(np.abs(np.nan_to_num(x))),
    "discord_distance": lambda x: detect.discord_distance(x, 24, history=400),
    "cusum_statistic": detect.cusum_statistic,
    "cusum": lambda x: np.array(detect.cusum(x) or [(0, 0, 0)]),
}


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool((a == b).all()) if a.shape == b.shape else False


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_no_look_ahead_prefixes_give_the_same_results(name: str) -> None:
    """The score of a row must not change when later rows are removed."""
    fn = DETECTORS[name]
    for x in [*_series_kinds(), *_nab_series()]:
        full = fn(x)
        for cut in (300, 777, x.size - 1):
            part = fn(x[:cut])
            if name == "cusum":  # alarms raised within the prefix are the same
                full_rows = [tuple(r) for r in full if r[0] < cut and tuple(r) != (0, 0, 0)]
                part_rows = [tuple(r) for r in part if tuple(r) != (0, 0, 0)]
                assert full_rows == part_rows, (name, cut)
            else:
                assert _same(full[:cut], part), (name, cut)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=60, max_size=400), st.integers(10, 59))
def test_prefix_property_on_arbitrary_series(values: list[float], cut: int) -> None:
    x = np.array(values)
    for method in detect.METHODS:
        full = detect.score(x, method=method)
        part = detect.score(x[:cut], method=method)
        assert np.array_equal(full.score[:cut], part.score)
        assert np.array_equal(full.anomaly[:cut], part.anomaly)
        assert ((full.score >= 0) & (full.score <= 1)).all()


def test_scores_are_calibrated_on_noise_and_find_a_spike_and_a_shift() -> None:
    rng = np.random.default_rng(2)
    alarms = [detect.score(rng.normal(0, 1, 5000)).anomaly.sum() for _ in range(3)]
    # 0.2 % per row is the stated rate before the refractory period thins alarms out
    assert max(alarms) <= 5000 * 0.002
    x = rng.normal(100, 5, 3000)
    x[2000] = 160.0
    x[2600:] += 40.0
    d = detect.score(x)
    hits = np.flatnonzero(d.anomaly)
    assert 2000 in hits
    assert any(2600 <= h <= 2610 for h in hits)


def test_flat_then_change_and_constant_series() -> None:
    flat = detect.score(np.full(2000, 3.0))
    assert not flat.anomaly.any()
    broken = detect.score(np.r_[np.full(1500, 3.0), np.full(100, 4.0)])
    assert broken.anomaly[1500]


def test_detect_on_frames_per_group_and_errors() -> None:
    rng = np.random.default_rng(5)
    a = rng.normal(10, 1, 600)
    a[500] = 40
    b = rng.normal(10, 1, 600)
    f = pl.concat([_frame(a).with_columns(pl.lit("a").alias("host")),
                   _frame(b).with_columns(pl.lit("b").alias("host"))])
    out = detect.detect(f, by=["host"])
    flagged = out.filter("anomaly")
    assert ("a", T0 + timedelta(minutes=5 * 500)) in flagged.select("host", "window_start").rows()
    assert out.height == 1200 and out["anomaly_score"].is_between(0, 1).all()
    with pytest.raises(AnalysisError, match="unknown anomaly method"):
        detect.score(a, method="magic")  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="false_alarm_rate"):
        detect.score(a, false_alarm_rate=0)


def test_refractory_keeps_one_alarm_per_episode() -> None:
    s, alarm = online.refractory(np.array([0.999, 0.9995, 0.9999, 0.1, 0.9991]), 0.999, 3)
    assert alarm.tolist() == [True, False, False, False, True]
    assert (s[1:3] < 0.999).all()


# ------------------------------------------------------------------ alerts


def _ws(rps: np.ndarray) -> pl.DataFrame:
    n = rps.size
    return pl.DataFrame({"window_start": [T0 + timedelta(minutes=i) for i in range(n)],
                         "requests": (rps * 60).astype(np.int64), "errors": np.zeros(n, dtype=np.int64),
                         "rps": rps})


def test_anomaly_rules_fire_on_a_traffic_drop_and_not_on_the_clean_series() -> None:
    rng = np.random.default_rng(8)
    i = np.arange(1440)
    clean = 20 + 8 * np.sin(2 * np.pi * i / 1440) + rng.normal(0, 0.6, i.size)
    dropped = clean.copy()
    dropped[1000:1060] *= 0.3
    rules = parse_rules([{"name": "traffic-anomaly", "signal": "request_rate", "anomaly": "ensemble",
                          "comparison": ">=", "threshold": 0.9999, "window": "5m", "interval": "1m",
                          "severity": "page"}])
    fired = evaluate(rules, {"window_stats": _ws(dropped)}).episodes
    assert fired.height >= 1
    first = fired["pending_at"].min()
    assert T0 + timedelta(minutes=1000) <= first <= T0 + timedelta(minutes=1010)
    assert evaluate(rules, {"window_stats": _ws(clean)}).episodes.height == 0
    export = prometheus_export(rules)
    assert export.exported == [] and "anomaly" in export.skipped[0]["reason"]


@pytest.mark.parametrize("raw, match", [
    ({"anomaly": "magic"}, "anomaly: expected one of"),
    ({"anomaly": "knn", "comparison": "<"}, "compare the detector's score"),
    ({"anomaly": "knn", "threshold": 3.5}, "compare the detector's score"),
])
def test_anomaly_rule_validation(raw: dict[str, object], match: str) -> None:
    rule = {"name": "x", "signal": "request_rate", "comparison": ">=", "threshold": 0.999, **raw}
    with pytest.raises(AlertRuleError, match=match):
        parse_rules([rule])


# ------------------------------------------------------------------ NAB scorer


def test_nab_scorer_on_a_hand_computed_file() -> None:
    from benchmarks import nab

    n = 100  # probation: 15 rows
    ts = np.arange(n).astype("datetime64[m]").astype("datetime64[s]")
    f = nab.NabFile("toy/a.csv", ts, np.zeros(n), ((40, 49),))
    null = np.zeros(n)
    res = nab.score_corpus([f], [null], "standard")
    assert res.normalized == 0.0 and res.detected == 0
    first = np.zeros(n)
    first[40] = 1.0  # detection at the window's first row earns tp exactly
    assert nab.score_corpus([f], [first], "standard").normalized == pytest.approx(100.0)
    late = np.zeros(n)
    late[49] = 1.0  # at the last row: sigmoid(-1/10 * 5) scaled
    expected_tp = (2 / (1 + np.exp(5 * -0.1)) - 1) / (2 / (1 + np.exp(-5)) - 1)
    assert nab.score_corpus([f], [late], "standard").raw == pytest.approx(expected_tp)
    fp = first.copy()
    fp[20] = 1.0  # before any window: a full false positive, -fp weight
    assert nab.score_corpus([f], [fp], "standard").raw == pytest.approx(1.0 - 0.11)
    assert nab.score_corpus([f], [fp], "reward_low_FP_rate").raw == pytest.approx(1.0 - 0.22)
    probation = first.copy()
    probation[5] = 1.0  # probationary rows are not scored
    assert nab.score_corpus([f], [probation], "standard").raw == pytest.approx(1.0)


@pytest.mark.skipif(not NAB.exists(), reason="needs ../shared/benchmarks/nab")
def test_nab_windowed_gaussian_reference_matches_the_scoreboard() -> None:
    """The scorer's check: NAB's own Windowed Gaussian scores as published (exhaustive threshold: >=)."""
    from benchmarks import nab

    files = [f for f in nab.load_corpus(NAB)]
    assert len(files) == 58 and sum(len(f.windows) for f in files) == 116
    sub = files[::6]
    scores = [nab._windowed_gaussian(f.values) for f in sub]
    res = nab.score_corpus(sub, scores, "standard")
    assert -100 < res.normalized < 100 and res.windows == sum(len(f.windows) for f in sub)


@settings(max_examples=20, deadline=None)
@given(st.integers(12, 300), st.floats(0.0, 0.4), st.integers(0, 2**31))
def test_the_period_is_found_from_a_warm_up(period: int, noise: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    i = np.arange(detect.WARMUP)
    x = np.sin(2 * np.pi * i / period) + 0.3 * np.sin(4 * np.pi * i / period) + rng.normal(0, noise, i.size)
    found = detect.estimate_period(x)
    if period < detect.WARMUP // 3:  # three cycles in view: always found
        assert found is not None and abs(found - period) <= max(2, period // 20)  # within 5 %
    elif found is not None:  # fewer: found when clear enough, and never a wrong one
        assert abs(found - period) <= max(2, period // 20)
    assert detect.estimate_period(rng.normal(0, 1, detect.WARMUP)) is None
    assert detect.estimate_period(np.full(100, 2.0)) is None


def _heartbeat(n: int, period: int, seed: int) -> np.ndarray:
    """A periodic signal with one sharp beat per cycle and some noise."""
    rng = np.random.default_rng(seed)
    phase = (np.arange(n) % period) / period
    return np.exp(-((phase - 0.3) / 0.03) ** 2) - 0.4 * np.exp(-((phase - 0.5) / 0.06) ** 2) + rng.normal(0, 0.03, n)


@pytest.mark.parametrize("period", [48, 120, 250])
def test_a_broken_cycle_within_the_usual_range_is_found_by_its_shape(period: int) -> None:
    x = _heartbeat(4000, period, seed=period)
    at = 3000 - 3000 % period + period // 4
    x[at:at + period // 2] = x[at:at + period // 2][::-1]  # the beat comes late: no value out of range
    assert x.min() >= _heartbeat(4000, period, seed=period).min() - 0.2
    d = detect.score(x)
    assert d.period == period
    hits = np.flatnonzero(d.anomaly)
    strongest = hits[np.argmax(d.score[hits])]
    assert at <= strongest < at + period, hits  # the broken cycle is the most unusual alarm
    assert hits.size <= 0.002 * x.size  # and the other alarms stay within the stated rate
    alone = detect.score(x, method="discord")
    assert any(at <= h < at + period for h in np.flatnonzero(alone.anomaly))


def test_the_ensemble_combination_holds_the_false_alarm_rate_whatever_the_members() -> None:
    from scipy import stats

    rng = np.random.default_rng(7)
    n = 200_000
    independent = [rng.random(n) for _ in range(4)]
    assert stats.kstest(online.any_probability(independent), "uniform").pvalue > 0.01
    # correlated members (a Gaussian copula, rho = 0.7), as detectors of one series are
    z = rng.normal(size=n)
    correlated = [stats.norm.cdf(0.7 * z + np.sqrt(1 - 0.7**2) * rng.normal(size=n)) for _ in range(4)]
    same = [independent[0]] * 4
    for members in (independent, correlated, same):
        for a in (0.001, 0.01, 0.05):
            rate = float(np.mean(online.any_probability(members) <= a))
            assert rate <= a + 4 * np.sqrt(a / n), (a, rate)  # never above the rate asked for
            # where the bare minimum alarms up to k times too often
        assert np.mean(np.min(members, axis=0) <= 0.01) >= (0.035 if members is independent else 0.0)
    # a member that always abstains (p = 1) never makes a row more unusual
    assert (online.any_probability([independent[0], np.ones(n)]) >= independent[0]).all()
    with pytest.raises(Exception, match="at least one"):
        online.any_probability([])


def test_flag_anomalies_marks_each_column_and_ignores_nulls() -> None:
    rng = np.random.default_rng(9)
    a = rng.normal(50, 2, 1000)
    a[800] = 90.0
    b = [None if i % 3 == 0 else float(v) for i, v in enumerate(rng.normal(5, 0.1, 1000))]
    out = detect.flag_anomalies(pl.DataFrame({"rps": a, "p99_ms": b}), ["rps", "p99_ms"])
    assert np.flatnonzero(out["rps_anomaly"].to_numpy()).tolist() == [800]
    assert not out.filter(pl.col("p99_ms").is_null())["p99_ms_anomaly"].any()


def test_a_gap_is_no_shape_and_bad_input_is_an_obskit_error() -> None:
    rng = np.random.default_rng(1)
    x = np.sin(np.arange(4000) * 2 * np.pi / 100) + rng.normal(0, 0.05, 4000)
    x[2000:2030] = np.nan
    stats, _ = detect.members(x)
    for name in ("knn10", "knn50", "discord"):  # a carried-forward gap is not a shape: no score until clean
        m = {"knn10": 10, "knn50": 50, "discord": 100}[name]
        assert np.isnan(stats[name][2000:2030 + m - 1]).all(), name
    assert not detect.score(x).anomaly[2000:2100].any()  # the return of the data is no anomaly
    assert detect.score([]).anomaly.size == 0
    for bad in (["a"], [[1.0, 2.0]]):
        with pytest.raises(AnalysisError):
            detect.score(bad)  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="numeric"):
        detect.flag_anomalies(pl.DataFrame({"a": ["x"]}), ["a"])
    with pytest.raises(AnalysisError, match="history"):
        detect.score(x, history=0)
    with pytest.raises(Exception, match="history of at least"):
        detect.discord_distance(x, 10, history=5)


@pytest.mark.parametrize("n", [11, 19, 20, 24, 40])
def test_discord_on_short_series_is_causal(n: int) -> None:
    x = np.random.default_rng(5).normal(size=60)
    full = detect.discord_distance(x, 10, history=12)
    assert np.array_equal(detect.discord_distance(x[:n], 10, history=12), full[:n], equal_nan=True)
