"""A watcher's signals as Prometheus metrics (``prometheus_client``), prefixed ``obskit_``.

After each evaluation the watcher hands :class:`SignalCollector` the signal frames and the
alert run; a scrape then reads, for every registered signal with data, its value at the
latest complete time per series (``obskit_error_rate``, ``obskit_latency_p99_ms``,
``obskit_feature_shift{feature=...}``, ``obskit_version_error_ratio{model_version=...}``,
``obskit_class_mix_shift``, ``obskit_confident_rate``, ``obskit_host_cpu_utilization_pct``...),
``obskit_alert_state{rule=..., ...}`` (0 inactive, 1 pending, 2 firing) per rule and
series, and the watcher's own health (``obskit_watch_up``, ``obskit_watch_degraded``,
``obskit_watch_lag_seconds``, ``obskit_watch_lines_total``, ``obskit_watch_rejected_total``).
The values are exactly the ones the rules compare (same registry, same aggregation over
the rows of the latest time).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> ws = pl.DataFrame({"window_start": [datetime(2026, 1, 1, tzinfo=UTC)] * 2, "requests": [100, 100],
...                    "errors": [1, 3], "rps": [1.0, 1.0], "error_rate": [0.01, 0.03]})
>>> [(m.name, m.labels, m.value) for m in latest_values({"window_stats": ws}) if m.name == "obskit_error_rate"]
[('obskit_error_rate', {}, 0.02)]
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from obskit.alerts.signals import SIGNALS, Signal

__all__ = ["Metric", "SignalCollector", "latest_values"]

_STATE = {"inactive": 0.0, "pending": 1.0, "firing": 2.0}


@dataclass(frozen=True)
class Metric:
    """One sample: ``name`` (``obskit_...``), ``help``, ``labels``, ``value``."""

    name: str
    help: str
    labels: dict[str, str]
    value: float


def _label(name: str) -> str:
    out = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    return out if re.match(r"[a-zA-Z_]", out) else f"_{out}"


def _value(part: pl.DataFrame, sig: Signal, column: str) -> float | None:
    if sig.agg == "ratio" and sig.numerator in part.columns and sig.denominator in part.columns:
        num, den = part[sig.numerator].cast(pl.Float64).sum(), part[sig.denominator].cast(pl.Float64).sum()
        return float(num) / float(den) if den else None
    vals = part[column].cast(pl.Float64)
    if sig.weight is not None and sig.weight in part.columns:
        w = part[sig.weight].cast(pl.Float64)
        keep = vals.is_not_null() & vals.is_not_nan() & w.is_not_null()
        total = float(w.filter(keep).sum())
        return float((vals.filter(keep) * w.filter(keep)).sum()) / total if total else None
    vals = vals.drop_nulls().drop_nans()
    if vals.len() == 0:
        return None
    agg = {"max": vals.max, "min": vals.min, "last": lambda: vals[-1]}.get(sig.agg, vals.mean)
    out = agg()
    return None if out is None else float(out)


def latest_values(frames: Mapping[str, pl.DataFrame], registry: Mapping[str, Signal] | None = None
                  ) -> list[Metric]:
    """Every signal's value at its latest time per series (see the module doc)."""
    out = []
    for sig in (SIGNALS if registry is None else registry).values():
        frame = frames.get(sig.frame)
        if frame is None or frame.height == 0 or sig.column not in frame.columns:
            continue
        time_col = sig.time if sig.time in frame.columns else ("timestamp" if "timestamp" in frame.columns
                                                                else "window_start")
        if time_col not in frame.columns:
            continue
        for col, want in sig.where.items():
            frame = frame.filter(pl.col(col).cast(pl.String) == want) if col in frame.columns else frame.clear()
        frame = frame.rename({k: v for k, v in sig.rename.items() if k in frame.columns})
        labels = [c for c in (*sig.labels, "host", "gpu") if c in frame.columns]
        labels = list(dict.fromkeys(labels))
        known = frame.filter(pl.col(sig.column).is_not_null())
        if sig.column in known.columns and known.schema[sig.column].is_float():
            known = known.filter(~pl.col(sig.column).is_nan())
        if known.height == 0:
            continue
        parts = known.partition_by(labels, as_dict=False) if labels else [known]
        for part in parts:
            last = part.filter(pl.col(time_col) == part[time_col].max())
            value = _value(last, sig, sig.column)
            if value is None or not math.isfinite(value):
                continue
            out.append(Metric(f"obskit_{sig.name}", sig.description,
                              {_label(c): str(last[c][0]) for c in labels}, value))
    return out


@dataclass(eq=False)  # registered in a CollectorRegistry: hashed by identity
class SignalCollector:
    """A ``prometheus_client`` collector of the watcher's latest signals, alert states and health."""

    metrics: list[Metric] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    health: dict[str, float] = field(default_factory=dict)

    def update(self, frames: Mapping[str, pl.DataFrame], current: pl.DataFrame | None,
               health: Mapping[str, float]) -> None:
        """Replace the snapshot (called after each evaluation)."""
        self.metrics = latest_values(frames)
        rows = [] if current is None else current.to_dicts()
        self.alerts = rows
        self.health = dict(health)

    def collect(self) -> Iterator[Any]:
        """What a scrape returns (the ``prometheus_client`` collector protocol)."""
        import json

        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        from prometheus_client.samples import Sample

        families: dict[str, Any] = {}
        for m in self.metrics:  # one family per signal; its series may carry different labels
            fam = families.setdefault(m.name, GaugeMetricFamily(m.name, m.help))
            fam.samples.append(Sample(m.name, dict(m.labels), m.value))
        yield from families.values()
        state = GaugeMetricFamily("obskit_alert_state",
                                  "alert rule state per series: 0 inactive, 1 pending, 2 firing")
        for row in self.alerts:
            labels = {_label(k): str(v) for k, v in json.loads(row.get("labels") or "{}").items()}
            labels.update(rule=str(row["rule"]), severity=str(row.get("severity") or ""))
            state.samples.append(Sample("obskit_alert_state", labels, _STATE.get(str(row.get("state")), 0.0)))
        yield state
        for name, value in sorted(self.health.items()):
            if name.endswith("_total"):
                c = CounterMetricFamily(f"obskit_watch_{name[:-6]}", f"watcher {name[:-6]} so far")
                c.add_metric([], value)
                yield c
            else:
                g = GaugeMetricFamily(f"obskit_watch_{name}", f"watcher {name}")
                g.add_metric([], value)
                yield g
