"""Alerts that say what and where: segment ranking, per-version signals, subjects and hints end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.alerts import alert_records
from obskit.alerts.explain import explain_episode, subject_text
from obskit.alerts.notify import WebhookNotifier, slack_text
from obskit.alerts.rules import parse_rules
from obskit.alerts.segment_signals import version_classes, version_error_ratio, version_latency_tail
from obskit.analyze.segments import NONE_EXPLAINS, Binned, rank_drops, rank_segments, segment_counts

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _counts(rows: dict[str, tuple[int, int]], dimension: str = "client") -> pl.DataFrame:
    return pl.DataFrame({"dimension": [dimension] * len(rows), "value": list(rows),
                         "rows": [r for r, _ in rows.values()], "outcomes": [o for _, o in rows.values()]})


# --------------------------------------------------------------------------- ranking


def test_the_segment_that_holds_the_outcome_is_ranked_first() -> None:
    during = pl.concat([_counts({"ios": (4500, 400), "android": (4000, 40), "web": (1500, 15)}),
                        _counts({"v1": (9000, 405), "v2": (1000, 50)}, "model_version")])
    top = rank_segments(during)
    assert top.row(0, named=True)["value"] == "ios"
    assert top.height == 1  # v2's 50/1000 against v1's 405/9000 is no clear excess
    row = top.row(0, named=True)
    assert 0.85 < row["support"] < 0.95 and row["effect_low"] <= row["effect"] <= row["effect_high"]


def test_an_even_outcome_has_no_explaining_segment() -> None:
    assert rank_segments(_counts({"ios": (50_000, 5000), "android": (40_000, 4000), "web": (10_000, 1000)})).is_empty()


def test_a_segment_that_is_always_worse_does_not_explain_todays_change() -> None:
    # web is always 3x slower; today every client doubles: the change is spread, not web's
    before = _counts({"ios": (5000, 250), "web": (5000, 750)})
    during = _counts({"ios": (5000, 500), "web": (5000, 1500)})
    assert rank_segments(during).height == 1  # within the window alone, web looks guilty
    assert rank_segments(during, before).is_empty()  # against its own history, it is not


def test_a_new_failure_in_one_segment_needs_no_baseline() -> None:
    before = _counts({"ios": (5000, 0), "web": (5000, 1)})  # too few outcomes to be a baseline
    during = _counts({"ios": (5000, 300), "web": (5000, 3)})
    top = rank_segments(during, before)
    assert top["value"].to_list() == ["ios"] and top["baseline_ratio"].is_null().all()


def test_a_traffic_fall_confined_to_one_client_is_named_and_an_outage_is_not() -> None:
    before = _counts({"ios": (4500, 0), "android": (4000, 0), "web": (1500, 0)})
    one = _counts({"ios": (20, 0), "android": (4000, 0), "web": (1500, 0)})
    assert rank_drops(one, before, during_s=3600, before_s=3600)["value"].to_list() == ["ios"]
    everyone = _counts({"ios": (450, 0), "android": (400, 0), "web": (150, 0)})
    assert rank_drops(everyone, before, during_s=3600, before_s=3600).is_empty()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5000), st.floats(0, 1)), min_size=2, max_size=6), st.randoms())
def test_ranking_invariants(groups: list[tuple[int, float]], rnd: object) -> None:
    rows = {f"s{i}": (n, round(n * share)) for i, (n, share) in enumerate(groups)}
    counts = _counts(rows)
    ranked = rank_segments(counts, top=None)
    if ranked.height:
        assert ranked["support"].is_between(0.2, 1.0 + 1e-9).all()
        assert (ranked["effect_low"] <= ranked["effect"] + 1e-9).all()
        assert (ranked["effect"] <= ranked["effect_high"] + 1e-9).all()
        assert float(ranked["explained"].sum()) <= 1.0 + 1e-9  # shares of one set of outcomes
    shuffled = counts.sample(fraction=1.0, shuffle=True, seed=1)
    assert rank_segments(shuffled, top=None)["value"].to_list() == ranked["value"].to_list()


def test_numeric_bins_are_segments() -> None:
    frame = pl.DataFrame({"size": [float(i) for i in range(100)], "slow": [i >= 90 for i in range(100)]})
    counts = segment_counts(frame, pl.col("slow"), [Binned("size", (25.0, 50.0, 75.0))])
    assert counts.filter(pl.col("outcomes") > 0)["value"].to_list() == ["size ≥ 75"]


# --------------------------------------------------------------------------- per-version signals


def _versions_frame(rng: np.random.Generator, n: int = 60_000, *, tail: bool = False, canary_error: float = 0.001,
                    unseen: float = 0.0) -> pl.DataFrame:
    t = [T0 + timedelta(milliseconds=500 * i) for i in range(n)]
    canary = rng.random(n) < 0.1
    lat = rng.lognormal(np.log(20.0), 0.3, n)
    if tail:  # the canary's tail only: p50 barely moves, p95 +40 % or more
        lat = np.where(canary & (rng.random(n) < 0.12), lat * 2.3, lat)
    late = np.arange(n) >= 3 * 7200  # the canary's own trouble starts after 3 hours (2 requests a second)
    err = rng.random(n) < np.where(canary & late, canary_error, 0.001)
    classes = np.array(["a", "b", "c", "d"])[rng.integers(0, 4, n)]
    classes = np.where(canary & (rng.random(n) < unseen), "zebra", classes)
    return pl.DataFrame({"timestamp": t, "model_version": np.where(canary, "v2", "v1"), "latency_ms": lat,
                         "status": np.where(err, "error", "ok"), "prediction": classes}).with_columns(
        pl.col("status").cast(pl.Enum(["ok", "error"])))


def test_tail_latency_per_version_is_tested() -> None:
    rng = np.random.default_rng(7)
    slow = version_latency_tail(_versions_frame(rng, tail=True)).filter(pl.col("model_version") == "v2")
    p95 = slow.filter(pl.col("quantile") == "p95")["ratio"].median()
    p50 = slow.filter(pl.col("quantile") == "p50")["ratio"].median()
    assert isinstance(p95, float) and isinstance(p50, float)
    assert p95 > 1.25 and p50 < 1.15
    same = version_latency_tail(_versions_frame(rng)).filter(pl.col("quantile") != "p50")
    assert (same["ratio"] == 1.0).mean() > 0.95  # same distribution: the test keeps the ratio at 1


def test_error_ratio_per_version_reports_only_a_clear_excess() -> None:
    rng = np.random.default_rng(3)
    bad = version_error_ratio(_versions_frame(rng, canary_error=0.05)).filter(pl.col("model_version") == "v2")
    assert float(bad["value"].drop_nans().max()) > 10  # type: ignore[arg-type]
    fine = version_error_ratio(_versions_frame(rng)).drop_nans()
    assert (fine["value"] == 1.0).all()


def test_a_version_against_others_without_errors_gets_a_finite_lower_bound() -> None:
    """The others had 0 errors in the window: the ratio counts them as one error among their requests
    (a lower bound), never the version's rate over a floor of 1e-4 (which made "3442x")."""
    t = [T0 + timedelta(seconds=i) for i in range(3600)]
    canary = np.arange(3600) % 4 == 0  # a quarter of the traffic
    late = np.arange(3600) >= 1800
    err = canary & late & (np.arange(3600) % 20 == 0)  # the canary fails 1 in 5 after 30 min; stable never
    frame = pl.DataFrame({"timestamp": t, "model_version": np.where(canary, "v2", "v1"),
                          "status": np.where(err, "error", "ok")})
    out = version_error_ratio(frame).filter(pl.col("model_version") == "v2").drop_nans()
    worst = float(out["value"].max())  # type: ignore[arg-type]
    # 15 minutes: 225 canary requests with 45 errors, 675 stable with none -> (45/225) / (1/675) = 135
    assert worst == pytest.approx(135.0)
    assert (out["value"] >= 3).any()  # still clear: the alert fires as before


def test_classes_never_in_training_are_counted_per_version() -> None:
    rng = np.random.default_rng(5)
    frame = _versions_frame(rng, unseen=0.18)
    reference = pl.DataFrame({"prediction": ["a", "b", "c", "d"] * 500})
    out = version_classes(frame, reference)
    unseen = out["unseen_class_share"]
    v2 = float(unseen.filter(pl.col("model_version") == "v2")["value"].drop_nans().median())  # type: ignore[arg-type]
    v1 = float(unseen.filter(pl.col("model_version") == "v1")["value"].drop_nans().max())  # type: ignore[arg-type]
    assert 0.12 < v2 < 0.25 and v1 == 0.0
    assert float(out["missing_class_share"]["value"].drop_nans().max()) == 0.0  # type: ignore[arg-type]


# --------------------------------------------------------------------------- explained alerts


def test_an_episode_names_the_error_and_the_version() -> None:
    rng = np.random.default_rng(11)
    frame = _versions_frame(rng, canary_error=0.06).with_columns(
        pl.when(pl.col("status") == "error").then(pl.lit("CUDA out of memory")).otherwise(None).alias("error"),
        pl.lit("eu").alias("region"))
    rule = parse_rules([{"name": "errors", "signal": "error_rate", "comparison": ">", "threshold": 0.01}])[0]
    start = T0 + timedelta(hours=3, minutes=15)  # its window starts with the canary's trouble
    ex = explain_episode(rule, {}, start, start + timedelta(hours=1), frame)
    assert ex.subject["error"] == "CUDA out of memory"
    assert ex.subject["model_version"] == "v2" and ex.hints[0]["dimension"] == "model_version"
    assert "v2" in ex.hints[0]["text"] and "% of the failures" in ex.hints[0]["text"]
    spread = _versions_frame(rng, canary_error=0.001)
    ex2 = explain_episode(rule, {}, start, start + timedelta(hours=1), spread)
    assert ex2.hints == [] and ex2.explained == NONE_EXPLAINS


def test_a_refire_is_compared_with_the_traffic_before_its_incident() -> None:
    """v8 is slow ten minutes in twenty from 03:00: the episode at 05:20 re-fires the incident.
    Against the three hours just before it (half of them already slow) nothing splits; against
    the hours before the incident began, v8 is named — as the incident's first episode was."""
    rng = np.random.default_rng(1)
    n = 6 * 3600  # one request a second
    sec = np.arange(n)
    v8 = rng.random(n) < 0.25
    slow = v8 & (sec >= 3 * 3600) & (sec % 1200 < 600)
    frame = pl.DataFrame({
        "timestamp": [T0 + timedelta(seconds=int(i)) for i in sec], "model_version": np.where(v8, "v8", "v7"),
        "latency_ms": np.where(slow, rng.lognormal(np.log(120), 0.2, n), rng.lognormal(np.log(25), 0.3, n)),
        "status": ["ok"] * n, "region": np.array(["de", "fr"])[rng.integers(0, 2, n)],
    }).with_columns(pl.col("status").cast(pl.Enum(["ok", "error"])))
    rule = parse_rules([{"name": "p99", "signal": "slow_request_share", "comparison": ">", "threshold": 0.01,
                         "window": "5m"}])[0]
    at = T0 + timedelta(hours=5, minutes=20, seconds=30)
    alone = explain_episode(rule, {}, at, at + timedelta(minutes=8), frame, slo_ms=80.0)
    assert alone.explained == NONE_EXPLAINS  # what the page said before incidents were chained
    ex = explain_episode(rule, {}, at, at + timedelta(minutes=8), frame, slo_ms=80.0, since=T0 + timedelta(hours=3))
    assert ex.subject == {"model_version": "v8"} and ex.hints[0]["value"] == "v8"


@pytest.mark.parametrize(("signal", "named"), [("error_excess", True), ("version_error_ratio", False)])
def test_a_version_series_is_explained_against_its_own_past_unless_it_compares_versions(signal: str,
                                                                                       named: bool) -> None:
    """Client acme fails from 03:00 on both versions. The version's error excess (vs its usual rate) is
    acme's doing, as the fleet-wide alert says; a version-vs-versions ratio is not explained by
    a client that fails on the others too."""
    rng = np.random.default_rng(6)
    n = 4 * 3600
    sec = np.arange(n)
    acme = rng.random(n) < 0.2
    fail = (acme & (sec >= 3 * 3600) & (rng.random(n) < 0.3)) | (rng.random(n) < 0.001)
    frame = pl.DataFrame({
        "timestamp": [T0 + timedelta(seconds=int(i)) for i in sec],
        "model_version": np.where(rng.random(n) < 0.5, "v1", "v2"), "latency_ms": rng.lognormal(3, 0.2, n),
        "status": np.where(fail, "error", "ok"), "client": np.where(acme, "acme", np.where(sec % 2, "web", "ios")),
    }).with_columns(pl.col("status").cast(pl.Enum(["ok", "error"])))
    rule = parse_rules([{"name": "r", "signal": signal, "comparison": ">=", "threshold": 3}])[0]
    at = T0 + timedelta(hours=3, minutes=5)
    ex = explain_episode(rule, {"model_version": "v1"}, at, at + timedelta(minutes=30), frame)
    assert (ex.subject.get("client") == "acme") is named
    if not named:
        assert ex.explained == NONE_EXPLAINS


def test_episodes_of_one_series_chain_into_one_incident() -> None:
    from obskit.alerts.explain import BASELINE, incident_starts

    t = [T0 + timedelta(minutes=m) for m in (0, 12, 20, 600, 5)]
    eps = pl.DataFrame({
        "rule": ["p99", "p99", "p99", "p99", "errors"],
        "labels": ['{"model_version": "v8"}'] * 3 + ['{"model_version": "v8"}', "{}"],
        "pending_at": t, "firing_at": [x + timedelta(minutes=2) for x in t],
        "resolved_at": [x + timedelta(minutes=6) for x in t[:3]] + [None, None]})
    starts = incident_starts(eps)
    assert starts[:3] == [t[0]] * 3  # re-fires within the baseline: one incident
    assert starts[3] == t[3] and t[3] - t[2] > BASELINE  # hours later: a new one
    assert starts[4] == t[4]  # another rule: its own


@pytest.fixture(scope="module")
def library_scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from benchmarks.detection import run

    days = ["client-payload", "canary-errors", "oom-errors", "version-collapse", "new-classes", "canary-tail",
            "feature-nulls", "outage"]
    scores = run(days, 80_000, tmp_path_factory.mktemp("days"))
    return {s.name: s for s in scores}


@pytest.mark.parametrize("day", ["client-payload", "canary-errors", "oom-errors", "version-collapse",
                                 "new-classes", "canary-tail", "feature-nulls", "outage"])
def test_library_incidents_are_caught_named_and_localised(library_scores: dict[str, object], day: str) -> None:
    score = library_scores[day]
    assert score.detected, day  # type: ignore[attr-defined]
    assert score.false_alerts == [], score.false_alerts  # type: ignore[attr-defined]
    assert score.subject_named in (True, None)  # type: ignore[attr-defined]
    assert score.hint_right is True, score.hint  # type: ignore[attr-defined]


def test_subject_and_hints_reach_alerts_json_the_webhook_and_slack(tmp_path: Path) -> None:
    from obskit.alerts import evaluate
    from obskit.alerts.explain import explain_run

    rng = np.random.default_rng(2)
    frame = _versions_frame(rng, canary_error=0.08).with_columns(
        pl.when(pl.col("status") == "error").then(pl.lit("CUDA out of memory")).otherwise(None).alias("error"))
    ws = (frame.group_by(pl.col("timestamp").dt.truncate("1m").alias("window_start"))
          .agg(pl.len().alias("requests"), (pl.col("status") == "error").sum().alias("errors")).sort("window_start"))
    rules = parse_rules([{"name": "errors", "signal": "error_rate", "comparison": ">", "threshold": 0.005,
                          "window": "30m", "for": "5m", "summary": "error rate {value:.1%}"}])
    run = explain_run(evaluate(rules, {"window_stats": ws}), frame)
    records = alert_records(run)
    assert records and records[0]["subject"]["error"] == "CUDA out of memory"
    assert records[0]["hints"][0]["value"] == "v2"
    assert "CUDA out of memory" in records[0]["summary"]  # the summary names the subject
    body = WebhookNotifier("http://127.0.0.1:9/hook").payload(records)
    assert body["alerts"][0]["subject"]["model_version"] == "v2"
    assert "where: model_version=v2" in slack_text(records)
    assert subject_text(records[0]["subject"]).startswith("error=CUDA out of memory")
    assert json.loads(json.dumps(records))  # JSON-ready


def test_the_explorer_explains_a_brushed_window() -> None:
    from obskit.explorer.data import ExplorerData
    from obskit.explorer.explain import explain_range
    from obskit.explorer.tabs import TabOptions, build

    rng = np.random.default_rng(4)
    frame = _versions_frame(rng, canary_error=0.06)
    data = ExplorerData(frame)
    data.set_range(T0 + timedelta(hours=3), T0 + timedelta(hours=5))
    assert explain_range(data, "failures")["where"][0].startswith("model_version=v2")
    assert explain_range(data, "slow requests")["where"].to_list() == [NONE_EXPLAINS]
    tab = build("errors", data, TabOptions())
    assert "What explains the failures" in tab.tables["explain"] and "model_version=v2" in tab.tables["explain"]


def test_a_deploy_that_took_over_is_named_when_nothing_splits() -> None:
    rng = np.random.default_rng(9)
    n = 30_000  # 2 requests a second: a deploy at 2 h, and every answer of the new version is 'hat'
    t = [T0 + timedelta(milliseconds=500 * i) for i in range(n)]
    new = np.arange(n) >= 2 * 7200
    frame = pl.DataFrame({
        "timestamp": t, "model_version": np.where(new, "v1.4.1", "v1.4.0"), "latency_ms": rng.lognormal(3, 0.2, n),
        "status": ["ok"] * n, "client": np.array(["ios", "web"])[rng.integers(0, 2, n)],
        "prediction": np.where(new & (rng.random(n) < 0.5), "hat", np.array(["a", "b", "hat"])[rng.integers(0, 3, n)]),
    }).with_columns(pl.col("status").cast(pl.Enum(["ok", "error"])))
    rule = parse_rules([{"name": "takeover", "signal": "class_takeover", "comparison": ">", "threshold": 2}])[0]
    start = T0 + timedelta(hours=2, minutes=15)
    ex = explain_episode(rule, {"class": "hat"}, start, start + timedelta(hours=1), frame)
    assert ex.subject == {"class": "hat", "model_version": "v1.4.1"}
    assert ex.hints[0]["text"].startswith("model_version=v1.4.1: serves 100% of the requests since 02:00 UTC")


def test_an_error_subject_carries_no_credentials() -> None:
    rng = np.random.default_rng(12)
    frame = _versions_frame(rng, canary_error=0.2).with_columns(
        pl.when(pl.col("status") == "error").then(pl.lit("upstream https://bob:S3cret@db.internal:5432/x refused"))
        .otherwise(None).alias("error"))
    rule = parse_rules([{"name": "errors", "signal": "error_rate", "comparison": ">", "threshold": 0.01}])[0]
    start = T0 + timedelta(hours=3, minutes=15)
    ex = explain_episode(rule, {}, start, start + timedelta(hours=1), frame)
    assert ex.subject["error"] == "upstream https://db.internal:5432/x refused"
