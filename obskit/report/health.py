"""The health report's sections: one function per notebook cell, each returning a :class:`Section`.

Every section works on any set of sources: without its input it is *skipped* with the
reason (no GPU trace, no reference set, one model version...), never an error and never "ok".

Examples
--------
>>> from obskit.report.section import open_report
>>> rep = open_report("data/samples/obskit.toml")  # doctest: +SKIP
>>> traffic(rep).status  # doctest: +SKIP
'ok'
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from obskit import charts
from obskit.errors import AnalysisError
from obskit.report import scale, state
from obskit.report.budgets import show_budgets
from obskit.report.section import ReportContext, Section

__all__ = [
    "alerts",
    "business",
    "drift",
    "errors",
    "gpu",
    "latency",
    "metrics",
    "period_rows",
    "summary",
    "timeline",
    "traffic",
    "versions",
    "window_stats",
]

NO_REQUESTS = "no request logs for this period"


def _no_requests(rep: ReportContext) -> str:
    if rep.scale is not None:
        return "no request in this period, model and version (request files read at scale)"
    if rep.config.requests is None:
        return "no [sources.requests] in the config"
    if rep.session.requests is None:
        return "the request logs could not be loaded (see the problems above)"
    return "no request matches this period, model and version"


def period_rows(rep: ReportContext, *, feedback: bool = True) -> pl.DataFrame | pl.LazyFrame | None:
    """The period's requests for a section to aggregate: in memory, or at scale the lazy scan of the files.

    A section that needs rows beyond the window state (:mod:`obskit.report.state`) runs the
    same analysis on either (one streaming pass at scale, the corrections joined as the rows
    stream unless ``feedback`` is False), so its figures are the rows' own at any size.
    """
    if rep.scale is not None:
        return rep.session.request_scan(feedback=feedback) if window_stats(rep) is not None else None
    return rep.requests


def window_stats(rep: ReportContext) -> pl.DataFrame | None:
    """Per-window stats of the period's requests (shared by several sections), or None.

    Exact in memory; at scale the counts are exact and the percentiles come from the period's
    rollup of latency sketches, within their stated bound (exact ones would hold every latency).
    """
    from obskit.analyze.serving import window_stats as compute

    if rep.scale is not None:
        return scale.window_stats(rep)
    requests = rep.requests
    if requests is None:
        return None
    stats: pl.DataFrame = rep.cached("window_stats", lambda: compute(requests, every=rep.window))
    return stats


def alerts(rep: ReportContext) -> Section:
    """The config's alert rules backtested over the period: what fired, when, how bad."""
    from obskit import views

    sec = Section("Alerts")
    if rep.scale is not None and not rep.config.alerts:
        return rep.record(sec.note("No [[alerts]] rule in the config: nothing was checked.", kind="warning")
                          .skip("no alert rules"))
    run = rep.session.alerts()
    if run is None:
        return rep.record(sec.note(f"Alerts were not evaluated: {_no_requests(rep)}.", kind="warning")
                          .skip(_no_requests(rep)))
    sec.html(views.alerts_html(run)).keep(fired=run.fired)
    if not run.rules:
        sec.note("No [[alerts]] rule in the config: nothing was checked.", kind="warning").skip("no alert rules")
    elif run.fired.height:
        sec.warn(f"{run.fired.height} alert(s) fired", flag="alerting")
    unusable = [s["rule"] for s in run.skipped if "lacks column" in s["reason"]]
    if unusable:  # (a rule the logs cannot split as its `by` asks: not checked, so never an ok)
        sec.warn(f"{len(unusable)} rule(s) not evaluated on these logs: {', '.join(unusable)}", flag="warning")
    noisy = rule_noise(rep)
    for line in noisy:
        sec.note(line, kind="warning")
    if noisy:
        sec.warn("a drift rule's threshold is within the noise of a small reference", flag="warning")
    return rep.record(sec)


def rule_noise(rep: ReportContext) -> list[str]:
    """Drift rules whose threshold noise alone reaches with this reference: one sentence each (sizes named)."""
    from obskit.alerts.model_signals import feature_shift_noise

    reference = rep.reference
    rules = [r for r in rep.config.alerts if r.signal == "feature_shift" and r.comparison in (">", ">=")]
    if reference is None or not rules:
        return []
    noise = feature_shift_noise(reference, rep.config.features.all)
    out = []
    for rule in rules:
        groups: dict[tuple[int, int, float], list[str]] = {}
        for feat, (rows, bins, floor) in noise.items():
            if rule.match and rule.match.get("feature", feat) != feat:
                continue
            if floor >= rule.threshold:
                groups.setdefault((rows, bins, floor), []).append(feat)
        for (rows, bins, floor), feats in groups.items():
            chi = floor / (1 / 1000 + 1 / rows)
            gap = rule.threshold / chi - 1 / 1000
            need = f"; a reference of {int(1 / gap) + 1:,} rows or more would" if gap > 0 else ""
            out.append(f"{rule.name}: the reference has {rows:,} values of {', '.join(feats)} ({bins} bins): at "
                       f"1,000 requests per window, PSI noise reaches {floor:.3f} (95%), at or above the rule's "
                       f"threshold {rule.threshold:g}, so it cannot tell drift from noise{need}.")
    rep.figures["rule_noise"] = out
    return out


def summary(rep: ReportContext) -> Section:
    """Headline numbers of the period (exact percentiles)."""
    from obskit import views

    sec = Section("Summary")
    if window_stats(rep) is None:
        return rep.record(sec.note(f"No headline numbers: {_no_requests(rep)}.", kind="warning")
                          .skip(_no_requests(rep)))
    if rep.scale is not None:
        sec.note(scale.bound_note(rep))
    return rep.record(sec.html(views.kpi_html(rep.figures)))


def traffic(rep: ReportContext) -> Section:
    """Requests per second in each window."""
    sec = Section("Traffic")
    stats = window_stats(rep)
    if stats is None:
        return rep.record(sec.skip(_no_requests(rep)))
    span = rep.request_span()
    shown = charts.partial_windows(stats, rep.window, *span) if span is not None else stats
    sec.chart(charts.traffic_chart(shown))
    if "partial" in shown.columns and shown["partial"].any():
        sec.note(_partial_note(shown, rep.window))
    return rep.record(sec.keep(stats=stats, traffic=shown))


def _partial_note(shown: pl.DataFrame, window: str) -> str:
    """Which windows the period covers only in part, and how the chart shows them."""
    from obskit.timeutil import parse_duration

    step = parse_duration(window).total_seconds()
    parts = [f"{ws:%H:%M:%S} ({covered:.0f} s of {step:.0f})" for ws, covered in
             shown.filter(pl.col("partial")).select("window_start", "covered_s").iter_rows()]
    return ("Partial window" + ("s" if len(parts) > 1 else "") + ": " + ", ".join(parts) +
            ". The period covers only part of it, so its rate is its requests over the covered seconds "
            "(drawn as a hollow grey point), not a drop in traffic.")


def latency(rep: ReportContext) -> Section:
    """Exact latency percentiles per window, SLO compliance and the error budget left."""
    from obskit.analyze.slo import period_budgets

    sec = Section("Latency and SLOs")
    stats = window_stats(rep)
    if stats is None:
        return rep.record(sec.skip(_no_requests(rep)))
    slo = rep.config.slo
    title = "Latency percentiles (exact, from request logs)"
    if rep.scale is not None:
        sec.note(scale.bound_note(rep))
        title = f"Latency percentiles (sketch, within {state.rollup(rep).state.latency.alpha:.1%})"
    sec.chart(charts.latency_chart(stats, slo_ms=slo.latency_ms, title=title))
    counts = state.window_counts(rep)  # exact counts per window at every size
    lat, avail = counts.slo("latency", slo.latency_quantile), counts.slo("availability", slo.availability)
    return rep.record(show_budgets(sec, period_budgets(lat, avail)))


def errors(rep: ReportContext) -> Section:
    """The error rate per window and the most frequent error messages."""
    from obskit.analyze.errors import top_errors

    sec = Section("Errors")
    stats, requests = window_stats(rep), period_rows(rep, feedback=False)
    if stats is None or requests is None:
        return rep.record(sec.skip(_no_requests(rep)))
    sec.chart(charts.error_rate_chart(stats, threshold=0.01))
    top = top_errors(requests)
    if top.height:
        sec.table(top, formats={"share": "{:.1%}"}, caption="Error messages", name="top_errors")
    else:
        sec.note("No failed request in this period.").keep(top_errors=top)
    return rep.record(sec)


def gpu(rep: ReportContext) -> Section:
    """GPU utilization and memory per window, memory pressure, replicas and energy."""
    from obskit.analyze.capacity import replicas_needed
    from obskit.analyze.gpu import energy_per_1k_inferences, memory_pressure
    from obskit.report.gpu import no_gpu_reason, utilization_charts

    sec = Section("GPU")
    frame = rep.gpu
    if frame is None:
        reason = no_gpu_reason(rep)
        return rep.record(sec.note(f"No GPU section: {reason}.", kind="warning").skip(reason))
    utilization_charts(sec, frame, rep.window)
    pressure = memory_pressure(frame)
    sec.table(pressure, caption="Memory-pressure episodes (>= 90% for >= 2 min)", name="pressure")
    if pressure.height:
        sec.warn(f"{pressure.height} memory-pressure episode(s)")
    requests = period_rows(rep, feedback=False)  # counted per window: the lazy scan at scale
    if requests is not None:
        try:
            sec.note(replicas_needed(requests, frame).explanation)
        except AnalysisError as exc:
            sec.note(f"No capacity advice: {exc}")
        try:
            sec.table(energy_per_1k_inferences(frame, requests, every=None), caption="Energy per 1,000 inferences",
                      name="energy")
        except AnalysisError as exc:
            sec.note(f"No energy figure: {exc}")
    return rep.record(sec)


def drift(rep: ReportContext) -> Section:
    """Each feature's production distribution against the training set, when it started, the worst one."""
    from obskit.analyze.distributions import distributions
    from obskit.report.drift import (
        drift_inputs,
        drift_over_window,
        drift_scale_note,
        feature_drift,
        missing_values,
        ok_scan,
        unchecked_features,
        verdict_of,
        verdict_table,
    )

    sec = Section("Drift against the training set")
    inputs = drift_inputs(rep)  # the same checks and cached drift as the drift report's sections
    if isinstance(inputs, str):
        sec.note(f"No drift check: {inputs}.", kind="warning")
        missing_values(rep, sec)  # a feature missing in every request is still said (and a problem)
        return rep.record(sec.skip(inputs))
    features, reference, ok = inputs
    missing = unchecked_features(rep)
    if missing:
        sec.note(f"Not checked (absent, or only nulls, in the requests or the reference): {', '.join(missing)}.",
                 kind="warning")
    result = feature_drift(rep, features)
    one = verdict_of(rep, features)
    if rep.scale is not None:
        sec.note(drift_scale_note(rep, result))
    sec.note(one.sentence, kind="warning" if one.drifted else "info")
    sec.table(verdict_table(one), caption="Feature drift, whole period (verdict: the one to act on)")
    sec.keep(drift=one.table)
    over_time = drift_over_window(rep, features)  # the drift report's KL per drift window
    if over_time.height:
        sec.chart(charts.heatmap_chart(over_time, title=f"KL divergence per feature and {rep.drift_window} window "
                                                        "(outlined: obskit drift)",
                                       color_title="KL (higher = more drift)"))
    worst = result.sort("effect_size", descending=True, nulls_last=True)["column"][0]
    scan = ok_scan(rep)  # at scale the chart's shares count every successful request
    current = ok if scan is None else scan
    sec.chart(charts.distribution_chart(distributions(reference, current, worst),
                                        title=f"{worst}: training vs production", x_title=worst))
    drifted = list(one.drifted)
    rep.figures["drifted_features"] = drifted
    rep.figures["drift_verdict"] = one.status
    shares = missing_values(rep, sec)
    gaps = [] if shares is None else shares.filter(pl.col("verdict") != "ok")["column"].to_list()
    if drifted:
        sec.warn(f"drifted: {', '.join(drifted)}" + (f"; missing values: {', '.join(gaps)}" if gaps else ""),
                 flag="drift")
    elif gaps:
        sec.warn(f"missing values: {', '.join(gaps)}")
    return rep.record(sec)


def business(rep: ReportContext) -> Section:
    """Confident-prediction rate and correction rate per report window.

    The alert rules read hourly rates (:func:`obskit.alerts.inputs.signal_frames`); the
    chart follows the report window like every other chart, so a 15-minute capture is
    15 points, not one.
    """
    sec = Section("Business signals")
    if window_stats(rep) is None:
        return rep.record(sec.skip(_no_requests(rep)))
    counts = state.window_counts(rep)
    present = counts.state.present
    if "answered" not in present:
        return rep.record(sec.note("No business signals: the requests have no confidence column.", kind="warning")
                          .skip("no confidence column"))
    biz: pl.DataFrame = rep.cached("business", counts.business)  # exact counts of the window state
    sec.keep(business=biz)
    sec.chart(charts.lines_chart(biz, ["confident_rate"], title="Confident predictions", y_format="%"))
    totals = biz.select(pl.col("confident").sum(), pl.col("answered").sum())
    rep.figures["confident_rate"] = totals["confident"][0] / max(totals["answered"][0], 1)
    if "corrected" in present:
        sec.chart(charts.lines_chart(biz, ["correction_rate"], title="Correction rate", y_format="%",
                                     thresholds={"alarm": rep.config.business.correction_rate_max}))
        fixed = biz["corrected_confident"].sum()
        rep.figures["correction_rate"] = fixed / max(totals["confident"][0], 1)
    else:
        rep.figures["correction_rate"] = None
        sec.note("No correction rate: no feedback source ([sources.feedback]) is configured or loaded.",
                 kind="warning")
    return rep.record(sec)


def versions(rep: ReportContext) -> Section:
    """Which versions served when and, with two or more, how the busiest two compare."""
    from obskit.analyze.canary import canary_comparison
    from obskit.analyze.versions import busiest_counted, version_shares

    sec = Section("Versions")
    requests = period_rows(rep)
    if requests is None:
        return rep.record(sec.skip(_no_requests(rep)))
    if "model_version" not in requests.collect_schema().names():
        return rep.record(sec.skip("the requests have no model_version column"))
    counts = state.version_counts(rep)  # requests per window and version, from the window state
    sec.chart(charts.lines_chart(version_shares(counts), ["share"], color_by="model_version",
                                 title="Traffic share per version", y_format="%"))
    busiest = busiest_counted(counts)
    sec.keep(versions=busiest)
    if busiest.height < 2:
        return rep.record(sec.note("One version served this period: nothing to compare."))
    first, second = busiest["model_version"][0], busiest["model_version"][1]
    try:
        cmp = canary_comparison(requests, first, second, confidence_threshold=rep.config.business.confidence_threshold)
    except AnalysisError as exc:  # a switch from one version to the next: nothing side by side
        sec.note(f"{first} and {second} are not compared side by side: {exc.reason}.")
    else:
        if cmp.bound:
            sec.note(cmp.bound)
        sec.note(cmp.verdict).keep(comparison=cmp.table)
        if cmp.slower or cmp.more_errors:  # as the canary report says it: a worse version needs a look
            sec.warn(cmp.verdict)
    return rep.record(sec)


_TIMELINE = {"rps": "req/s", "error_rate": "error rate", "p99_ms": "p99 ms", "gpu_util_pct": "GPU %",
             "gpu_memory_share": "GPU mem", "host_cpu_pct": "host CPU %", "host_memory_share": "host mem",
             "confident_rate": "confident", "correction_rate": "corrections"}


def timeline(rep: ReportContext) -> Section:
    """The main signals of every section on one time axis (panels for the signals that exist)."""
    from obskit.analyze.timeline import timeline_from_windows

    sec = Section("One timeline")
    stats = window_stats(rep)  # exact p99 with the rows held; at scale the sketch's, within its bound
    if stats is None:
        return rep.record(sec.skip(_no_requests(rep)))
    if rep.scale is not None:
        sec.note(scale.bound_note(rep))
    tl = timeline_from_windows(state.timeline_windows(rep, stats), gpu=rep.gpu, every=rep.window, host=rep.host)
    panels = {c: label for c, label in _TIMELINE.items() if c in tl.columns and tl[c].null_count() < tl.height}
    tl, markers, found = _anomaly_markers(tl, panels, stats)
    if found:
        listed = ", ".join(f"{_TIMELINE[c]} at {', '.join(t)}" for c, t in found.items())
        sec.note(f"Anomalies (online detector, red rings): {listed}.")
    rep.figures["timeline_anomalies"] = {c: t for c, t in found.items()}
    sec.keep(timeline=tl).chart(charts.timeline_chart(tl, panels, markers=markers))
    return rep.record(sec)


def _anomaly_markers(tl: pl.DataFrame, panels: Mapping[str, str], stats: pl.DataFrame
                     ) -> tuple[pl.DataFrame, dict[str, str], dict[str, list[str]]]:
    """Mark each panel's anomalous windows: the online detector (1 false alarm in 10,000 windows),
    where the window's requests carry the value (:func:`obskit.analyze.timeline.timeline_anomalies`)."""
    from obskit.analyze.timeline import timeline_anomalies

    tl = timeline_anomalies(tl, list(panels), stats=stats, suffix="_anomaly")
    markers = {col: f"{col}_anomaly" for col in panels}
    found = {col: [f"{t:%H:%M}" for t in tl.filter(pl.col(flag))["window_start"].to_list()]
             for col, flag in markers.items() if tl.get_column(flag).any()}
    return tl, markers, found


def metrics(rep: ReportContext) -> Section:
    """One chart per ``[[panels]]`` entry: the user's own PromQL, from the live server or a saved file."""
    from obskit.panels import panel_series

    sec = Section("Metrics")
    if not rep.config.panels:
        return rep.record(sec.skip("no [[panels]] in the config"))
    listed: list[dict[str, object]] = []
    missing = 0
    for data in rep.session.panels():
        panel = data.panel
        entry: dict[str, object] = {"title": panel.title, "query": panel.query, "unit": panel.unit,
                                    "threshold": panel.threshold, "origin": data.origin}
        if data.frame is None or not data.frame.height:
            missing += 1
            entry["reason"] = data.reason
            sec.note(f"{panel.title}: {data.reason}.", kind="warning")
        else:
            series = panel_series(data.frame, panel.legend).rename({"timestamp": "window_start"})
            entry.update({"series": series["series"].n_unique(), "points": series.height,
                          "last": series.sort("window_start").group_by("series", maintain_order=True)
                          .agg(pl.col("value").last()).to_dicts()})
            thresholds = {"threshold": panel.threshold} if panel.threshold is not None else None
            sec.chart(charts.lines_chart(series, ["value"], color_by="series", title=panel.title,
                                         y_title=panel.unit, thresholds=thresholds))
            sec.frames[panel.title] = series
        listed.append(entry)
    rep.figures["panels"] = listed
    if missing == len(listed):
        sec.skip(f"no panel has data ({missing} configured)")
    elif missing:
        sec.warn(f"{missing} of {len(listed)} panels without data")
    return rep.record(sec)
