"""Alert rules as data: the ``[[alerts]]`` tables of ``obskit.toml``.

Each table is one rule::

    [[alerts]]
    name = "high-error-rate"          # unique; the Prometheus alertname
    signal = "error_rate"             # a name of the signal registry (obskit.alerts.signals)
    comparison = ">"                  # > >= < <= == !=
    threshold = 0.01
    window = "5m"                     # the signal is aggregated over the last 5m at each step
    for = "1m"                        # pending this long before firing (Prometheus `for`)
    keep_firing_for = "0s"            # keep firing this long after the condition clears
    interval = "1m"                   # evaluation step (default: the frame's spacing)
    severity = "page"                 # page | ticket | info
    by = ["model_version"]            # one series per value of these label columns
    labels = { team = "ml-serving" }  # extra labels on the alert
    summary = "error rate {value:.2%} on {model_version} for {duration}"
    objective = 0.99                  # burn_rate only: the availability objective
    anomaly = "knn"                   # judge the signal with an online detector (threshold: its 0..1 score)
    min_samples = 200                 # ratio signals: no verdict on fewer requests/answers in the window
    absent = true                     # fire when the series has no data in the window (like absent())
    match = { panel = "GPU temp" }    # only the series whose labels have these values

Only ``name``, ``signal``, ``comparison`` and ``threshold`` are required. See
:mod:`obskit.alerts.templates` for the fields a ``summary`` may use.

Examples
--------
>>> [r] = parse_rules([{"name": "errors", "signal": "error_rate", "comparison": ">", "threshold": 0.01,
...                     "window": "5m", "for": "1m"}])
>>> r.name, r.window_text, r.for_text, r.severity
('errors', '5m', '1m', 'ticket')
>>> parse_rules([{"name": "x", "signal": "eror_rate", "comparison": ">", "threshold": 1}])
Traceback (most recent call last):
...
obskit.errors.AlertRuleError: alert rule 'x': unknown signal 'eror_rate' (known: ...)
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from os import PathLike
from typing import Any

from obskit.alerts.signals import SIGNALS, Signal, known_signals
from obskit.alerts.templates import BUILTIN_FIELDS, check_template
from obskit.errors import AlertRuleError
from obskit.limits import SHORTEST_WINDOW, fmt_duration
from obskit.timeutil import parse_duration

__all__ = ["COMPARATORS", "SEVERITIES", "Rule", "format_duration", "parse_rules"]

#: Comparison operators a rule may use, with their Python function.
COMPARATORS: Mapping[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

SEVERITIES: tuple[str, ...] = ("page", "ticket", "info")

_KEYS = {
    "name", "signal", "comparison", "threshold", "window", "for", "keep_firing_for", "interval",
    "severity", "labels", "by", "summary", "objective", "anomaly", "min_samples", "absent", "match",
}
_REQUIRED = ("name", "signal", "comparison", "threshold")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,127}\Z")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED_LABELS = {"alertname", "alertstate", "severity", "le", "__name__"}

DEFAULT_SUMMARY = "{rule}: {signal} {value:.4g} (threshold {threshold:.4g})"


def format_duration(d: timedelta) -> str:
    """A timedelta in Prometheus form: ``0s``, ``90s`` -> ``1m30s``, ``1h``, ``1d``.

    >>> format_duration(timedelta(seconds=5400)), format_duration(timedelta(0))
    ('1h30m', '0s')
    """
    ms = round(d.total_seconds() * 1000)
    if ms <= 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            out += f"{n}{unit}"
    return out


@dataclass(frozen=True)
class Rule:
    """One validated alert rule (see the module doc for the TOML form)."""

    name: str
    signal: str
    comparison: str
    threshold: float
    window: timedelta | None = None
    for_: timedelta = timedelta(0)
    keep_firing_for: timedelta = timedelta(0)
    interval: timedelta | None = None
    severity: str = "ticket"
    labels: Mapping[str, str] = field(default_factory=dict)
    by: tuple[str, ...] = ()
    summary: str = DEFAULT_SUMMARY
    objective: float | None = None
    anomaly: str | None = None
    min_samples: float = 0.0
    absent: bool = False
    match: Mapping[str, str] = field(default_factory=dict)

    @property
    def window_text(self) -> str | None:
        return None if self.window is None else format_duration(self.window)

    @property
    def for_text(self) -> str:
        return format_duration(self.for_)

    @property
    def keep_firing_for_text(self) -> str:
        return format_duration(self.keep_firing_for)

    def series_labels(self, registry: Mapping[str, Signal] | None = None) -> tuple[str, ...]:
        """Label columns identifying a series: the signal's own labels, then ``by``."""
        sig = (SIGNALS if registry is None else registry)[self.signal]
        return tuple(dict.fromkeys([*sig.labels, *self.by]))

    def holds(self, value: float) -> bool:
        """Whether the condition is true for ``value`` (NaN: false)."""
        return not math.isnan(value) and bool(COMPARATORS[self.comparison](value, self.threshold))


def _duration(raw: Mapping[str, Any], key: str, name: str, *, allow_zero: bool,
              shortest: timedelta | None = None) -> timedelta | None:
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and allow_zero and value == 0:
        return timedelta(0)
    if not isinstance(value, str):
        raise AlertRuleError(f"{key}: expected a duration such as \"5m\", got {value!r}", rule=name)
    if allow_zero and value.strip() in ("0", "0s", "0m", "0h"):
        return timedelta(0)
    try:
        d = parse_duration(value)
    except ValueError as exc:
        raise AlertRuleError(f"{key}: {exc}", rule=name) from None
    if shortest is not None and d < shortest:
        raise AlertRuleError(f"{key}: {value!r} is shorter than the shortest window, {fmt_duration(shortest)}",
                             rule=name)
    return d


def _parse_one(raw: Any, index: int, registry: Mapping[str, Signal]) -> Rule:
    if not isinstance(raw, Mapping):
        raise AlertRuleError(f"expected a table, got {type(raw).__name__}", rule=f"#{index + 1}")
    name_raw = raw.get("name")
    if not isinstance(name_raw, str) or not name_raw:
        label = f"#{index + 1}"
        if "name" not in raw:
            raise AlertRuleError("missing field 'name'", rule=label)
        raise AlertRuleError(f"name: expected a non-empty string, got {name_raw!r}", rule=label)
    name = name_raw
    if not _NAME.match(name):
        raise AlertRuleError("name: use letters, digits, '_', '-', '.', ':' and start with a letter", rule=name)
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise AlertRuleError(f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})", rule=name)
    absent = raw.get("absent", False)
    if not isinstance(absent, bool):
        raise AlertRuleError(f"absent: expected true or false, got {absent!r}", rule=name)
    if absent:  # the condition is "no data"; comparison and threshold do not apply
        raw = {"comparison": "==", "threshold": 0, **raw}
    for key in _REQUIRED:
        if key not in raw:
            raise AlertRuleError(f"missing field {key!r}", rule=name)

    signal = raw["signal"]
    if not isinstance(signal, str) or signal not in registry:
        raise AlertRuleError(f"unknown signal {signal!r} (known: {known_signals(registry)})", rule=name)
    sig = registry[signal]

    comparison = raw["comparison"]
    if not isinstance(comparison, str) or comparison.strip() not in COMPARATORS:
        raise AlertRuleError(f"bad comparison {comparison!r} (use one of {' '.join(COMPARATORS)})", rule=name)
    comparison = comparison.strip()

    threshold = raw["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise AlertRuleError(f"threshold: expected a finite number, got {threshold!r}", rule=name)

    window = _duration(raw, "window", name, allow_zero=False, shortest=SHORTEST_WINDOW)
    for_ = _duration(raw, "for", name, allow_zero=True) or timedelta(0)
    keep = _duration(raw, "keep_firing_for", name, allow_zero=True) or timedelta(0)
    interval = _duration(raw, "interval", name, allow_zero=False, shortest=SHORTEST_WINDOW)

    severity = raw.get("severity", "ticket")
    if severity not in SEVERITIES:
        raise AlertRuleError(f"severity: expected one of {', '.join(SEVERITIES)}, got {severity!r}", rule=name)

    by_raw = raw.get("by", [])
    if isinstance(by_raw, str):
        by_raw = [by_raw]
    if not isinstance(by_raw, list) or not all(isinstance(b, str) for b in by_raw):
        raise AlertRuleError(f"by: expected a list of label column names, got {by_raw!r}", rule=name)
    for b in by_raw:
        if not _LABEL.match(b) or b in _RESERVED_LABELS or b in BUILTIN_FIELDS:
            raise AlertRuleError(f"by: {b!r} is not a usable label name", rule=name)
    if len(set(by_raw)) != len(by_raw):
        raise AlertRuleError(f"by: duplicate column in {by_raw!r}", rule=name)
    by = tuple(by_raw)

    labels_raw = raw.get("labels", {})
    if not isinstance(labels_raw, Mapping):
        raise AlertRuleError(f"labels: expected a table, got {labels_raw!r}", rule=name)
    labels: dict[str, str] = {}
    series = tuple(dict.fromkeys([*sig.labels, *by]))
    for k, v in labels_raw.items():
        if (not isinstance(k, str) or not _LABEL.match(k) or k.startswith("__") or k in _RESERVED_LABELS
                or k in BUILTIN_FIELDS):
            raise AlertRuleError(f"labels: {k!r} is not a usable label name", rule=name)
        if k in series:
            raise AlertRuleError(f"labels: {k!r} is also a series label (by)", rule=name)
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise AlertRuleError(f"labels.{k}: expected a string, got {v!r}", rule=name)
        labels[k] = str(v)

    objective = raw.get("objective")
    if objective is not None and (
        isinstance(objective, bool) or not isinstance(objective, (int, float)) or not 0 < objective < 1
    ):
        raise AlertRuleError(f"objective: expected a number in (0, 1), got {objective!r}", rule=name)
    if sig.burn and objective is None:
        raise AlertRuleError(f"missing field 'objective' (signal {signal!r} needs it, e.g. 0.99)", rule=name)
    if not sig.burn and objective is not None:
        raise AlertRuleError(f"objective: only burn-rate signals use it, not {signal!r}", rule=name)

    match_raw = raw.get("match", {})
    if not isinstance(match_raw, Mapping) or not all(isinstance(v, str) for v in match_raw.values()):
        raise AlertRuleError(f"match: expected a table of label = \"value\", got {match_raw!r}", rule=name)
    unknown_match = [k for k in match_raw if k not in series]
    if unknown_match:
        raise AlertRuleError(f"match: {unknown_match[0]!r} is not a series label of {signal!r} "
                             f"(labels: {', '.join(series) or 'none'})", rule=name)

    min_samples = raw.get("min_samples", 0)
    if isinstance(min_samples, bool) or not isinstance(min_samples, (int, float)) or min_samples < 0:
        raise AlertRuleError(f"min_samples: expected a number >= 0, got {min_samples!r}", rule=name)

    anomaly = raw.get("anomaly")
    if anomaly is not None:
        from obskit.analyze.detect import METHODS

        if anomaly not in METHODS:
            raise AlertRuleError(f"anomaly: expected one of {', '.join(METHODS)}, got {anomaly!r}", rule=name)
        if comparison not in (">", ">=") or not 0.5 <= float(threshold) < 1:
            raise AlertRuleError("anomaly rules compare the detector's score: use comparison \">=\" and a "
                                 "threshold in [0.5, 1), e.g. 0.999 (one false alarm per 1000 evaluations)",
                                 rule=name)

    summary = raw.get("summary", DEFAULT_SUMMARY)
    try:
        check_template(summary, [*series, *labels])
    except ValueError as exc:
        raise AlertRuleError(f"summary: {exc}", rule=name) from None

    return Rule(
        name=name, signal=signal, comparison=comparison, threshold=float(threshold), window=window,
        for_=for_, keep_firing_for=keep, interval=interval, severity=severity, labels=labels, by=by,
        summary=summary, objective=None if objective is None else float(objective), anomaly=anomaly,
        min_samples=float(min_samples), absent=absent, match=dict(match_raw),
    )


def parse_rules(
    raw_list: Sequence[Any] | None,
    *,
    path: str | PathLike[str] | None = None,
    registry: Mapping[str, Signal] | None = None,
) -> list[Rule]:
    """Validate the ``alerts`` array of a config into :class:`Rule` objects.

    Parameters
    ----------
    raw_list
        The parsed ``[[alerts]]`` array (a list of dicts, as :mod:`tomllib` gives it);
        ``None`` means no rules.
    path
        The config file, for error messages.
    registry
        Signal registry (default :data:`obskit.alerts.signals.SIGNALS`).

    Raises
    ------
    AlertRuleError
        Naming the rule (or ``#N`` when it has no name): unknown signal or field, missing
        field, bad duration, comparison, severity, label or objective, a summary template
        that does not format, duplicate names.
    """
    reg = SIGNALS if registry is None else registry
    if raw_list is None:
        return []
    if not isinstance(raw_list, (list, tuple)):
        raise AlertRuleError(f"expected an array of tables ([[alerts]]), got {type(raw_list).__name__}",
                             rule="alerts", path=path)
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_list):
        try:
            rule = _parse_one(raw, i, reg)
        except AlertRuleError as exc:
            if path is None:
                raise
            raise AlertRuleError(exc.reason, rule=exc.rule, path=path) from None
        if rule.name in seen:
            raise AlertRuleError("duplicate rule name", rule=rule.name, path=path)
        seen.add(rule.name)
        rules.append(rule)
    return rules
