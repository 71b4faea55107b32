"""Export rules to a Prometheus rule file (YAML), for the signals Prometheus has.

Each exported rule becomes a **recording rule** for its signal (``obskit:<signal>:<window>``,
shared by rules with the same signal, ``by`` and window) and an **alerting rule** comparing
it to the threshold, with ``for``, ``keep_firing_for`` (only when set; Prometheus >= 2.42),
``labels`` (``severity`` and the rule's labels) and ``annotations.summary`` translated
from the obskit template into Go template syntax (:func:`obskit.alerts.templates.to_go_template`).
A rule with ``min_samples`` on a signal counted over requests also asks for that many
requests in its window (the mapped request rate times the window's seconds). The rules are
evaluated at the file's interval, but a rule with its own ``interval`` goes into a group of
that interval (``<group>-every-5m``): Prometheus evaluates a group at one interval.

The PromQL of each signal comes from a :class:`~obskit.promql_map.PromqlMapping` (the
config's ``[promql]`` table: the presets it names, e.g. ``triton`` for
``nv_inference_request_success``/``_failure``, the ``inference_request_duration_seconds``
histogram and ``nv_gpu_*``, plus its own ``[promql.signals]``). No preset is implied: without
a mapping nothing is exported. Rules whose signal has no PromQL in the mapping (not mapped by
the config, or obskit-only: drift, confidence, corrections) or whose ``by`` has no
Prometheus label are skipped; the reasons are listed in :attr:`PrometheusExport.skipped` and
as comments at the top of the file.

The YAML is written by hand: every string is a JSON-style double-quoted scalar, which YAML
reads verbatim, so no quoting rule of YAML can bite.

Examples
--------
>>> from obskit.alerts.rules import parse_rules
>>> rules = parse_rules([{"name": "errors", "signal": "error_rate", "comparison": ">", "threshold": 0.01,
...                       "window": "5m", "for": "1m", "by": ["model_version"],
...                       "summary": "error rate {value:.2%} on {model_version}"}])
>>> text = to_prometheus_rules(rules, mapping=PromqlMapping.preset("triton"))
>>> 'record: "obskit:error_rate:by_version:5m"' in text, "sum by (version) (rate(nv_inference_request_failure" in text
(True, True)
>>> print("      - alert:" + text.split("      - alert:")[1], end="")
      - alert: "errors"
        expr: "obskit:error_rate:by_version:5m > 0.01"
        for: "1m"
        labels:
          severity: "ticket"
        annotations:
          summary: "error rate {{ $value | humanizePercentage }} on {{ $labels.version }}"
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from obskit.alerts.rules import Rule, format_duration
from obskit.alerts.signals import SIGNALS, Signal
from obskit.alerts.templates import to_go_template
from obskit.promql_map import PromqlMapping, unmapped_reason
from obskit.timeutil import parse_duration

__all__ = ["PrometheusExport", "prometheus_export", "to_prometheus_rules"]

_DEFAULT_WINDOW = timedelta(minutes=5)
_GO_OPEN = '{{ "{{" }}'


@dataclass(frozen=True)
class PrometheusExport:
    """A rule file and what went into it."""

    yaml: str
    exported: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _num(x: float) -> str:
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _matchers(match: Mapping[str, str]) -> str:
    """``{version="v2"}`` (PromQL string literals share JSON's escapes), or "" for no filter.

    >>> _matchers({"version": 'v"2'})
    '{version="v\\\\"2"}'
    """
    if not match:
        return ""
    return "{" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(match.items())) + "}"


def _record_name(rule: Rule, prom_by: Sequence[str], window: str) -> str:
    parts = ["obskit", rule.signal]
    if prom_by:
        parts.append("by_" + "_".join(prom_by))
    if rule.objective is not None:
        parts.append("slo" + re.sub(r"[^0-9]", "_", f"{rule.objective * 100:g}"))
    parts.append(window)
    return ":".join(parts)


def _absent(selector: str, prom_by: Sequence[str], window: str) -> str:
    """PromQL for "no data in the window": ``absent()`` for one series; per series, those seen
    in the last hour (or two windows) that the recording rule no longer gives (it is computed
    over the rule's window, so it stops when the window holds no sample).

    ``absent()`` alone fires only when no series of the selector is left, so one GPU going
    silent beside others would never page.

    >>> _absent("rec", ["uuid"], "5m")
    'group by (uuid) (max_over_time(rec[1h])) unless group by (uuid) (rec)'
    """
    if not prom_by:
        return f"absent({selector})"
    lookback = format_duration(max(timedelta(hours=1), 2 * parse_duration(window)))
    by = ", ".join(prom_by)
    return (f"group by ({by}) (max_over_time({selector}[{lookback}])) "
            f"unless group by ({by}) ({selector})")


def _min_samples(rule: Rule, sig: Signal, series: Sequence[str], window: str, promql: PromqlMapping,
                 records: dict[str, str]) -> str | None:
    """The PromQL that holds a rule to ``min_samples`` requests in its window, or None where it can't.

    The backtest gives no verdict on a window with fewer requests than ``min_samples``; the
    exported rule asks the same of Prometheus: the mapped request rate over the rule's window,
    times its seconds (recorded as ``obskit:request_rate:...``). Only signals counted over
    requests (error rate, burn rate, slow-request share) have such a guard.
    """
    rq = promql.query("request_rate")
    if sig.denominator not in ("requests", "ok") or rq is None or any(b not in rq.labels for b in series):
        return None
    by = [rq.labels[b] for b in series]
    record = ":".join(["obskit", "request_rate", *(["by_" + "_".join(by)] if by else []), window])
    records.setdefault(record, promql.render("request_rate", by=by, window=window, budget="1"))
    seconds = parse_duration(window).total_seconds()
    return f"{record} * {_num(seconds)} >= {_num(rule.min_samples)}"


def prometheus_export(
    rules: Sequence[Rule],
    *,
    group: str = "obskit",
    interval: str = "1m",
    registry: Mapping[str, Signal] | None = None,
    mapping: PromqlMapping | None = None,
) -> PrometheusExport:
    """The rule file for ``rules``, with the lists of exported and skipped rules.

    ``mapping`` gives each signal's PromQL (None: an empty mapping, every rule is skipped;
    pass ``PromqlMapping.preset("triton")`` or a config's ``promql``).
    """
    reg = SIGNALS if registry is None else registry
    promql = mapping if mapping is not None else PromqlMapping()
    parse_duration(interval)
    records: dict[str, str] = {}
    alerts: list[tuple[timedelta | None, list[str]]] = []
    exported: list[str] = []
    skipped: list[dict[str, str]] = []
    unguarded: list[str] = []
    for rule in rules:
        sig = reg.get(rule.signal)
        sq = promql.query(rule.signal)
        if rule.anomaly is not None:
            skipped.append({"rule": rule.name, "reason": f"anomaly rules ({rule.anomaly}) run in obskit's backtest "
                                                         "only; PromQL has no online detector"})
            continue
        if sig is None or sq is None:
            skipped.append({"rule": rule.name, "reason": unmapped_reason(rule.signal, promql)})
            continue
        series = [*sig.labels, *rule.by]
        unmapped = [b for b in series if b not in sq.labels]
        if unmapped:
            skipped.append({"rule": rule.name,
                            "reason": f"label {unmapped[0]!r} has no Prometheus equivalent for {rule.signal!r} "
                                      f"(mapped: {', '.join(sq.labels) or 'none'})"})
            continue
        prom_by = [sq.labels[b] for b in series]
        window = format_duration(rule.window or _DEFAULT_WINDOW)
        budget = _num(round(1 - rule.objective, 12)) if rule.objective is not None else "1"
        expr = promql.render(rule.signal, by=prom_by, window=window, budget=budget)
        record = _record_name(rule, prom_by, window)
        records.setdefault(record, expr)
        constants: dict[str, object] = {
            "threshold": rule.threshold, "rule": rule.name, "signal": rule.signal,
            "severity": rule.severity, "window": window, "for": rule.for_text, "duration": rule.for_text,
            "start": "", "end": "", **rule.labels,
        }
        summary = to_go_template(
            rule.summary,
            label_map={b: sq.labels[b] for b in series},
            constants=constants,
        )
        # the rule's match filter, as PromQL label matchers on the recorded series (every match
        # key is a series label, checked by parse_rules, and every series label is mapped above)
        selector = record + _matchers({sq.labels[k]: v for k, v in rule.match.items()})
        cond = (_absent(selector, prom_by, window) if rule.absent
                else f"{selector} {rule.comparison} {_num(rule.threshold)}")
        if rule.min_samples and not rule.absent:
            guard = _min_samples(rule, sig, series, window, promql, records)
            if guard is None:
                unguarded.append(rule.name)
            else:
                cond += f" and on({', '.join(prom_by)}) {guard}"
        lines = [
            f"      - alert: {_q(rule.name)}",
            f"        expr: {_q(cond)}",
        ]
        if rule.for_ > timedelta(0):
            lines.append(f"        for: {_q(rule.for_text)}")
        if rule.keep_firing_for > timedelta(0):
            lines.append(f"        keep_firing_for: {_q(rule.keep_firing_for_text)}")
        lines.append("        labels:")
        for k, v in {"severity": rule.severity, **rule.labels}.items():
            # Prometheus expands templates in label values too.
            lines.append(f"          {k}: {_q(v.replace('{{', _GO_OPEN))}")
        lines.append("        annotations:")
        lines.append(f"          summary: {_q(summary)}")
        alerts.append((rule.interval, lines))
        exported.append(rule.name)

    out = [f"# Prometheus rules generated by obskit: {len(exported)} of {len(rules)} alert rules exported."]
    if unguarded:
        out.append(f"# min_samples not enforced (no request_rate in the [promql] mapping): {', '.join(unguarded)}")
    if skipped:
        out.append("# Skipped:")
        out.extend(f"#   {s['rule']}: {s['reason']}".replace("\n", " ") for s in skipped)
    # a rule's own interval is its group's (Prometheus evaluates a group at one interval);
    # the recording rules and the rules at the file's interval share the first group
    step = parse_duration(interval)
    own = sorted({r for r, _ in alerts if r is not None and r != step})
    out += ["groups:", f"  - name: {_q(group)}", f"    interval: {_q(interval)}"]
    first = [lines for r, lines in alerts if r is None or r == step]
    if not records and not first:
        out.append("    rules: []")
    else:
        out.append("    rules:")
        for name, expr in records.items():
            out += [f"      - record: {_q(name)}", f"        expr: {_q(expr)}"]
        for lines in first:
            out += lines
    for every in own:
        text = format_duration(every)
        out += [f"  - name: {_q(f'{group}-every-{text}')}", f"    interval: {_q(text)}", "    rules:"]
        for r, lines in alerts:
            if r == every:
                out += lines
    return PrometheusExport("\n".join(out) + "\n", exported, skipped)


def to_prometheus_rules(
    rules: Sequence[Rule],
    *,
    group: str = "obskit",
    interval: str = "1m",
    registry: Mapping[str, Signal] | None = None,
    mapping: PromqlMapping | None = None,
) -> str:
    """The rules as a Prometheus rule file (YAML text) for ``promtool check rules``.

    Skipped rules are listed in comments at the top; use :func:`prometheus_export` to get
    them as data.
    """
    return prometheus_export(rules, group=group, interval=interval, registry=registry, mapping=mapping).yaml
