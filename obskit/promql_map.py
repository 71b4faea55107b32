"""Where obskit's serving signals live in Prometheus: PromQL per signal, from presets and the config.

A signal (``error_rate``, ``latency_p99_ms``, ``gpu_utilization_pct``...) is computed by
obskit from request logs and GPU traces; a Prometheus server has the same facts under the
serving stack's own metric names. The mapping says, per signal, the PromQL template
(``{by}`` = the ``by`` labels, ``{by_le}`` = ``le`` plus them, ``{window}`` = the range,
``{budget}`` = the SLO's error budget) and how obskit's label names read in Prometheus.
Rule export (``obskit alerts export``) and dashboards (``obskit dashboards export``) use it.

Presets ship for NVIDIA Triton (``triton``: ``nv_inference_*``, its latency histogram and
``nv_gpu_*``) and the DCGM exporter (``dcgm``: ``DCGM_FI_DEV_*``). A config picks presets
and overrides or adds signals::

    [promql]
    preset = ["dcgm"]                      # no default: only the presets named here (or "none")
    [promql.labels]
    model_version = "version"              # obskit label = Prometheus label, for every signal
    [promql.signals.error_rate]
    query = 'sum by ({by}) (rate(http_errors_total[{window}])) / sum by ({by}) (rate(http_requests_total[{window}]))'
    labels = { model_version = "version" }

No preset applies unless the config names it: a config without ``[promql]``, or with only
``[promql.signals]``, maps exactly the signals it lists. Exports skip the other signals (and
say why) rather than render another serving stack's metric names, which would be valid
PromQL that never matches.

Examples
--------
>>> sorted(parse_promql({"signals": {"error_rate": "sum(rate(errs[{window}]))"}}).signals)
['error_rate']
>>> parse_promql(None).signals, parse_promql(None).presets
({}, ())
>>> m = parse_promql({"preset": ["dcgm"], "signals": {"request_rate": "sum by ({by}) (rate(reqs[{window}]))"}})
>>> sorted(m.signals)
['gpu_memory_used_share', 'gpu_utilization_pct', 'request_rate']
>>> m.render("request_rate", by=(), window="5m")
'sum (rate(reqs[5m]))'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PRESETS", "PromqlMapping", "SignalQuery", "parse_promql", "unmapped_reason"]


@dataclass(frozen=True)
class SignalQuery:
    """One signal's PromQL template and obskit label -> Prometheus label names."""

    query: str
    labels: Mapping[str, str] = field(default_factory=dict)


_TRITON_LABELS = {"model": "model", "model_version": "version"}
_TRITON_ERRORS = "sum by ({by}) (rate(nv_inference_request_failure[{window}]))"
_TRITON_TOTAL = (
    "(sum by ({by}) (rate(nv_inference_request_success[{window}]))"
    " + sum by ({by}) (rate(nv_inference_request_failure[{window}])))"
)


def _triton_latency(q: str) -> SignalQuery:
    return SignalQuery(f"1000 * histogram_quantile(0.{q}, sum by ({{by_le}}) "
                       "(rate(inference_request_duration_seconds_bucket[{window}])))", _TRITON_LABELS)


PRESETS: dict[str, dict[str, SignalQuery]] = {
    "triton": {
        "error_rate": SignalQuery(f"{_TRITON_ERRORS} / {_TRITON_TOTAL}", _TRITON_LABELS),
        "burn_rate": SignalQuery(f"({_TRITON_ERRORS} / {_TRITON_TOTAL}) / {{budget}}", _TRITON_LABELS),
        "request_rate": SignalQuery(_TRITON_TOTAL, _TRITON_LABELS),
        **{f"latency_p{q}_ms": _triton_latency(q) for q in ("50", "90", "95", "99")},
        "gpu_memory_used_share": SignalQuery(
            "sum by ({by}) (avg_over_time(nv_gpu_memory_used_bytes[{window}]))"
            " / sum by ({by}) (avg_over_time(nv_gpu_memory_total_bytes[{window}]))", {"uuid": "gpu_uuid"}),
        "gpu_utilization_pct": SignalQuery("100 * avg by ({by}) (avg_over_time(nv_gpu_utilization[{window}]))",
                                           {"uuid": "gpu_uuid"}),
    },
    "dcgm": {
        "gpu_memory_used_share": SignalQuery(
            "sum by ({by}) (avg_over_time(DCGM_FI_DEV_FB_USED[{window}]))"
            " / (sum by ({by}) (avg_over_time(DCGM_FI_DEV_FB_USED[{window}]))"
            " + sum by ({by}) (avg_over_time(DCGM_FI_DEV_FB_FREE[{window}])))",
            {"uuid": "UUID", "gpu": "gpu", "host": "Hostname"}),
        "gpu_utilization_pct": SignalQuery("avg by ({by}) (avg_over_time(DCGM_FI_DEV_GPU_UTIL[{window}]))",
                                           {"uuid": "UUID", "gpu": "gpu", "host": "Hostname"}),
    },
}


@dataclass(frozen=True)
class PromqlMapping:
    """Signal name -> :class:`SignalQuery`; empty by default (no preset is ever implied).

    >>> PromqlMapping.preset("triton").presets, "error_rate" in PromqlMapping().signals
    (('triton',), False)
    """

    signals: Mapping[str, SignalQuery] = field(default_factory=dict)
    presets: tuple[str, ...] = ()

    @classmethod
    def preset(cls, *names: str) -> PromqlMapping:
        """The mapping of the named presets (later ones win), as ``[promql] preset = [...]`` gives.

        Raises
        ------
        KeyError
            An unknown preset name.
        """
        signals: dict[str, SignalQuery] = {}
        for n in names:
            signals.update(PRESETS[n])
        return cls(signals, tuple(names))

    def query(self, signal: str) -> SignalQuery | None:
        """The signal's query, or None when Prometheus has no equivalent in this mapping."""
        return self.signals.get(signal)

    def render(self, signal: str, *, by: Sequence[str], window: str, budget: str = "1") -> str:
        """The PromQL of ``signal`` grouped by Prometheus labels ``by`` over ``window``.

        Raises
        ------
        KeyError
            The signal has no PromQL in this mapping.
        """
        sq = self.signals[signal]
        return (sq.query.format(by=", ".join(by), by_le=", ".join(["le", *by]), window=window, budget=budget)
                .replace(" by () ", " "))


def parse_promql(data: Any, *, fail: Callable[[str, str], Exception] | None = None) -> PromqlMapping:
    """The ``[promql]`` table of a config as a :class:`PromqlMapping`.

    Only the presets the table names apply: None (no ``[promql]``) and a table without
    ``preset`` give no preset, so no signal is ever rendered with a stack's metric names
    the config did not ask for.
    """

    def error(key: str, reason: str) -> Exception:
        return fail(key, reason) if fail is not None else ValueError(f"{key}: {reason}")

    if data is None:
        return PromqlMapping()
    if not isinstance(data, dict):
        raise error("promql", "expected a table")
    unknown = sorted(set(data) - {"preset", "labels", "signals"})
    if unknown:
        raise error("promql", f"unknown key {unknown[0]!r} (allowed: labels, preset, signals)")
    preset = data.get("preset", [])
    names = [preset] if isinstance(preset, str) else preset
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise error("promql.preset", "expected a preset name or a list of them")
    names = [n for n in names if n != "none"]
    for n in names:
        if n not in PRESETS:
            raise error("promql.preset", f"unknown preset {n!r} ({', '.join(sorted(PRESETS))}, none)")
    labels = _labels(data.get("labels", {}), "promql.labels", error)
    signals: dict[str, SignalQuery] = {}
    for n in names:
        signals.update({k: SignalQuery(v.query, {**v.labels, **labels}) for k, v in PRESETS[n].items()})
    from obskit.alerts.signals import SIGNALS

    own = data.get("signals", {})
    if not isinstance(own, dict):
        raise error("promql.signals", "expected a table")
    for name, entry in own.items():
        key = f"promql.signals.{name}"
        if name not in SIGNALS:
            raise error(key, f"unknown signal (known: {', '.join(sorted(SIGNALS))})")
        if isinstance(entry, str):
            entry = {"query": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("query"), str) or not entry["query"].strip():
            raise error(key, "expected a PromQL string or a table with 'query'")
        extra = sorted(set(entry) - {"query", "labels"})
        if extra:
            raise error(key, f"unknown key {extra[0]!r} (allowed: labels, query)")
        _check_template(entry["query"], key, error)
        signals[name] = SignalQuery(entry["query"], {**labels, **_labels(entry.get("labels", {}), key, error)})
    return PromqlMapping(signals, tuple(names))


def _labels(data: Any, key: str, error: Callable[[str, str], Exception]) -> dict[str, str]:
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise error(key, "expected a table of obskit label = Prometheus label")
    return dict(data)


def _check_template(query: str, key: str, error: Callable[[str, str], Exception]) -> None:
    try:
        query.format(by="x", by_le="le, x", window="5m", budget="0.01")
    except (KeyError, IndexError, ValueError) as exc:
        raise error(key, f"bad placeholder in the query ({exc}); use {{by}}, {{by_le}}, {{window}}, {{budget}} "
                         "and double other braces ({{ }})") from None


def unmapped_reason(signal: str, mapping: PromqlMapping) -> str:
    """Why ``signal`` has no PromQL in ``mapping``, with what to add to the config.

    >>> for part in unmapped_reason("latency_p99_ms", PromqlMapping()).split("; "):
    ...     print(part)
    signal 'latency_p99_ms' is not mapped: no [promql.signals.latency_p99_ms] query and no preset named (presets: none
    e.g. [promql] preset = "triton")
    >>> print(unmapped_reason("feature_shift", PromqlMapping.preset("triton")))
    signal 'feature_shift' has no PromQL equivalent (presets: triton)
    """
    presets = ", ".join(mapping.presets) or "none"
    offering = [n for n, table in PRESETS.items() if signal in table]
    if not offering:
        return f"signal {signal!r} has no PromQL equivalent (presets: {presets})"
    hint = " or ".join(f'[promql] preset = "{n}"' for n in offering)
    return (f"signal {signal!r} is not mapped: no [promql.signals.{signal}] query and "
            f"{'no preset named' if not mapping.presets else 'not in the presets named'} "
            f"(presets: {presets}; e.g. {hint})")
