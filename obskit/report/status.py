"""A report run's status, from what was checked: never "ok" for "nothing was there to check".

Flags, most serious first (the status is the first that applies):

``degraded``
    A configured source failed (missing file, bad data, unreachable server), has no row in the
    period (a GPU trace of another day; :meth:`obskit.session.Session.check_periods`), or
    loaded with figures that cannot be right (a median latency that is implausible for its
    ``latency_unit``, a feature the training set lacks or missing in every request): every
    problem is listed in ``summary.json``.
``no_data``
    The period has no request although request logs are configured (every row rejected, a
    window without traffic, a model that matches nothing), or no section had anything to show.
``slo_breached``
    Over the period, the latency quantile is above the latency SLO or the success rate is
    below the availability SLO — whether or not an alert rule says so.
``alerting``
    An alert rule fired.
``drift``
    A section found drift against the training set (a material shift of a feature, of the
    predictions, or jointly).
``warning``
    A section found something else that needs a look (a GPU memory-pressure episode, a slower
    canary, a data-quality violation, a reference too small for a drift rule...).
``ok``
    Checked, and none of the above.

Examples
--------
>>> slo_breaches(latency_q=0.99, latency_ms=100.0, observed_ms=134.0, availability=0.99, success=0.995)
['latency p99 134 ms > SLO 100 ms']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from obskit.report.run import Run

__all__ = ["ORDER", "RunStatus", "run_status", "slo_breaches"]

ORDER = ("degraded", "no_data", "slo_breached", "alerting", "drift", "warning")


@dataclass(frozen=True)
class RunStatus:
    """The status, every flag that applies, and why."""

    status: str
    flags: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default_factory=tuple)


def slo_breaches(*, latency_q: float, latency_ms: float, observed_ms: float | None, availability: float,
                 success: float | None) -> list[str]:
    """The SLOs the period's figures break, as sentences."""
    out = []
    if observed_ms is not None and observed_ms > latency_ms:
        out.append(f"latency p{latency_q * 100:g} {observed_ms:.4g} ms > SLO {latency_ms:g} ms")
    if success is not None and success < availability:
        out.append(f"success rate {success:.3%} < SLO {availability:.3%}")
    return out


def _check_unit_at_scale(rep: Run) -> None:
    """At scale the rows are never loaded: the latency unit is checked on the sketch's median (once)."""
    from obskit.load.logs import median_unit_warning
    from obskit.problems import Problem
    from obskit.report.state import rollup

    sources = rep.config.sources_for("requests")
    if len(sources) != 1:
        return
    src = sources[0]
    sketch = rollup(rep).state.latency.sketch()
    why = median_unit_warning(sketch.quantile(0.5), sketch.count, str(src.get("latency_unit") or "ms"),
                              key=f"sources.{src.name}.latency_unit") if sketch.count else None
    problem = Problem(src.name, why) if why else None
    if problem is not None and problem not in rep.session.problems:
        rep.session.problems.append(problem)


def run_status(rep: Run) -> RunStatus:
    """The status of a report run from its session, figures and sections."""
    flags: list[str] = []
    reasons: list[str] = []
    session = rep.session
    if rep.scale is not None and rep.figures.get("requests"):
        _check_unit_at_scale(rep)
    if session.problems:
        flags.append("degraded")
        reasons += [f"{p.source}: {p.reason}" for p in session.problems]
    requests = rep.requests
    if rep.config.sources_for("requests") and session.requests is not None and requests is None:
        flags.append("no_data")
        rejected = session.quarantine.count
        reasons.append("no request in this period" + (f" ({rejected:,} rows rejected)" if rejected else ""))
    elif rep.sections and all(s.status == "skipped" for s in rep.sections) and "degraded" not in flags:
        flags.append("no_data")
        reasons.append("no section had data to show")
    if rep.scale is not None:
        from obskit.report.state import rollup

        figures = rep.figures
        if not figures.get("requests"):
            flags.append("no_data")
            reasons.append("no request in this period (request files read at scale)")
        else:
            slo = rep.config.slo
            sketch = rollup(rep).state.latency.sketch()
            breaches = slo_breaches(latency_q=slo.latency_quantile, latency_ms=slo.latency_ms,
                                    observed_ms=sketch.quantile(slo.latency_quantile) if sketch.count else None,
                                    availability=slo.availability, success=1 - figures["error_rate"])
            if breaches:
                flags.append("slo_breached")
                reasons += breaches
    if requests is not None and requests.height:
        slo = rep.config.slo
        lat = requests["latency_ms"].drop_nans().quantile(slo.latency_quantile, "linear")
        success = int((requests["status"].cast(pl.String) == "ok").sum()) / requests.height
        breaches = slo_breaches(latency_q=slo.latency_quantile, latency_ms=slo.latency_ms,
                                observed_ms=float(lat) if isinstance(lat, (int, float)) else None,
                                availability=slo.availability, success=success)
        if breaches:
            flags.append("slo_breached")
            reasons += breaches
    run = session.evaluated_alerts()  # only a report that shows alerts evaluates (and notifies) them
    if run is not None and run.fired.height:
        flags.append("alerting")
        reasons.append(f"{run.fired.height} alert(s) fired")
    for sec in rep.sections:  # a warning on the page is never an "ok" run
        for flag in sorted(sec.flags & {"drift", "warning"}) if sec.status == "warning" else ():
            flags.append(flag)
            reasons.append(f"{sec.title}: {sec.flag_reasons[flag]}")
    ordered = tuple(f for f in ORDER if f in flags)
    return RunStatus(ordered[0] if ordered else "ok", ordered, tuple(reasons))
