"""Parity with Prometheus: exported rules pass `promtool check rules`, and the timelines
obskit computes are exactly what `promtool test rules` (Prometheus' own rule engine)
produces: the ALERTS series (pending/firing per label set), ALERTS_FOR_STATE (ActiveAt)
and the firing alerts with their rendered summary, at every evaluation time."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from obskit.alerts import (
    AlertRun,
    Signal,
    default_rules,
    evaluate,
    parse_rules,
    prometheus_export,
    to_prometheus_rules,
    with_signals,
)
from obskit.promql_map import PromqlMapping, SignalQuery
from tests.conftest import require_binary

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # promtool's tests start at time 0

# A signal that Prometheus computes as `max by (<by>) (sig)`: the input series, as is.
REG = with_signals(Signal("sig", "sig", "value", "test signal", agg="last"))
MAPPING = PromqlMapping({"sig": SignalQuery("max by ({by}) (sig)", {"scenario": "scenario", "version": "version"})},
                        ("test",))

# rule -> its options and the values of each series per minute (None: no sample, the series is absent).
SCENARIOS: dict[str, dict[str, Any]] = {
    "for-2m": {
        "rule": {"for": "2m"},
        "series": {"a": [1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1],
                   "b": [0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]},
        "expected": {"a": "PPFF.PP..PPFF", "b": "..PPFFFF....."},
    },
    "for-0": {
        "rule": {},
        "series": {"a": [1, 0, 1, 0, 1, 1, 0, None, 1, 1, 0, 0, 1]},
        "expected": {"a": "F.F.FF..FF..F"},
    },
    "for-90s": {
        "rule": {"for": "90s"},
        "series": {"a": [1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0]},
        "expected": {"a": "PPF.PPFF....."},
    },
    "keep-firing": {
        "rule": {"for": "1m", "keep_firing_for": "2m"},
        "series": {"a": [1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0],
                   "b": [1, 1, None, None, None, None, 0, 1, 0, 1, 0, 0, 0]},
        "expected": {"a": "PFFFFFFF..PFF", "b": "PFFF...P.P..."},
    },
    "flapping": {
        "rule": {"for": "3m"},
        "series": {"a": [1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0],
                   "b": [1, 1, 1, None, 1, 1, 1, 1, 0.2, 0.9, 0.9, 0.9, 0.9]},
        "expected": {"a": "PP.PPP.PPPFF.", "b": "PPP.PPPF.PPPF"},
    },
    "less-than": {
        "rule": {"comparison": "<", "threshold": 0.3, "for": "1m", "keep_firing_for": "1m"},
        "series": {"a": [0.5, 0.2, 0.1, 0.4, 0.4, 0.1, 0.5, 0.2, 0.25, 0.3, 0.3, 0.3, 0.3]},
        "expected": {"a": ".PFF.P.PFF..."},
    },
}
STEPS = 13


def _rules() -> list[Any]:
    raw = []
    for name, sc in SCENARIOS.items():
        raw.append({"name": name, "signal": "sig", "comparison": ">", "threshold": 0.5, "window": "1m",
                    "interval": "1m", "by": ["scenario", "version"], "labels": {"team": "ml"}, "severity": "page",
                    "summary": "{version} at {value} over {threshold} ({scenario})", **sc["rule"]})
    return parse_rules(raw, registry=REG)


def _run() -> AlertRun:
    rows = []
    for name, sc in SCENARIOS.items():
        for version, values in sc["series"].items():
            for i, v in enumerate(values):
                if v is not None:
                    rows.append({"window_start": EPOCH + timedelta(minutes=i), "scenario": name,
                                 "version": version, "value": float(v)})
    frame = pl.DataFrame(rows).with_columns(pl.col("window_start").cast(pl.Datetime("us", "UTC")))
    # Every rule sees every scenario's series (as in Prometheus, where they share the metric).
    return evaluate(_rules(), {"sig": frame}, start=EPOCH, end=EPOCH + timedelta(minutes=STEPS - 1), registry=REG)


def _letters(run: AlertRun) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    letters = {"inactive": ".", "pending": "P", "firing": "F"}
    for (rule, labels), part in run.timeline.sort("t").group_by(["rule", "labels"], maintain_order=True):
        lab = json.loads(str(labels))
        if lab["scenario"] == rule:  # the hand-derived expectations are for the rule's own scenario
            out[(str(rule), lab["version"])] = "".join(letters[s] for s in part["state"].to_list())
    return out


def test_obskit_timelines_match_hand_derived_expectations() -> None:
    got = _letters(_run())
    want = {(name, v): s for name, sc in SCENARIOS.items() for v, s in sc["expected"].items()}
    assert got == want


def _prom_value(v: float | None, seen: bool) -> str:
    if v is None:
        return "stale" if seen else "_"
    return repr(float(v))


def _go_float(v: float) -> str:
    """Go's %v of a float64 for the values used here (1 -> "1", 0.9 -> "0.9")."""
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def _labels_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _promtool_test(run: AlertRun, rules_file: str) -> str:
    """A `promtool test rules` file whose expectations are obskit's timeline."""
    input_series = []
    for name, sc in SCENARIOS.items():
        for version, values in sc["series"].items():
            seen = False
            parts = []
            for v in values:
                parts.append(_prom_value(v, seen))
                seen = seen or v is not None
            series = f'sig{{scenario="{name}", version="{version}"}}'
            input_series.append({"series": series, "values": " ".join(parts)})
    rules = {r.name: r for r in run.rules}
    episodes = run.episodes.iter_rows(named=True)
    eps: dict[tuple[str, str], list[tuple[datetime, datetime | None]]] = {}
    for ep in episodes:
        eps.setdefault((ep["rule"], ep["labels"]), []).append((ep["pending_at"], ep["resolved_at"]))
    # Prometheus keeps the value (and annotations) of the last evaluation where the condition held.
    last_true: dict[tuple[str, str], float] = {}
    at_step: dict[int, list[tuple[dict[str, Any], float]]] = {}
    for row in run.timeline.sort("t").iter_rows(named=True):
        key = (row["rule"], row["labels"])
        if row["value"] is not None and rules[row["rule"]].holds(row["value"]):
            last_true[key] = row["value"]
        if row["state"] != "inactive":
            at_step.setdefault(int((row["t"] - EPOCH).total_seconds()) // 60, []).append((row, last_true[key]))
    promql_tests = []
    alert_tests = []
    for step in range(STEPS):
        t = EPOCH + timedelta(minutes=step)
        alerts_samples, for_state_samples = [], []
        firing: dict[str, list[dict[str, Any]]] = {name: [] for name in SCENARIOS}
        for row, value in at_step.get(step, []):
            rule = rules[row["rule"]]
            labels = {**json.loads(row["labels"]), "alertname": rule.name, "severity": rule.severity}
            alerts_samples.append({"labels": "ALERTS" + _labels_text({**labels, "alertstate": str(row["state"])}),
                                   "value": 1})
            [active_at] = [p for p, r in eps[(row["rule"], row["labels"])] if p <= t and (r is None or r > t)]
            for_state_samples.append({"labels": "ALERTS_FOR_STATE" + _labels_text(labels),
                                      "value": int((active_at - EPOCH).total_seconds())})
            if row["state"] == "firing":
                exp_labels = {k: v for k, v in labels.items() if k != "alertname"}
                summary = f"{labels['version']} at {_go_float(value)} over {rule.threshold} ({labels['scenario']})"
                firing[rule.name].append({"exp_labels": exp_labels, "exp_annotations": {"summary": summary}})
        promql_tests.append({"expr": "ALERTS", "eval_time": f"{step}m", "exp_samples": alerts_samples})
        promql_tests.append({"expr": "ALERTS_FOR_STATE", "eval_time": f"{step}m", "exp_samples": for_state_samples})
        for name in SCENARIOS:
            alert_tests.append({"eval_time": f"{step}m", "alertname": name, "exp_alerts": firing[name]})
    body = {
        "rule_files": [rules_file],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": input_series, "promql_expr_test": promql_tests,
                   "alert_rule_test": alert_tests}],
    }
    return json.dumps(body, indent=1)  # JSON is YAML


def _promtool(tmp_path: Path, test_text: str) -> subprocess.CompletedProcess[str]:
    promtool = require_binary("promtool")
    (tmp_path / "rules.yml").write_text(to_prometheus_rules(_rules(), interval="1m", registry=REG, mapping=MAPPING))
    (tmp_path / "test.yml").write_text(test_text)
    return subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


def test_promtool_agrees_with_obskit_at_every_evaluation(tmp_path: Path) -> None:
    run = _run()
    proc = _promtool(tmp_path, _promtool_test(run, "rules.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_catches_a_wrong_expectation(tmp_path: Path) -> None:
    """The harness really checks: shift one firing transition and promtool must fail."""
    run = _run()
    tl = run.timeline.with_columns(
        pl.when((pl.col("rule") == "for-2m") & (pl.col("t") == EPOCH + timedelta(minutes=2))
                & (pl.col("labels") == '{"scenario": "for-2m", "team": "ml", "version": "a"}'))
        .then(pl.lit("pending").cast(run.timeline.schema["state"]))
        .otherwise(pl.col("state")).alias("state")
    )
    bad = AlertRun(run.episodes, tl, run.current, rules=run.rules)
    proc = _promtool(tmp_path, _promtool_test(bad, "rules.yml"))
    assert proc.returncode != 0
    assert "FAILED" in proc.stdout + proc.stderr


def test_promtool_check_rules_accepts_the_export(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    rules = [*default_rules(), *parse_rules([
        {"name": "errors-by-version", "signal": "error_rate", "comparison": ">=", "threshold": 0.05,
         "window": "5m", "for": "2m", "keep_firing_for": "10m", "by": ["model_version", "model"],
         "labels": {"team": "serving \"core\"", "runbook": "https://x/{{ y }}"},
         "summary": "errors {value:.1%} on {model}/{model_version} > {threshold:.0%} 'quoted' \"dq\" {{ literal }}"},
        {"name": "p95-by-version", "signal": "latency_p95_ms", "comparison": ">", "threshold": 250,
         "by": ["model_version"], "summary": "p95 {value:.0f} ms on {model_version}"},
        {"name": "gpu-util", "signal": "gpu_utilization_pct", "comparison": "<", "threshold": 5, "window": "10m",
         "by": ["uuid"], "summary": "GPU {uuid} idle: {value:.1f}%"},
        {"name": "gpu-by-index", "signal": "gpu_memory_used_share", "comparison": ">", "threshold": 0.9,
         "by": ["gpu"]},
        {"name": "requests", "signal": "request_rate", "comparison": "<", "threshold": 0.1},
    ])]
    export = prometheus_export(rules, group="obskit-test", interval="30s", mapping=PromqlMapping.preset("triton"))
    path = tmp_path / "rules.yml"
    path.write_text(export.yaml)
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr + export.yaml
    skipped = {s["rule"]: s["reason"] for s in export.skipped}
    # obskit-only signals (baselines with significance tests, model output, GPU clocks) are listed, not dropped
    assert set(skipped) == {"feature-drift", "feature-nulls", "high-correction-rate", "low-confident-rate",
                            "gpu-by-index", "p99-latency-slo", "slow-canary", "class-takeover", "confidence-shift",
                            "error-excess", "version-errors", "slow-canary-tail", "version-prediction-mix",
                            "unseen-classes", "gpu-hot", "gpu-memory-growth", "gpu-power-capped", "gpu-throttled",
                            "labels-late",
                            "latency-regression", "prediction-mix-shift", "traffic-drop", "tail-latency-regression"}
    assert "no PromQL equivalent" in skipped["feature-drift"]
    assert "label 'gpu' has no Prometheus equivalent" in skipped["gpu-by-index"]
    assert "#   feature-drift: signal 'feature_shift' has no PromQL equivalent" in export.yaml
    assert len(export.exported) == len(rules) - len(skipped)
    assert "absent(obskit:gpu_utilization_pct" in export.yaml  # absent = true exports as absent()
    n_alerts = export.yaml.count("- alert:")
    assert n_alerts == len(export.exported)
    assert f"SUCCESS: {n_alerts + export.yaml.count('- record:')} rules found" in proc.stdout
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(export.yaml)
    by_name = {r.get("alert"): r for r in doc["groups"][0]["rules"] if "alert" in r}
    errs = by_name["errors-by-version"]
    assert errs["keep_firing_for"] == "10m" and errs["for"] == "2m"
    assert errs["labels"] == {"severity": "ticket", "team": 'serving "core"',
                              "runbook": 'https://x/{{ "{{" }} y }}'}  # Prometheus expands it to the original
    assert errs["annotations"]["summary"] == (
        "errors {{ $value | humanizePercentage }} on {{ $labels.model }}/{{ $labels.version }} > 5% "
        "'quoted' \"dq\" { literal }"
    )
    records = {r["record"]: r["expr"] for r in doc["groups"][0]["rules"] if "record" in r}
    assert records["obskit:latency_p95_ms:by_version:5m"] == (
        "1000 * histogram_quantile(0.95, sum by (le, version) "
        "(rate(inference_request_duration_seconds_bucket[5m])))"
    )
    assert records["obskit:burn_rate:slo99:5m"].endswith(" / 0.01")


def test_export_of_nothing_is_valid(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    path = tmp_path / "empty.yml"
    path.write_text(to_prometheus_rules([]))
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("per_minute", "fires"), [(10, False), (100, True)])
def test_min_samples_holds_in_prometheus_as_in_the_backtest(tmp_path: Path, per_minute: int, fires: bool) -> None:
    """The default high-error-rate rule (500 requests in 10m) on 10% errors: a quiet service
    (10 requests a minute) never pages, in obskit's backtest or in Prometheus; a busy one does."""
    from obskit.alerts import default_rules

    promtool = require_binary("promtool")
    rules = [r for r in default_rules() if r.name == "high-error-rate"]
    minutes = 30
    ws = pl.DataFrame({"window_start": [EPOCH + timedelta(minutes=m) for m in range(minutes)],
                       "requests": [per_minute] * minutes, "errors": [per_minute // 10] * minutes}).with_columns(
        pl.col("window_start").dt.cast_time_unit("us"), (pl.col("errors") / pl.col("requests")).alias("error_rate"),
        (pl.col("requests") / 60).alias("rps"))
    assert (evaluate(rules, {"window_stats": ws}).episodes.height > 0) is fires
    text = to_prometheus_rules(rules, mapping=PromqlMapping.preset("triton"))
    assert "and on() obskit:request_rate:10m * 600 >= 500" in text
    (tmp_path / "rules.yml").write_text(text)
    ok = " ".join(str((per_minute - per_minute // 10) * m) for m in range(minutes + 1))
    bad = " ".join(str(per_minute // 10 * m) for m in range(minutes + 1))
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": 'nv_inference_request_success{model="m",version="1"}', "values": ok},
                         {"series": 'nv_inference_request_failure{model="m",version="1"}', "values": bad}],
        "promql_expr_test": [{"expr": 'count(ALERTS{alertname="high-error-rate", alertstate="firing"})',
                              "eval_time": "25m", "exp_samples": [{"labels": "{}", "value": 1}] if fires else []}]}]}
    (tmp_path / "test.yml").write_text(json.dumps(test))
    proc = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_rules_own_interval_is_its_groups(tmp_path: Path) -> None:
    """Prometheus evaluates a group at one interval: a rule with its own is exported in a group
    of that interval (the file's interval keeps the recording rules and the other alerts)."""
    import yaml

    promtool = require_binary("promtool")
    rules = parse_rules([
        {"name": "fast", "signal": "error_rate", "comparison": ">", "threshold": 0.05, "window": "5m"},
        {"name": "slow", "signal": "error_rate", "comparison": ">", "threshold": 0.05, "window": "5m",
         "interval": "5m"}])
    text = to_prometheus_rules(rules, mapping=PromqlMapping.preset("triton"))
    groups = {g["name"]: g for g in yaml.safe_load(text)["groups"]}
    assert groups["obskit"]["interval"] == "1m" and groups["obskit-every-5m"]["interval"] == "5m"
    assert [r.get("alert") for r in groups["obskit"]["rules"] if "alert" in r] == ["fast"]
    assert [r["alert"] for r in groups["obskit-every-5m"]["rules"]] == ["slow"]
    (tmp_path / "rules.yml").write_text(text)
    proc = subprocess.run([promtool, "check", "rules", str(tmp_path / "rules.yml")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_absent_by_a_label_fires_for_the_silent_series_in_prometheus_as_in_the_backtest(tmp_path: Path) -> None:
    """Two GPUs; GPU-B stops reporting at minute 10. `absent = true, by = ["uuid"]` fires for
    GPU-B at 00:15 in obskit and in Prometheus (a bare absent() would never fire: GPU-A remains)."""
    promtool = require_binary("promtool")
    rows = [{"timestamp": EPOCH + timedelta(seconds=s), "uuid": u, "utilization_pct": 50.0}
            for s in range(0, 30 * 60, 15) for u in ("GPU-A", "GPU-B") if u == "GPU-A" or s < 600]
    gpu = pl.DataFrame(rows).with_columns(pl.col("timestamp").dt.cast_time_unit("us"))
    rules = parse_rules([{"name": "gpu-absent", "signal": "gpu_utilization_pct", "comparison": ">", "threshold": 0,
                          "absent": True, "window": "5m", "interval": "1m", "by": ["uuid"]}])
    run = evaluate(rules, {"gpu": gpu}, end=EPOCH + timedelta(minutes=29))
    assert run.episodes.select("labels", "firing_at").rows() == [('{"uuid": "GPU-B"}', EPOCH + timedelta(minutes=15))]
    (tmp_path / "rules.yml").write_text(to_prometheus_rules(rules, mapping=PromqlMapping.preset("triton")))
    values = {u: " ".join("50" if u == "GPU-A" or s < 600 else "_" for s in range(0, 30 * 60, 15))
              for u in ("GPU-A", "GPU-B")}
    b = [{"labels": '{__name__="ALERTS", alertname="gpu-absent", alertstate="firing", gpu_uuid="GPU-B", '
                    'severity="ticket"}', "value": 1}]
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "15s",
        "input_series": [{"series": f'nv_gpu_utilization{{gpu_uuid="{u}"}}', "values": v} for u, v in values.items()],
        "promql_expr_test": [{"expr": "ALERTS", "eval_time": f"{m}m", "exp_samples": b if m >= 15 else []}
                             for m in (5, 14, 15, 29)]}]}
    (tmp_path / "test.yml").write_text(json.dumps(test))
    proc = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
