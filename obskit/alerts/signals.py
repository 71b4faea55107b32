"""The signal registry: what an alert rule's ``signal`` names, and where its values come from.

A signal is **a column of a result frame**. The alert engine does not compute analyses; it
is given frames that were already computed (``evaluate(rules, frames)``), keyed by *frame
kind*, and each signal says which frame kind it reads, which column, how rows are combined
and which labels it carries:

=========================  ==================  =========================================  ==========
signal                     frame kind          value                                      PromQL [*]_
=========================  ==================  =========================================  ==========
``error_rate``             ``window_stats``    ``errors / requests`` (0..1)               yes
``burn_rate``              ``window_stats``    ``error_rate / (1 - objective)``           yes
``request_rate``           ``window_stats``    ``rps`` (requests/s)                       yes
``latency_p50_ms`` ...     ``window_stats``    ``p50_ms``, ``p90_ms``, ``p95_ms``,        yes
``latency_p99_ms``                             ``p99_ms`` (request-weighted when rolled)
``drift_statistic``        ``drift_over_time`` ``statistic``, per ``feature``             no
``kl_divergence``          ``drift_over_time`` ``statistic`` where ``method == "kl_div"``  no
``confident_rate``         ``confidence``      ``confident / ok`` (0..1)                  no
``correction_rate``        ``confidence``      ``corrected / confident`` (0..1)           no
``gpu_memory_used_share``  ``gpu``             ``memory_used_mib / memory_total_mib``     yes
``gpu_utilization_pct``    ``gpu``             ``utilization_pct`` (0..100)               yes
=========================  ==================  =========================================  ==========

.. [*] In the Triton preset; :mod:`obskit.promql_map` holds the PromQL of each signal and
   the config's ``[promql]`` table changes it for other serving stacks.

Frame kinds:

``window_stats``
    :func:`obskit.analyze.serving.window_stats` (``window_start``, optional ``by``
    columns such as ``model_version``, ``requests``, ``errors``, ``rps``, ``pXX_ms``).
    Compute it with ``every`` no longer than the rules' windows (``"1m"`` is a good
    default) and with ``by`` covering the rules' ``by`` columns.
``drift_over_time``
    :func:`obskit.analyze.drift.drift_over_time` (``window_start``, ``column`` -> label
    ``feature``, ``method``, ``statistic``). ``kl_divergence`` needs it computed with
    ``method="kl_div"``.
``business``
    :func:`obskit.analyze.business.business_metrics` (``window_start``, ``answered``,
    ``confident``, ``corrected_confident`` counts and their rates).
``gpu``
    The canonical ``gpu`` frame (``timestamp``, ``gpu``, ``uuid``, ``memory_used_mib``,
    ``memory_total_mib``, ``utilization_pct``), raw samples: no pre-aggregation needed.
``host``
    Host samples (``timestamp``, ``host``, ``cpu_utilization_pct``, ``memory_used_share``) a
    watcher takes from the local host or node_exporter (:mod:`obskit.load.host`).

How values are combined (``agg``), both across the rows of one evaluation time that fall
into the same series (e.g. versions summed away when ``by`` is empty) and across the
rows inside a rule's ``window``: ``ratio`` sums the numerator and denominator columns and
divides (exact for rates); ``mean`` averages, weighted by ``weight`` when set;
``max``/``min`` take the extreme. Quantiles cannot be merged exactly: a ``p99`` rolled
over several windows (or summed over versions) is the request-weighted mean of the
windows' p99, a smoothed estimate. The worst single window is too noisy at low traffic
(one slow request decides a 1-minute p99), and the mean stays close to the true p99 when
traffic is steady. For the exact value compute ``window_stats`` with ``every`` equal to
the rule's window.

A frame given under the *signal's own name* (``frames["error_rate"]``) is used as is:
``window_start``, label columns and a ``value`` column. Custom signals can be added by
passing a registry (a mapping name -> :class:`Signal`) to ``parse_rules`` and
``evaluate``; :func:`with_signals` builds one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["SIGNALS", "Signal", "known_signals", "served_labels", "unbacktested", "with_signals"]

Agg = Literal["ratio", "mean", "max", "min", "last"]

@dataclass(frozen=True)
class Signal:
    """How to read one signal from a result frame, and its PromQL equivalent if any.

    Attributes
    ----------
    name
        Registry key, used in rules as ``signal = "<name>"``.
    frame
        Frame kind, the key of the frame in ``evaluate(frames=...)``.
    column
        Value column (reported in messages; used directly by ``mean``/``max``/...).
    description
        One line, with the unit.
    agg
        ``ratio``, ``mean``, ``max``, ``min`` or ``last`` (see the module doc).
    numerator, denominator
        Columns summed by ``ratio``. When the frame lacks them, ``column`` is averaged.
    time
        Time column of the frame.
    labels
        Labels every series of this signal carries (after ``rename``), e.g. ``feature``.
    rename
        Frame column -> label name (``{"column": "feature"}``).
    where
        Equality filters applied to the frame first (``{"method": "kl_div"}``).
    burn
        The value is divided by the error budget ``1 - objective`` of the rule.
    weight
        With ``agg="mean"``: a column to weight the mean by (``requests``), when the frame
        has it.
    """

    name: str
    frame: str
    column: str
    description: str
    agg: Agg = "mean"
    numerator: str | None = None
    denominator: str | None = None
    time: str = "window_start"
    labels: tuple[str, ...] = ()
    rename: Mapping[str, str] = field(default_factory=dict)
    where: Mapping[str, str] = field(default_factory=dict)
    burn: bool = False
    weight: str | None = None


def _derived(name: str, description: str, labels: tuple[str, ...] = (), agg: Agg = "last") -> Signal:
    return Signal(name, name, "value", description, agg=agg, time="timestamp", labels=labels)


def _latency(q: str) -> Signal:
    return Signal(
        f"latency_p{q}_ms", "window_stats", f"p{q}_ms",
        f"p{q} request latency (ms); rolled: request-weighted mean of the windows' p{q}",
        agg="mean", weight="requests",
    )


_ALL: tuple[Signal, ...] = (
    Signal("error_rate", "window_stats", "error_rate", "share of failed requests (0..1)", agg="ratio",
           numerator="errors", denominator="requests"),
    Signal("burn_rate", "window_stats", "error_rate",
           "error-budget burn rate: error_rate / (1 - objective); 1 spends the budget exactly",
           agg="ratio", numerator="errors", denominator="requests", burn=True),
    Signal("request_rate", "window_stats", "rps", "requests per second", agg="mean"),
    _latency("50"), _latency("90"), _latency("95"), _latency("99"),
    Signal("drift_statistic", "drift_over_time", "statistic",
           "drift test statistic per feature (the test's own scale)", agg="max",
           labels=("feature",), rename={"column": "feature"}),
    Signal("kl_divergence", "drift_over_time", "statistic", "KL divergence per feature (nats), method kl_div",
           agg="max", labels=("feature",), rename={"column": "feature"}, where={"method": "kl_div"}),
    Signal("confident_rate", "business", "confident_rate",
           "share of successful predictions at or above the confidence threshold (0..1)",
           agg="ratio", numerator="confident", denominator="answered"),
    Signal("correction_rate", "business", "correction_rate",
           "share of confident predictions that users corrected (0..1)",
           agg="ratio", numerator="corrected_confident", denominator="confident"),
    Signal("slow_request_share", "latency_slo", "slow_share",
           "share of successful requests slower than the latency SLO (0..1); above 1 - q means the "
           "q-quantile of the window breaks the SLO (e.g. > 0.01: p99 > SLO)",
           agg="ratio", numerator="slow", denominator="ok"),
    Signal("version_latency_ratio", "versions", "ratio",
           "a version's latency quantile (p50, p95, p99) / the other versions' in the same window; the tail "
           "ratios are 1 unless a binomial test is clear", agg="mean", weight="requests",
           labels=("model_version", "quantile")),
    Signal("gpu_memory_used_share", "gpu", "memory_used_mib", "GPU memory used / total (0..1)", agg="ratio",
           numerator="memory_used_mib", denominator="memory_total_mib", time="timestamp"),
    Signal("gpu_utilization_pct", "gpu", "utilization_pct", "GPU utilization (%)", agg="mean", time="timestamp"),
    Signal("gpu_temperature_c", "gpu", "temperature_c", "hottest GPU core temperature (°C)", agg="max",
           time="timestamp"),
    Signal("gpu_power_share", "gpu", "power_w", "GPU power draw / power limit (0..1)", agg="ratio",
           numerator="power_w", denominator="power_limit_w", time="timestamp"),
    Signal("host_cpu_utilization_pct", "host", "cpu_utilization_pct", "host CPU utilization (%, all cores)",
           agg="mean", time="timestamp"),
    Signal("host_memory_used_share", "host", "memory_used_share", "host memory in use, 1 - available / total (0..1)",
           agg="max", time="timestamp"),
    # derived signal frames (obskit.alerts.baselines, model_signals, hardware): timestamp, labels, value
    _derived("traffic_ratio", "requests in the last 3/10/30 min / the hour before (1 = normal; only clear changes)"),
    _derived("latency_ratio", "latency quantile of the last 400 (p50) or 1000 (p99) answers / its trailing-hour median",
             ("quantile",)),
    _derived("error_excess", "errors / what the trailing 3 h error rate predicts (1 = normal; only clear excess)",
             ("model_version",)),
    _derived("class_mix_shift", "total-variation distance of the recent predicted-class mix (0..1)", ("against",)),
    _derived("class_takeover", "a class's recent share of answers / its reference share", ("class",)),
    _derived("version_class_mix", "total-variation distance of a version's last 500 answers' class mix to the "
             "reference's (0..1)", ("model_version",)),
    _derived("unseen_class_share", "share of a version's last 500 answers whose class the reference never had",
             ("model_version",)),
    _derived("missing_class_share", "reference share of the common classes a version's last 500 answers never "
             "gave", ("model_version",)),
    _derived("version_error_ratio", "a version's error rate over 15 min / the other versions' (1 unless clear)",
             ("model_version",)),
    _derived("confidence_shift", "KS distance of recent confidences to the reference's (0..1)", ("against",)),
    _derived("feature_shift", "population stability index of a feature's last 1000 values vs the reference",
             ("feature",)),
    _derived("feature_null_share", "share of a feature's last 1000 values that are missing, minus the "
             "reference's (0 = as in training)", ("feature",)),
    _derived("label_arrival", "share of answers corrected within 15 min, recent / trailing (1 = normal)"),
    _derived("gpu_sm_clock_ratio", "SM clock / its running maximum on busy samples (1 = full speed)",
             ("host", "gpu"), agg="mean"),
    _derived("gpu_memory_growth", "trailing 30 min slope of GPU memory used, share of total per hour",
             ("host", "gpu")),
    _derived("panel", "a [[panels]] query's series, in its own unit (pick one with match = {panel = ...})",
             ("panel", "series"), agg="mean"),
)

#: The built-in registry: signal name -> :class:`Signal`.
SIGNALS: Mapping[str, Signal] = {s.name: s for s in _ALL}


#: The ``window_stats`` columns obskit also counts per model version (``window_stats_by_version``).
_PER_VERSION = frozenset({"error_rate", "rps", "errors", "requests"})


def served_labels(sig: Signal) -> tuple[str, ...] | None:
    """The labels a rule may split ``sig`` by when obskit builds its frame from request logs.

    ``window_stats`` counts (error rate, burn rate, request rate) are kept per model version
    too; its latency quantiles, ``latency_slo`` and ``business`` are the whole fleet's. None:
    the frame carries its source's own columns (GPU traces, host, Prometheus panels, drift),
    so any of them may be a label.

    >>> served_labels(SIGNALS["error_rate"]), served_labels(SIGNALS["latency_p99_ms"])
    (('model_version',), ())
    >>> served_labels(SIGNALS["gpu_utilization_pct"]) is None
    True
    """
    if sig.frame == "window_stats":
        counts = all(c in _PER_VERSION for c in (sig.column, sig.numerator, sig.denominator) if c)
        return (*sig.labels, "model_version") if counts else sig.labels
    if sig.frame in ("latency_slo", "business"):
        return sig.labels
    return None


def unbacktested(rules: Iterable[Any]) -> list[str]:
    """One line per rule whose ``by`` the frames obskit builds from request logs cannot split.

    Such a rule still exports (Prometheus' series carry the label), but the report's backtest
    skips it; ``obskit alerts check`` says so.

    >>> from obskit.alerts.rules import parse_rules
    >>> unbacktested(parse_rules([{"name": "p99", "signal": "latency_p99_ms", "comparison": ">",
    ...                            "threshold": 100, "by": ["model_version"]}]))  # doctest: +ELLIPSIS
    ["p99: by 'model_version' is not backtested: latency_p99_ms is computed for the whole fleet..."]
    """
    out = []
    for rule in rules:
        sig = SIGNALS.get(rule.signal)
        served = None if sig is None else served_labels(sig)
        extra = [b for b in rule.by if served is not None and b not in served]
        if extra:
            out.append(f"{rule.name}: by {', '.join(repr(b) for b in extra)} is not backtested: {rule.signal} is "
                       "computed for the whole fleet from the request logs (error_rate, burn_rate and request_rate "
                       "also per model_version); Prometheus evaluates the exported rule")
    return out


def known_signals(registry: Mapping[str, Signal] | None = None) -> str:
    """The registry's names, comma-separated, for error messages."""
    return ", ".join(sorted(SIGNALS if registry is None else registry))


def with_signals(*extra: Signal, base: Mapping[str, Signal] | None = None) -> dict[str, Signal]:
    """A registry: ``base`` (default :data:`SIGNALS`) plus/overridden by ``extra``."""
    out = dict(SIGNALS if base is None else base)
    out.update({s.name: s for s in extra})
    return out

