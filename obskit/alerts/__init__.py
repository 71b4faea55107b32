"""Alerts: rules as data, backtested over history, exported to Prometheus, delivered by webhook.

``parse_rules``
    Validate the ``[[alerts]]`` tables of ``obskit.toml`` into :class:`Rule` objects.
``evaluate``
    Backtest the rules over result frames with Prometheus' pending/firing/resolved state
    machine; returns an :class:`AlertRun` (``episodes``, ``timeline``, ``current``).
``to_prometheus_rules``
    The rules as a Prometheus rule file (YAML), for signals Prometheus has.
``WebhookNotifier`` / ``alerts_json``
    Deliver alerts to a webhook (JSON or Slack), and the machine-readable ``alerts.json``.
``SIGNALS``
    The signal registry: which result-frame column each signal name reads.
``DEFAULT_RULES_TOML``
    Default rules for the sample day's incidents.

Examples
--------
>>> import tomllib
>>> rules = parse_rules(tomllib.loads(DEFAULT_RULES_TOML)["alerts"])
>>> sorted({r.signal for r in rules})[:3]
['burn_rate', 'class_mix_shift', 'class_takeover']
"""

from obskit.alerts.defaults import DEFAULT_RULES_TOML, default_rules
from obskit.alerts.engine import STATES, AlertRun, evaluate, run_state_machine
from obskit.alerts.export import PrometheusExport, prometheus_export, to_prometheus_rules
from obskit.alerts.notify import Delivery, DeliveryReport, WebhookNotifier, alert_records, alerts_json, redact_url
from obskit.alerts.rules import COMPARATORS, SEVERITIES, Rule, format_duration, parse_rules
from obskit.alerts.signals import SIGNALS, Signal, known_signals, with_signals
from obskit.alerts.templates import BUILTIN_FIELDS, SafeFormatter, check_template, render

__all__ = [
    "BUILTIN_FIELDS",
    "COMPARATORS",
    "DEFAULT_RULES_TOML",
    "SEVERITIES",
    "SIGNALS",
    "STATES",
    "AlertRun",
    "Delivery",
    "DeliveryReport",
    "PrometheusExport",
    "Rule",
    "SafeFormatter",
    "Signal",
    "WebhookNotifier",
    "alert_records",
    "alerts_json",
    "check_template",
    "default_rules",
    "evaluate",
    "format_duration",
    "known_signals",
    "parse_rules",
    "prometheus_export",
    "redact_url",
    "render",
    "run_state_machine",
    "to_prometheus_rules",
    "with_signals",
]
