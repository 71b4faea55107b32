"""Grafana dashboards from the config: the ``[[panels]]`` and the serving signals Prometheus has.

``obskit dashboards export -o dashboard.json`` writes one dashboard with a ``datasource``
variable (any Prometheus), a row of the serving signals that have PromQL in the config's
mapping (:mod:`obskit.promql_map`: request rate, error rate, latency quantiles, GPU memory
and utilization, with the SLO thresholds) and a row with one time-series panel per
``[[panels]]`` entry (its query, unit and threshold); with ``--watch``, a row of what
``obskit watch --metrics-port`` serves (``obskit_*``: alert states, error rate, p99, drift,
null share, class mix, host CPU, the watcher's lag). A serving signal the mapping lacks
(no preset named for it, no ``[promql.signals]`` entry) gets no panel; :func:`skipped_panels`
says which and why, and the CLI prints them.

It is built with ``grafana-foundation-sdk``, Grafana's own typed builders: the JSON matches
Grafana's dashboard schema (the same model reads it back, see :func:`load_dashboard`),
rather than a hand-written dictionary that drifts from it.

Examples
--------
>>> from obskit.config import load_config
>>> board = dashboard_json(load_config("data/samples/obskit.toml"))  # doctest: +SKIP
>>> [p["title"] for p in board["panels"] if p["type"] == "row"]  # doctest: +SKIP
['Serving signals', 'Panels']
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obskit.config import Config

__all__ = ["SIGNAL_PANELS", "WATCH_PANELS", "dashboard_json", "load_dashboard", "skipped_panels", "write_dashboard"]

#: What ``obskit watch --metrics-port`` serves (:mod:`obskit.watch.metrics`), with ``--watch``:
#: (expression, title, Grafana unit, legend).
WATCH_PANELS: tuple[tuple[str, str, str, str], ...] = (
    ("max by (rule) (obskit_alert_state)", "obskit alert states (2 firing, 1 pending)", "none", "{{rule}}"),
    ("obskit_error_rate", "obskit: error rate", "percentunit", ""),
    ("obskit_latency_p99_ms", "obskit: p99 latency", "ms", ""),
    ("obskit_version_error_ratio", "obskit: error ratio per version", "none", "{{model_version}}"),
    ("obskit_feature_shift", "obskit: feature shift (PSI)", "none", "{{feature}}"),
    ("obskit_feature_null_share", "obskit: feature null share vs training", "percentunit", "{{feature}}"),
    ("obskit_class_mix_shift", "obskit: predicted-class mix shift", "none", ""),
    ("obskit_confident_rate", "obskit: confident-prediction rate", "percentunit", ""),
    ("obskit_host_cpu_utilization_pct", "obskit: host CPU", "percent", "{{host}}"),
    ("obskit_watch_lag_seconds", "obskit watch: lag behind the logs", "s", ""),
)

#: Serving signals shown when the mapping has PromQL for them: (signal, title, Grafana unit).
SIGNAL_PANELS: tuple[tuple[str, str, str], ...] = (
    ("request_rate", "Requests per second", "reqps"),
    ("error_rate", "Error rate", "percentunit"),
    ("latency_p50_ms", "Latency p50", "ms"),
    ("latency_p99_ms", "Latency p99", "ms"),
    ("gpu_utilization_pct", "GPU utilization", "percent"),
    ("gpu_memory_used_share", "GPU memory used", "percentunit"),
)

_UNITS = {"ms": "ms", "s": "s", "%": "percent", "percent": "percent", "share": "percentunit", "req/s": "reqps",
          "bytes": "bytes", "w": "watt", "°c": "celsius", "c": "celsius"}


def _uid(name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return ("obskit-" + slug)[:40]


def _panel(title: str, expr: str, unit: str, threshold: float | None, legend: str) -> Any:
    from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig
    from grafana_foundation_sdk.builders.dashboard import ThresholdsConfig
    from grafana_foundation_sdk.builders.prometheus import Dataquery
    from grafana_foundation_sdk.builders.timeseries import Panel
    from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode
    from grafana_foundation_sdk.models.dashboard import DataSourceRef, Threshold, ThresholdsMode

    query = Dataquery().expr(expr).ref_id("A")
    if legend:
        query = query.legend_format(legend)
    panel = (Panel().title(title).datasource(DataSourceRef(type_val="prometheus", uid="${datasource}"))
             .with_target(query).height(8).span(12))
    if unit:
        panel = panel.unit(_UNITS.get(unit.lower(), unit))
    if threshold is not None:
        steps = [Threshold(None, "green"), Threshold(float(threshold), "red")]
        panel = (panel.thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
                 .thresholds_style(GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)))
    return panel


def skipped_panels(cfg: Config) -> list[dict[str, str]]:
    """The serving-signal panels left out of :func:`dashboard_json` (no PromQL in the mapping), with why.

    >>> from obskit.promql_map import PromqlMapping, SignalQuery
    >>> class Cfg:  # the one field this reads
    ...     promql = PromqlMapping({"error_rate": SignalQuery("sum(rate(errs[{window}]))")})
    >>> [s["signal"] for s in skipped_panels(Cfg())]  # doctest: +NORMALIZE_WHITESPACE
    ['request_rate', 'latency_p50_ms', 'latency_p99_ms', 'gpu_utilization_pct', 'gpu_memory_used_share']
    """
    from obskit.promql_map import unmapped_reason

    return [{"panel": label, "signal": signal, "reason": unmapped_reason(signal, cfg.promql)}
            for signal, label, _unit in SIGNAL_PANELS if cfg.promql.query(signal) is None]


def dashboard_json(cfg: Config, *, title: str = "", window: str = "$__rate_interval",
                   watch: bool = False) -> dict[str, Any]:
    """The Grafana dashboard (a JSON-able dict) for ``cfg``; ``watch``: with the ``obskit watch`` row."""
    from grafana_foundation_sdk.builders.dashboard import Dashboard, DatasourceVariable, Row
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    name = title or f"{cfg.project.name} — obskit"
    board = (Dashboard(name).uid(_uid(cfg.project.name)).tags(["obskit", "generated"]).timezone("utc")
             .time("now-24h", "now").refresh("1m")
             .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus")))
    signals = []
    budget = f"{1 - cfg.slo.availability:.6g}"
    for signal, label, unit in SIGNAL_PANELS:
        if cfg.promql.query(signal) is None:
            continue
        expr = cfg.promql.render(signal, by=(), window=window, budget=budget)
        threshold = (cfg.slo.latency_ms if signal == f"latency_p{cfg.slo.latency_quantile * 100:g}_ms"
                     else round(1 - cfg.slo.availability, 12) if signal == "error_rate" else None)
        signals.append(_panel(label, expr, unit, threshold, ""))
    if signals:
        board = board.with_row(Row("Serving signals"))
        for p in signals:
            board = board.with_panel(p)
    if watch:  # the signals obskit computes, served by `obskit watch --metrics-port`
        board = board.with_row(Row("obskit watch"))
        for expr, label, unit, legend in WATCH_PANELS:
            board = board.with_panel(_panel(label, expr, unit, None, legend))
    if cfg.panels:
        board = board.with_row(Row("Panels"))
        for panel in cfg.panels:
            board = board.with_panel(_panel(panel.title, panel.query, panel.unit, panel.threshold, panel.legend))
    data: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True, indent=2).encode(board.build()))
    return data


def load_dashboard(data: dict[str, Any]) -> Any:
    """Read a dashboard JSON back into Grafana's model (``grafana_foundation_sdk``)."""
    from grafana_foundation_sdk.models.dashboard import Dashboard

    return Dashboard.from_json(data)


def write_dashboard(cfg: Config, path: str | Path, **options: Any) -> dict[str, Any]:
    """Write :func:`dashboard_json` to ``path`` (atomically); returns the dashboard."""
    from obskit._atomic import atomic_write_text

    data = dashboard_json(cfg, **options)
    atomic_write_text(Path(path), json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return data
