"""Alert rules as data: parsing, validation errors that name the rule, safe templates."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from obskit.alerts import (
    DEFAULT_RULES_TOML,
    SIGNALS,
    Signal,
    check_template,
    default_rules,
    format_duration,
    parse_rules,
    render,
    with_signals,
)
from obskit.errors import AlertRuleError, ObskitError


def _rule(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "errors", "signal": "error_rate", "comparison": ">", "threshold": 0.01}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def test_full_rule_from_toml() -> None:
    text = """
[[alerts]]
name = "errors-by-version"
signal = "error_rate"
comparison = ">="
threshold = 0.05
window = "5m"
for = "2m"
keep_firing_for = "10m"
interval = "30s"
severity = "page"
by = ["model_version"]
labels = { team = "serving" }
summary = "error rate {value:.2%} on {model_version} for {duration} ({team})"
"""
    [r] = parse_rules(tomllib.loads(text)["alerts"], path="obskit.toml")
    assert r.name == "errors-by-version"
    assert r.comparison == ">=" and r.threshold == 0.05
    assert r.window == timedelta(minutes=5) and r.for_ == timedelta(minutes=2)
    assert r.keep_firing_for == timedelta(minutes=10) and r.interval == timedelta(seconds=30)
    assert r.severity == "page" and r.by == ("model_version",) and r.labels == {"team": "serving"}
    assert r.holds(0.05) and not r.holds(0.04) and not r.holds(float("nan"))


def test_defaults_and_optional_fields() -> None:
    [r] = parse_rules([_rule()])
    assert r.window is None and r.for_ == timedelta(0) and r.keep_firing_for == timedelta(0)
    assert r.severity == "ticket" and r.by == () and r.labels == {}
    assert parse_rules(None) == []
    assert parse_rules([_rule(**{"for": 0})])[0].for_ == timedelta(0)
    assert parse_rules([_rule(**{"for": "0s"})])[0].for_ == timedelta(0)


def test_default_rules_toml_parses() -> None:
    rules = parse_rules(tomllib.loads(DEFAULT_RULES_TOML)["alerts"])
    assert [r.name for r in rules] == [r.name for r in default_rules()]
    assert {r.signal for r in rules} >= {"error_rate", "slow_request_share", "version_latency_ratio", "feature_shift",
                                         "correction_rate",
                                         "gpu_memory_used_share", "confident_rate", "burn_rate"}


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-signal", _rule(signal="eror_rate"), "unknown signal 'eror_rate' (known: burn_rate, class_mix_shift"),
    ("bad-window", _rule(window="5x"), "window: invalid duration '5x'"),
    ("bad-for", _rule(**{"for": "soon"}), "for: invalid duration 'soon'"),
    ("numeric-for", _rule(**{"for": 5}), "for: expected a duration"),
    ("bad-keep", _rule(keep_firing_for="-1m"), "keep_firing_for: invalid duration"),
    ("bad-interval", _rule(interval="0s"), "interval: invalid duration"),
    ("bad-comparator", _rule(comparison="=>"), "bad comparison '=>'"),
    ("comparator-word", _rule(comparison="gt"), "bad comparison 'gt'"),
    ("missing-threshold", _rule(threshold=None), "missing field 'threshold'"),
    ("missing-signal", _rule(signal=None), "missing field 'signal'"),
    ("missing-comparison", _rule(comparison=None), "missing field 'comparison'"),
    ("text-threshold", _rule(threshold="1%"), "threshold: expected a finite number"),
    ("bool-threshold", _rule(threshold=True), "threshold: expected a finite number"),
    ("bad-severity", _rule(severity="critical"), "severity: expected one of page, ticket, info"),
    ("unknown-key", _rule(treshold=1), "unknown field 'treshold'"),
    ("bad-by", _rule(by=["model-version"]), "by: 'model-version' is not a usable label name"),
    ("reserved-by", _rule(by=["alertname"]), "by: 'alertname' is not a usable label name"),
    ("bad-label", _rule(labels={"__x": "y"}), "labels: '__x' is not a usable label name"),
    ("label-clash", _rule(by=["model_version"], labels={"model_version": "y"}), "also a series label"),
    ("burn-no-objective", _rule(signal="burn_rate"), "missing field 'objective'"),
    ("objective-elsewhere", _rule(objective=0.99), "only burn-rate signals use it"),
    ("bad-objective", _rule(signal="burn_rate", objective=99), "objective: expected a number in (0, 1)"),
    ("template-unknown", _rule(summary="rate {value} on {model_version}"), "unknown field {model_version}"),
    ("template-spec", _rule(summary="rate {value:.2q}"), "summary: Unknown format code 'q'"),
    ("template-spec-str", _rule(summary="{rule:.2f}"), "summary: Unknown format code 'f'"),
    ("template-dunder", _rule(summary="{__class__}"), "unknown field {__class__}"),
    ("template-attr", _rule(summary="{value.__class__}"), "attribute access and indexing are not allowed"),
    ("template-index", _rule(summary="{labels[0]}"), "attribute access and indexing are not allowed"),
    ("template-positional", _rule(summary="{} {0}"), "positional fields are not allowed"),
    ("template-conversion", _rule(summary="{value!a}"), "conversion !a is not allowed"),
    ("template-width", _rule(summary="{value:999999999}"), "width or precision too large"),
    ("template-unbalanced", _rule(summary="{value"), "summary: "),
    ("template-not-text", _rule(summary=3), "summary: expected a string"),
]


@pytest.mark.parametrize(("name", "raw", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_rule_names_the_rule(name: str, raw: dict[str, Any], message: str) -> None:
    raw = {**raw, "name": name}
    ok = _rule(name="fine-before")
    with pytest.raises(AlertRuleError) as info:
        parse_rules([ok, raw], path="conf/obskit.toml")
    err = info.value
    assert err.rule == name
    assert isinstance(err, ObskitError)
    assert message in err.reason, err.reason
    assert str(err).startswith(f"conf/obskit.toml: alert rule '{name}': ")


def test_rule_without_name_is_named_by_position() -> None:
    with pytest.raises(AlertRuleError, match=r"alert rule '#2': missing field 'name'"):
        parse_rules([_rule(), {"signal": "error_rate"}])
    with pytest.raises(AlertRuleError, match=r"alert rule '#1': expected a table"):
        parse_rules(["oops"])
    with pytest.raises(AlertRuleError, match=r"name: use letters"):
        parse_rules([_rule(name="has space")])


def test_duplicate_names() -> None:
    with pytest.raises(AlertRuleError) as info:
        parse_rules([_rule(), _rule(threshold=0.5)])
    assert info.value.rule == "errors" and "duplicate" in info.value.reason


def test_not_an_array() -> None:
    with pytest.raises(AlertRuleError, match="array of tables"):
        parse_rules({"name": "x"})  # type: ignore[arg-type]


def test_template_may_use_signal_labels_by_columns_and_rule_labels() -> None:
    [r] = parse_rules([_rule(signal="kl_divergence", threshold=0.3, labels={"team": "ml"},
                             summary="{feature} KL {value:.2f} > {threshold} since {start:%H:%M} ({team}) "
                                     "{severity} {rule} {signal} {window} {for} {end:%H:%M} {duration!r}")])
    assert r.series_labels() == ("feature",)


def test_custom_signal_registry() -> None:
    reg = with_signals(Signal("queue_depth", "queue", "depth", "requests waiting", agg="max"))
    assert parse_rules([_rule(signal="queue_depth")], registry=reg)[0].signal == "queue_depth"
    assert "queue_depth" not in SIGNALS
    with pytest.raises(AlertRuleError, match=r"known: .*queue_depth"):
        parse_rules([_rule(signal="queue")], registry=reg)


@pytest.mark.parametrize(
    "template",
    ["{__class__}", "{value.__class__}", "{value.__class__.__mro__}", "{labels[0]}", "{value[0]}",
     "{0}", "{}", "{value!a}", "{__import__}", "{value:{__class__}}"],
)
def test_safe_formatter_rejects_everything_but_plain_names(template: str) -> None:
    fields = {"value": 1.0, "labels": {"a": "b"}}
    with pytest.raises((ValueError, KeyError)):
        render(template, fields)
    with pytest.raises(ValueError):
        check_template(template, ["labels"])


def test_render_formats() -> None:
    t = datetime(2026, 11, 22, 8, 21, tzinfo=UTC)
    text = render("{value:.1%} at {start:%H:%M} until {end:%H:%M}", {"value": 0.0712, "start": t, "end": None})
    assert text == "7.1% at 08:21 until now"
    assert render("{{literal}} {x!r}", {"x": "a"}) == "{literal} 'a'"


def test_format_duration() -> None:
    assert format_duration(timedelta(0)) == "0s"
    assert format_duration(timedelta(seconds=90)) == "1m30s"
    assert format_duration(timedelta(days=1, hours=2)) == "1d2h"
    assert format_duration(timedelta(milliseconds=1500)) == "1s500ms"


@pytest.mark.parametrize("raw, message", [
    ({"match": {"feature": "brightness"}}, "match: 'feature' is not a series label of 'error_rate'"),
    ({"match": ["x"]}, "match: expected a table"),
    ({"min_samples": -1}, "min_samples: expected a number >= 0"),
    ({"absent": "yes"}, "absent: expected true or false"),
])
def test_new_rule_options_are_validated(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(AlertRuleError, match=re.escape(message)):
        parse_rules([_rule(**raw)])


def test_absent_rules_need_no_comparison() -> None:
    [r] = parse_rules([{"name": "gone", "signal": "gpu_utilization_pct", "absent": True, "window": "5m"}])
    assert r.absent and r.comparison == "=="
