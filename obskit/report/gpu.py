"""The GPU report's sections: utilization over time, capacity and cost, and Triton's serving view.

Examples
--------
>>> from obskit.report.section import open_report
>>> rep = open_report("data/samples/obskit.toml")  # doctest: +SKIP
>>> utilization(rep).status  # doctest: +SKIP
'warning'
"""

from __future__ import annotations

import polars as pl

from obskit import charts
from obskit.errors import AnalysisError
from obskit.report.section import ReportContext, Section

__all__ = [
    "capacity",
    "kernels",
    "no_gpu_reason",
    "processes",
    "serving",
    "utilization",
    "utilization_charts",
]


def no_gpu_reason(rep: ReportContext) -> str:
    """Why the period has no GPU samples (empty string when it has some)."""
    if rep.gpu is not None:
        return ""
    if not rep.config.sources_for("gpu"):
        return "no GPU trace configured (nvidia_smi, dcgm or dmon source)"
    if rep.session.gpu is None:
        return "the GPU trace could not be loaded (see the problems above)"
    return "the GPU trace has no sample in this period"


def utilization_charts(sec: Section, frame: pl.DataFrame, window: str) -> pl.DataFrame:
    """Add the utilization and memory charts of ``frame`` to ``sec``; returns the per-window stats.

    One GPU: mean and max lines. Several: one line per device (named ``host · gpu N · model``).
    """
    from obskit.analyze.gpu import device_names, gpu_stats

    g = gpu_stats(frame, every=window)
    sec.keep(stats=g)
    keys: list[str] = [c for c in ("host", "gpu") if c in g.columns]
    if keys and g.select(keys).n_unique() > 1:
        named = g.join(device_names(frame, keys), on=keys, how="left")
        sec.chart(charts.lines_chart(named, ["util_mean_pct"], color_by="device", title="GPU utilization (mean)",
                                     y_title="%", thresholds={"80% target": 80.0}))
        sec.chart(charts.lines_chart(named, ["memory_share_max"], color_by="device", title="GPU memory used (max)",
                                     y_title="share", y_format="%", thresholds={"pressure": 0.9}))
        return g
    sec.chart(charts.lines_chart(g, ["util_mean_pct", "util_max_pct"], title="GPU utilization", y_title="%",
                                 thresholds={"80% target": 80.0}))
    sec.chart(charts.lines_chart(g, ["memory_share_mean", "memory_share_max"], title="GPU memory used",
                                 y_title="share", y_format="%", thresholds={"pressure": 0.9}))
    return g


def utilization(rep: ReportContext) -> Section:
    """Utilization, memory, power and temperature per window; idle, saturated and memory-pressure periods."""
    from obskit.analyze.gpu import idle_periods, memory_pressure, saturated_periods

    sec = Section("Utilization and memory")
    frame = rep.gpu
    if frame is None:
        reason = no_gpu_reason(rep)
        return rep.record(sec.note(f"No GPU section: {reason}.", kind="warning").skip(reason))
    g = utilization_charts(sec, frame, rep.window)
    for cols, title, unit in ((["power_mean_w"], "Power", "W"),
                              (["temperature_mean_c", "temperature_max_c"], "Temperature", "°C")):
        present = [c for c in cols if c in g.columns and g[c].null_count() < g.height]
        if present:
            sec.chart(charts.lines_chart(g, present, title=title, y_title=unit))
    pressure = memory_pressure(frame)
    sec.table(idle_periods(frame), caption="Idle periods (< 5% for >= 10 min)", name="idle")
    sec.table(saturated_periods(frame), caption="Saturated periods (> 90% for >= 5 min)", name="saturated")
    sec.table(pressure, caption="Memory-pressure episodes", name="pressure")
    rep.figures["gpu_memory_pressure_episodes"] = pressure.height
    if pressure.height:
        sec.warn(f"{pressure.height} memory-pressure episode(s)")
    return rep.record(sec)


def capacity(rep: ReportContext) -> Section:
    """Replicas needed at the peak, energy and cost per 1,000 inferences."""
    from obskit.analyze.capacity import replicas_needed
    from obskit.analyze.cost import cost_per_1k
    from obskit.analyze.gpu import energy_per_1k_inferences

    sec = Section("Capacity, energy and cost")
    frame, requests = rep.gpu, rep.requests
    if frame is None or requests is None:
        reason = no_gpu_reason(rep) or "no request logs for this period (the load side of the fit)"
        return rep.record(sec.skip(reason))
    price = float(rep.params.get("gpu_hour_price", 1.2))
    for what, compute in (
        ("capacity advice", lambda: sec.note(replicas_needed(requests, frame).explanation)),
        ("energy", lambda: sec.table(energy_per_1k_inferences(frame, requests, every="6h"),
                                     caption="Energy per 1,000 inferences", name="energy")),
        ("cost", lambda: sec.table(cost_per_1k(frame, requests, price_per_gpu_hour=price, every="6h"),
                                   caption=f"Cost per 1,000 inferences at ${price}/GPU-hour", name="cost")),
    ):
        try:
            compute()
        except AnalysisError as exc:
            sec.note(f"No {what}: {exc}")
    return rep.record(sec)


def serving(rep: ReportContext) -> Section:
    """Triton's time per request split into queueing and compute, from its cumulative counters."""
    from obskit.analyze.latency import triton_latency_breakdown

    sec = Section("Serving-side view (Triton)")
    metrics = rep.session.metrics
    if metrics is None or not metrics.height:
        return rep.record(sec.skip("no Prometheus metrics configured or loaded"))
    try:
        bd = triton_latency_breakdown(metrics)
    except AnalysisError as exc:
        return rep.record(sec.note(f"No Triton breakdown: {exc}.").skip(str(exc)))
    cols = [c for c in ("queue_ms", "compute_ms", "other_ms") if c in bd.columns]
    if not bd.height or not cols:
        return rep.record(sec.skip("the Triton counters have no increase in this period"))
    weighted = [(pl.col(c) * pl.col("requests")).sum() / pl.col("requests").sum() for c in cols]
    per_window = bd.group_by("window_start").agg(
        *[w.alias(c) for w, c in zip(weighted, cols, strict=True)]).sort("window_start")
    sec.keep(breakdown=bd).chart(charts.lines_chart(per_window, cols, title="Triton: time per request by phase",
                                                    y_title="ms"))
    return rep.record(sec)


def processes(rep: ReportContext) -> Section:
    """Per-process GPU memory and SM use (pmon or ``--query-compute-apps`` captures)."""
    from obskit.analyze.gpu import process_memory

    sec = Section("Processes")
    if not rep.config.sources_for("gpu_processes"):
        return rep.record(sec.skip("no per-process capture configured (pmon or compute_apps source)"))
    frame = rep.session.gpu_processes
    if frame is None or not frame.height:
        reason = ("the per-process capture could not be loaded (see the problems above)" if frame is None
                  else "the per-process capture has no sample in this period")
        return rep.record(sec.note(f"No process table: {reason}.", kind="warning").skip(reason))
    table = process_memory(frame)
    sec.table(table, caption="GPU processes by peak device memory", name="processes")
    rep.figures["gpu_processes"] = table.height
    return rep.record(sec)


def kernels(rep: ReportContext, *, top: int = 15) -> Section:
    """Where GPU time went in profiler traces: the top kernels, their share, time per stream."""
    from obskit.analyze.kernels import kernels_per_stream, top_kernels

    sec = Section("Kernels")
    if not rep.config.sources_for("kernels"):
        return rep.record(sec.skip("no profiler trace configured (torch_trace source)"))
    frame = rep.session.kernels
    if frame is None or not frame.height:
        reason = "the profiler trace could not be loaded (see the problems above)" if frame is None else \
            "the profiler trace has no event"
        return rep.record(sec.note(f"No kernel table: {reason}.", kind="warning").skip(reason))
    topk = top_kernels(frame, n=top)
    if not topk.height:
        return rep.record(sec.note("The traces hold no GPU kernel (a CPU-only profile?).").skip(
            "no GPU kernel in the traces"))
    sec.table(topk, formats={"share": "{:.1%}"}, caption=f"Top {top} kernels by total GPU time", name="top")
    sec.table(kernels_per_stream(frame), formats={"share": "{:.1%}"}, caption="GPU time per device and stream",
              name="streams")
    rep.figures["kernel_top"] = topk["name"][0]
    return rep.record(sec)
