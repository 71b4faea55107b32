"""The canary report's sections: rollouts, traffic and latency ratio, and the verdict.

Examples
--------
>>> from obskit.report.section import open_report
>>> rep = open_report("data/samples/obskit.toml")  # doctest: +SKIP
>>> pair(rep)  # doctest: +SKIP
('v1.4.0', 'v1.5.0-rc1')
"""

from __future__ import annotations

import polars as pl

from obskit import charts
from obskit.report.health import period_rows
from obskit.report.section import ReportContext, Section
from obskit.scale.sketches import DEFAULT_ALPHA

__all__ = ["pair", "rollouts", "traffic", "verdict"]


def pair(rep: ReportContext) -> tuple[str, str]:
    """The (baseline, canary) versions: the ``baseline`` / ``canary`` parameters, else the two busiest.

    The canary is an empty string when only one version served.
    """
    requests = period_rows(rep)  # every row: the lazy scan at scale
    if requests is None:
        return str(rep.params.get("baseline") or ""), str(rep.params.get("canary") or "")
    busiest = _busiest(rep, requests)
    base = str(rep.params.get("baseline") or (busiest[0] if busiest else ""))
    others = [v for v in busiest if v != base]
    new = str(rep.params.get("canary") or (others[0] if others else ""))
    return base, new


def _busiest(rep: ReportContext, requests: pl.DataFrame | pl.LazyFrame) -> list[str]:
    """The period's versions, busiest first (counted once per run)."""
    from obskit.analyze.versions import busiest_versions

    frame: pl.DataFrame = rep.cached("busiest_versions", lambda: busiest_versions(requests))
    return [str(v) for v in frame["model_version"].to_list()]


def rollouts(rep: ReportContext) -> Section:
    """Rollouts and rollbacks: when each version's share of traffic changed."""
    from obskit.analyze.versions import rollout_episodes

    sec = Section("Rollouts")
    requests = period_rows(rep)  # counts per window and version: every row, streamed at scale
    if requests is None:
        return rep.record(sec.skip("no request logs for this period"))
    return rep.record(sec.table(rollout_episodes(requests, every=rep.window), caption="Rollouts and rollbacks",
                                name="episodes"))


def traffic(rep: ReportContext) -> Section:
    """Each version's share of traffic, and its median latency relative to the rest of the same window."""
    from obskit.alerts.version_sketch import version_latency_tail_scan
    from obskit.analyze.versions import version_latency_ratio, version_traffic

    sec = Section("Traffic and latency ratio")
    requests = period_rows(rep)
    if requests is None:
        return rep.record(sec.skip("no request logs for this period"))
    if not pair(rep)[1]:
        return rep.record(sec.skip("one version served this period"))
    sec.chart(charts.lines_chart(version_traffic(requests, every=rep.window), ["share"], color_by="model_version",
                                 title="Traffic share", y_format="%"))
    if isinstance(requests, pl.LazyFrame):  # every request, each version's p50 from its latency sketch
        ratio = version_latency_tail_scan(requests, every=rep.window, quantiles=(0.5,))
        sec.note(f"Traffic shares count every request. Each window's median latencies come from sketches of every "
                 f"successful request: within {DEFAULT_ALPHA:.1%} of the exact ones, so each ratio is within about "
                 f"{2 * DEFAULT_ALPHA:.0%}.")
    else:
        ratio = version_latency_ratio(requests, every=rep.window)
    sec.chart(charts.lines_chart(ratio, ["ratio"], color_by="model_version", title="p50 latency vs the other versions",
                                 thresholds={"no difference": 1.0}))
    return rep.record(sec)


def verdict(rep: ReportContext) -> Section:
    """The canary against the baseline over the windows both served, with a plain verdict.

    Every request of the overlap is compared, in memory or streamed at scale (where the
    latency quantiles are within the sketch bound, which the section says).
    """
    from obskit.analyze.canary import canary_comparison

    sec = Section("Verdict")
    requests = period_rows(rep)
    if requests is None:
        return rep.record(sec.skip("no request logs for this period"))
    base, new = pair(rep)
    if not new:
        return rep.record(sec.note("Only one version served in this period: nothing to compare.")
                          .skip("one version served this period"))
    served = set(_busiest(rep, requests))
    unknown = [v for v in (base, new) if v not in served]
    if unknown:
        reason = f"version(s) not served in this period: {', '.join(unknown)}"
        return rep.record(sec.note(f"Nothing to compare: {reason}.", kind="warning").skip(reason))
    cmp = canary_comparison(requests, base, new, confidence_threshold=rep.config.business.confidence_threshold)
    if cmp.bound:
        sec.note(cmp.bound)
    worse = cmp.slower or cmp.more_errors  # slower, or failing more often: either needs a look
    sec.note(cmp.verdict, kind="warning" if worse else "info").table(cmp.table, name="comparison")
    rep.figures.update({"baseline": base, "canary": new, "canary_verdict": cmp.verdict})
    if worse:
        sec.warn(cmp.verdict)
    return rep.record(sec)
