"""The alert engine: Prometheus' state machine over history, signals from result frames."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from obskit.alerts import Signal, evaluate, parse_rules, run_state_machine, with_signals
from obskit.errors import AnalysisError

T0 = datetime(2026, 11, 22, tzinfo=UTC)
MIN = 60_000_000

# A signal read as is from a frame "sig" (window_start, version, value): one row = one value.
REG = with_signals(Signal("sig", "sig", "value", "test signal", agg="last"))


def _frame(series: dict[str, list[float | None]]) -> pl.DataFrame:
    rows = []
    for version, values in series.items():
        for i, v in enumerate(values):
            if v is not None:
                rows.append({"window_start": T0 + timedelta(minutes=i), "version": version, "value": float(v)})
    return pl.DataFrame(rows, schema={"window_start": pl.Datetime("us", "UTC"), "version": pl.String,
                                      "value": pl.Float64})


def _states(values: list[float | None], n: int | None = None, **rule: Any) -> str:
    """The timeline as one letter per evaluation: . inactive, P pending, F firing."""
    raw = {"name": "r", "signal": "sig", "comparison": ">", "threshold": 0.5, "window": "1m", "interval": "1m",
           **rule}
    rules = parse_rules([raw], registry=REG)
    end = T0 + timedelta(minutes=(n or len(values)) - 1)
    run = evaluate(rules, {"sig": _frame({"a": values})}, start=T0, end=end, registry=REG)
    letters = {"inactive": ".", "pending": "P", "firing": "F"}
    return "".join(letters[s] for s in run.timeline["state"].to_list())


# values: 1 = condition true, 0 = false, None = no data.
CASES = [
    ("for0-fires-at-once", [0, 1, 1, 0, 1], {}, ".FF.F"),
    ("for-exactly-reached", [1, 1, 1, 1, 0], {"for": "2m"}, "PPFF."),
    ("for-not-reached", [1, 1, 0, 1, 1, 0], {"for": "2m"}, "PP.PP."),
    ("for-not-multiple-of-step", [1, 1, 1, 1, 0], {"for": "90s"}, "PPFF."),
    ("flapping-resets-activeat", [1, 0, 1, 1, 0, 1, 1, 1], {"for": "2m"}, "P.PP.PPF"),
    ("missing-data-is-false", [1, 1, None, 1, 1, 1], {"for": "1m"}, "PF.PFF"),
    ("trailing-missing", [1, 1, 1, None, None], {"for": "1m"}, "PFF.."),
    ("keep-firing", [1, 1, 0, 0, 0, 0], {"for": "1m", "keep_firing_for": "2m"}, "PFFF.."),
    ("keep-firing-retriggered", [1, 0, 0, 1, 0, 0, 0], {"keep_firing_for": "2m"}, "FFFFFF."),
    ("keep-firing-not-for-pending", [1, 0, 1, 1, 0], {"for": "2m", "keep_firing_for": "5m"}, "P.PP."),
    ("keep-firing-missing-data", [1, 1, None, None, None], {"for": "1m", "keep_firing_for": "2m"}, "PFFF."),
    ("keep-firing-longer-than-data", [1, 0, 0], {"keep_firing_for": "10m"}, "FFF"),
    ("keep-firing-non-multiple", [1, 0, 0, 0, 0], {"keep_firing_for": "90s"}, "FFF.."),
    ("new-episode-after-resolve", [1, 1, 0, 1, 1, 1], {"for": "1m"}, "PF.PFF"),
    ("less-than", [0.9, 0.1, 0.2, 0.7], {"comparison": "<", "for": "1m"}, ".PF."),
    ("equals", [0.5, 0.5, 0.4], {"comparison": "==", "for": "1m"}, "PF."),
    ("not-equals", [0.5, 0.4, 0.4], {"comparison": "!=", "for": "1m"}, ".PF"),
    ("at-threshold-strict", [0.5, 0.5], {}, ".."),
    ("at-threshold-inclusive", [0.5, 0.5], {"comparison": ">="}, "FF"),
]


@pytest.mark.parametrize(("values", "rule", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_state_machine(values: list[float | None], rule: dict[str, Any], expected: str) -> None:
    assert _states(values, **rule) == expected


def test_run_state_machine_episodes() -> None:
    t = np.arange(8, dtype=np.int64) * MIN
    cond = np.array([1, 1, 1, 0, 1, 0, 0, 1], dtype=bool)
    states, eps = run_state_machine(t, cond, hold_us=MIN, keep_us=MIN)
    assert states.tolist() == [1, 2, 2, 2, 2, 2, 0, 1]
    assert eps == [(0, 1, 6), (7, -1, -1)]


def test_episodes_current_and_summary() -> None:
    rules = parse_rules([{"name": "r", "signal": "sig", "comparison": ">", "threshold": 0.5, "window": "1m",
                          "for": "1m", "by": ["version"], "labels": {"team": "ml"}, "severity": "page",
                          "summary": "{version} peaked at {value} from {start:%H:%M} to {end:%H:%M} ({duration})"}],
                        registry=REG)
    frame = _frame({"a": [0, 0.7, 0.9, 0.8, 0, 0, 0.6], "b": [0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]})
    run = evaluate(rules, {"sig": frame}, registry=REG)
    ep = run.episodes
    assert ep.columns == ["rule", "severity", "signal", "labels", "pending_at", "firing_at", "resolved_at",
                          "complete_at", "peak_value", "threshold", "summary"]
    rows = {(json.loads(r["labels"])["version"], r["pending_at"]): r for r in ep.iter_rows(named=True)}
    a1 = rows[("a", T0 + timedelta(minutes=1))]
    assert a1["firing_at"] == T0 + timedelta(minutes=2) and a1["resolved_at"] == T0 + timedelta(minutes=4)
    # rows stamped at their window's start: the 00:02 window's data is complete at 00:03
    assert a1["complete_at"] == T0 + timedelta(minutes=3)
    assert a1["peak_value"] == 0.9 and a1["severity"] == "page"
    assert a1["summary"] == "a peaked at 0.9 from 00:02 to 00:04 (2m)"
    assert json.loads(a1["labels"]) == {"team": "ml", "version": "a"}
    a2 = rows[("a", T0 + timedelta(minutes=6))]
    assert a2["firing_at"] is None and a2["resolved_at"] is None
    b = rows[("b", T0)]
    assert b["firing_at"] == T0 + timedelta(minutes=1) and b["resolved_at"] is None
    assert b["summary"] == "b peaked at 0.6 from 00:01 to now (5m)"
    cur = {json.loads(r["labels"])["version"]: r for r in run.current.iter_rows(named=True)}
    assert cur["a"]["state"] == "pending" and cur["a"]["since"] == T0 + timedelta(minutes=6)
    assert cur["b"]["state"] == "firing" and cur["b"]["since"] == T0 + timedelta(minutes=1)
    assert run.fired.height == 2 and run.firing_now.height == 1
    assert run.timeline.columns == ["rule", "labels", "t", "state", "value"]
    assert run.timeline.height == 14
    assert "2 fired" in repr(run)


def test_peak_is_the_minimum_for_less_than() -> None:
    rules = parse_rules([{"name": "r", "signal": "sig", "comparison": "<", "threshold": 0.5}], registry=REG)
    run = evaluate(rules, {"sig": _frame({"a": [0.9, 0.3, 0.1, 0.4, 0.9]})}, registry=REG)
    assert run.episodes["peak_value"].to_list() == [0.1]


def _window_stats(errors: list[int], requests: list[int], **cols: list[Any]) -> pl.DataFrame:
    n = len(errors)
    return pl.DataFrame({
        "window_start": [T0 + timedelta(minutes=i) for i in range(n)],
        **cols,
        "requests": requests, "errors": errors,
        "error_rate": [e / r for e, r in zip(errors, requests, strict=True)],
    })


def test_error_rate_rolls_as_a_ratio_of_sums() -> None:
    ws = _window_stats([0, 10, 0, 0, 0], [1000, 100, 100, 100, 100])
    rules = parse_rules([{"name": "e", "signal": "error_rate", "comparison": ">", "threshold": 0.02,
                          "window": "3m"}])
    run = evaluate(rules, {"window_stats": ws})
    values = run.timeline["value"].to_list()
    # (t-3m, t]: t=1m -> (1000+100), t=2m -> 3 windows, t=3m -> minutes 1..3, t=4m -> minutes 2..4
    assert values == pytest.approx([0, 10 / 1100, 10 / 1200, 10 / 300, 0])
    assert run.timeline["state"].to_list() == ["inactive", "inactive", "inactive", "firing", "inactive"]


def test_ratio_sums_over_labels_not_in_by() -> None:
    ws = _window_stats([0, 9, 1, 0], [10, 90, 10, 10], model_version=["a", "b", "a", "b"])
    ws = ws.with_columns(pl.Series("window_start", [T0, T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=1)]))
    total = evaluate(parse_rules([{"name": "e", "signal": "error_rate", "comparison": ">", "threshold": 0}]),
                     {"window_stats": ws})
    assert total.timeline["value"].to_list() == pytest.approx([9 / 100, 1 / 20])
    per = evaluate(parse_rules([{"name": "e", "signal": "error_rate", "comparison": ">", "threshold": 0,
                                 "by": ["model_version"]}]), {"window_stats": ws})
    got = {(json.loads(r["labels"])["model_version"], r["t"]): r["value"] for r in per.timeline.iter_rows(named=True)}
    assert got[("b", T0)] == pytest.approx(0.1) and got[("a", T0 + timedelta(minutes=1))] == pytest.approx(0.1)


def test_latency_rolls_request_weighted_and_burn_rate_scales() -> None:
    ws = _window_stats([0, 2], [100, 300], p99_ms=[100.0, 200.0])
    rules = parse_rules([
        {"name": "lat", "signal": "latency_p99_ms", "comparison": ">", "threshold": 150, "window": "2m"},
        {"name": "burn", "signal": "burn_rate", "objective": 0.99, "comparison": ">", "threshold": 0.4,
         "window": "2m"},
    ])
    run = evaluate(rules, {"window_stats": ws})
    lat = run.timeline.filter(pl.col("rule") == "lat")["value"].to_list()
    assert lat == pytest.approx([100.0, (100 * 100 + 200 * 300) / 400])
    burn = run.timeline.filter(pl.col("rule") == "burn")["value"].to_list()
    assert burn == pytest.approx([0.0, 2 / 400 / 0.01])


def test_drift_signal_per_feature_with_method_filter() -> None:
    drift = pl.DataFrame({
        "window_start": [T0, T0, T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1)],
        "column": ["brightness", "contrast", "brightness", "brightness", "contrast"],
        "method": ["kl_div", "kl_div", "ks", "kl_div", "kl_div"],
        "statistic": [0.1, 0.05, 0.9, 0.7, 0.01],
    })
    rules = parse_rules([{"name": "kl", "signal": "kl_divergence", "comparison": ">", "threshold": 0.3,
                          "summary": "{feature} {value:.1f}"}])
    run = evaluate(rules, {"drift_over_time": drift})
    assert run.episodes["summary"].to_list() == ["brightness 0.7"]
    assert set(run.current["labels"].to_list()) == {'{"feature": "brightness"}', '{"feature": "contrast"}'}


def test_gpu_signal_reads_the_canonical_gpu_frame() -> None:
    ts = [T0 + timedelta(seconds=10 * i) for i in range(30)]
    gpu = pl.DataFrame({"timestamp": ts, "gpu": [0] * 30, "memory_total_mib": [1000.0] * 30,
                        "memory_used_mib": [500.0] * 10 + [950.0] * 20, "utilization_pct": [50.0] * 30})
    rules = parse_rules([{"name": "mem", "signal": "gpu_memory_used_share", "comparison": ">", "threshold": 0.9,
                          "window": "1m", "interval": "1m", "for": "1m"}])
    run = evaluate(rules, {"gpu": gpu})
    assert run.timeline["t"].to_list() == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2),
                                           T0 + timedelta(minutes=3), T0 + timedelta(minutes=4)]
    # samples in (t - 1m, t]: 500 MiB until 90 s, 950 MiB from 100 s
    assert run.timeline["value"].to_list() == pytest.approx([0.5, 0.5, (3 * 500 + 3 * 950) / 6000, 0.95, 0.95])
    assert run.timeline["state"].to_list() == ["inactive", "inactive", "inactive", "pending", "firing"]


def test_confidence_frame_signals() -> None:
    from obskit.analyze.business import business_metrics

    req = pl.DataFrame({
        "timestamp": [T0 + timedelta(minutes=i) for i in range(6)],
        "status": ["ok", "ok", "ok", "ok", "error", "ok"],
        "confidence": [0.9, 0.95, 0.3, 0.99, None, 0.85],
        "corrected_label": [None, "x", None, None, None, None],
    })
    frame = business_metrics(req, every="1h", confidence_threshold=0.8)
    assert frame.row(0, named=True)["confident_rate"] == pytest.approx(4 / 5)
    rules = parse_rules([
        {"name": "corr", "signal": "correction_rate", "comparison": ">", "threshold": 0.2},
        {"name": "conf", "signal": "confident_rate", "comparison": "<", "threshold": 0.9},
    ])
    run = evaluate(rules, {"business": frame})
    assert run.fired["rule"].to_list() == ["conf", "corr"]


def test_start_end_step_override_and_data_before_start_counts() -> None:
    ws = _window_stats([5, 0, 0, 0, 0, 0], [100] * 6)
    rules = parse_rules([{"name": "e", "signal": "error_rate", "comparison": ">", "threshold": 0.01,
                          "window": "2m"}])
    run = evaluate(rules, {"window_stats": ws}, start=T0 + timedelta(minutes=1), end="2026-11-22T00:05:00Z",
                   step="2m")
    assert run.timeline["t"].to_list() == [T0 + timedelta(minutes=m) for m in (1, 3, 5)]
    assert run.timeline["value"].to_list() == pytest.approx([0.025, 0.0, 0.0])


def test_missing_frame_or_column_is_skipped_or_strict() -> None:
    rules = parse_rules([{"name": "e", "signal": "error_rate", "comparison": ">", "threshold": 0.01},
                         {"name": "k", "signal": "kl_divergence", "comparison": ">", "threshold": 0.3},
                         {"name": "v", "signal": "error_rate", "comparison": ">", "threshold": 0.01,
                          "by": ["model_version"]}])
    ws = _window_stats([0, 1], [10, 10])
    run = evaluate(rules, {"window_stats": ws})
    reasons = {s["rule"]: s["reason"] for s in run.skipped}
    assert set(reasons) == {"k", "v"}
    assert "no 'drift_over_time' frame given" in reasons["k"]
    assert "lacks column(s) model_version" in reasons["v"]
    assert run.timeline["rule"].unique().to_list() == ["e"]
    with pytest.raises(AnalysisError, match="alert rule 'k'"):
        evaluate(rules, {"window_stats": ws}, strict=True)


def test_window_shorter_than_frame_spacing_is_skipped() -> None:
    ws = _window_stats([0, 1], [10, 10]).with_columns(pl.Series("window_start", [T0, T0 + timedelta(minutes=5)]))
    rules = parse_rules([{"name": "e", "signal": "error_rate", "comparison": ">", "threshold": 0.01,
                          "window": "1m"}])
    run = evaluate(rules, {"window_stats": ws})
    assert "shorter than the frame's spacing 5m" in run.skipped[0]["reason"]


def test_empty_run_has_typed_frames() -> None:
    run = evaluate([], {})
    assert run.episodes.height == 0 and run.timeline.height == 0 and run.current.height == 0
    assert run.timeline.schema["state"] == pl.Enum(["inactive", "pending", "firing"])


def test_a_day_of_minutes_times_fifty_series_evaluates() -> None:
    n, versions = 1440, 50
    rng = np.random.default_rng(0)
    times = pl.datetime_range(T0, T0 + timedelta(minutes=n - 1), "1m", time_unit="us", eager=True)
    ws = pl.DataFrame({
        "window_start": times.gather(np.repeat(np.arange(n), versions)),
        "model_version": np.tile([f"v{i}" for i in range(versions)], n),
        "requests": rng.integers(50, 150, n * versions),
        "errors": rng.integers(0, 4, n * versions),
    })
    rules = parse_rules([{"name": "e", "signal": "error_rate", "comparison": ">", "threshold": 0.02,
                          "window": "5m", "for": "2m", "keep_firing_for": "1m", "by": ["model_version"],
                          "summary": "{model_version} {value:.1%}"}])
    run = evaluate(rules, {"window_stats": ws})  # its speed is measured in benchmarks/, not asserted here
    assert run.timeline.height == n * versions
    assert run.episodes.height > 0


@pytest.mark.parametrize(("burst_minutes", "fires"), [(2, False), (12, True)])
def test_error_excess_is_sustained_not_a_blip_at_any_volume(burst_minutes: int, fires: bool) -> None:
    """At 10,000 requests a minute a two-minute blip of 2 % errors is significant, but not an excess:
    beyond its two worst minutes the window errs as usual. Twelve minutes of it are one."""
    from obskit.alerts.baselines import MIN_US, error_excess_counts

    minutes = 300
    grid = np.arange(minutes + 1, dtype=np.int64) * MIN_US
    reqs = np.full(minutes, 10_000.0)
    errs = np.full(minutes, 10.0)  # 0.1 % as usual
    errs[240:240 + burst_minutes] = 200.0  # 2 %
    value = error_excess_counts(grid, {"v1": (reqs, errs)})["value"].to_numpy()
    assert bool((value[240:] >= 3).any()) is fires


def test_an_error_excess_ends_when_its_version_stops_serving() -> None:
    """A canary failing 1 in 5 is an excess while it serves; once rolled back (no request for
    5 minutes), its last hour of errors raises no new excess (it re-fired 28 minutes after its
    last request, explained by 'no failures in the episode's requests')."""
    from obskit.alerts.baselines import MIN_US, SERVING_MINUTES, error_excess_counts

    minutes = 400
    grid = np.arange(minutes + 1, dtype=np.int64) * MIN_US
    stable = (np.full(minutes, 100.0), np.full(minutes, 0.5))
    serving = (np.arange(minutes) >= 200) & (np.arange(minutes) < 300)
    canary = (np.where(serving, 20.0, 0.0), np.where(serving, 4.0, 0.0))
    ratio = error_excess_counts(grid, {"v1": stable, "v2": canary}).filter(pl.col("model_version") == "v2")
    value = ratio.get_column("value").to_numpy()
    assert np.nanmax(value[210:300]) >= 3  # an excess while it serves
    assert np.all(np.isnan(value[300 + SERVING_MINUTES:]))  # none once it stopped
