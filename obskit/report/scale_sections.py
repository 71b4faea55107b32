"""The health report's sections at scale: what each shows from the rollup and streaming drift.

:mod:`obskit.report.health` calls these when the run is at scale (see
:mod:`obskit.report.scale`); each says on the page what is exact, bounded or left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from obskit import charts
from obskit.load.request_source import canonical_scan
from obskit.report.scale import NOT_AT_SCALE, rollup
from obskit.report.section import Section

if TYPE_CHECKING:
    from obskit.report.section import ReportContext
    from obskit.scale.rollup import Rollup

__all__ = ["bound_note", "drift", "latency", "summary", "timeline", "top_errors", "versions"]


def bound_note(rep: ReportContext) -> str:
    """The sentence every scale section shows about what is exact and what is bounded."""
    sc = rep.scale
    rows = f"{sc.period_rows:,} request rows" if sc is not None else "the request rows"
    alpha = rollup(rep).state.latency.alpha
    return (f"At scale ({rows} in parquet, above [report] max_rows): counts are exact; latency percentiles come "
            f"from sketches and are within {alpha:.1%} (relative) of the exact value.")


def summary(rep: ReportContext, sec: Section) -> Section:
    """Headline numbers from the rollup."""
    from obskit import views

    sec.note(bound_note(rep))
    untimed = rep.figures.get("rows_without_timestamp")
    if untimed:
        sec.note(f"{untimed:,} rows have no parseable timestamp and are left out of every figure (at scale rows "
                 "are not checked one by one: load a shorter period to list them).", kind="warning")
        sec.warn(f"{untimed:,} rows without a timestamp")
    return sec.html(views.kpi_html(rep.figures))


def latency(rep: ReportContext, sec: Section, stats: pl.DataFrame) -> Section:
    """Sketch percentiles per window, and the exact SLO error budgets from the rollup's counts."""
    from obskit.analyze.slo import period_budgets
    from obskit.report.budgets import show_budgets

    slo = rep.config.slo
    sec.note(bound_note(rep))
    sec.chart(charts.latency_chart(stats, slo_ms=slo.latency_ms,
                                   title=f"Latency percentiles (sketch, within {rollup(rep).state.latency.alpha:.1%})"))
    base = stats.select("window_start", pl.col("requests").alias("total"))
    lat = base.with_columns((pl.col("total") - stats["within_slo"]).alias("bad"),
                            pl.lit(slo.latency_quantile).alias("objective"))
    avail = base.with_columns(stats["errors"].alias("bad"), pl.lit(slo.availability).alias("objective"))
    return show_budgets(sec, period_budgets(lat, avail))


def top_errors(rep: ReportContext) -> pl.DataFrame:
    """Error messages of the period from the rollup: ``error``, ``requests``, ``share``."""
    msgs = rollup(rep).messages
    out = msgs.group_by("error").agg(pl.col("count").sum().alias("requests"))
    return out.with_columns((pl.col("requests") / pl.col("requests").sum()).alias("share")).sort(
        ["requests", "error"], descending=[True, False])


def versions(rep: ReportContext, sec: Section) -> Section:
    """Traffic share per version and a per-version table from the rollup."""
    r = rollup(rep)
    if "model_version" not in r.state.by:
        return sec.skip("the requests have no model_version column")
    per = r.coarsen(rep.window).table()
    share = per.with_columns((pl.col("requests") / pl.col("requests").sum().over("window_start")).alias("share"))
    sec.chart(charts.lines_chart(share, ["share"], color_by="model_version", title="Traffic share per version",
                                 y_format="%"))
    totals = r.state.counts.frame.group_by("model_version").agg(pl.col("requests", "errors", "confident").sum())
    out = totals.join(_version_quantiles(r), on="model_version", how="left").with_columns(
        (pl.col("errors") / pl.col("requests")).alias("error_rate")).sort("requests", descending=True)
    sec.table(out, caption="Per version (percentiles from sketches)", name="versions",
              formats={"error_rate": "{:.3%}", "requests": "{:,}"})
    if out.height >= 2:
        sec.note(f"The statistical comparison of versions needs the rows ({NOT_AT_SCALE}): run the canary report "
                 "on a period or version small enough to load.")
    else:
        sec.note("One version served this period: nothing to compare.")
    return sec


def _version_quantiles(r: Rollup) -> pl.DataFrame:
    from obskit.scale.sketches import SketchTable

    t = r.state.latency
    keys = ("model_version",)
    buckets = t.buckets.group_by("model_version", "sign", "bucket").agg(pl.col("count").sum())
    summary = t.summary.group_by("model_version").agg(pl.col("count").sum(), pl.col("sum").sum(),
                                                     pl.col("min").min(), pl.col("max").max())
    q = SketchTable(keys, buckets, summary, t.alpha, t.min_value).quantiles([0.5, 0.95, 0.99],
                                                                           names=["p50_ms", "p95_ms", "p99_ms"])
    return q.drop("count")


def timeline(rep: ReportContext, sec: Section, stats: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """The timeline frame at scale: rate, errors, p99 and confident rate per window."""
    tl = stats.select("window_start", "rps", "error_rate", "p99_ms",
                      (pl.col("confident") / pl.col("requests")).alias("confident_rate"))
    sec.note(f"At scale the timeline shows the request signals only ({NOT_AT_SCALE}); the GPU section has the "
             "GPU series.")
    return tl, {}


def drift(rep: ReportContext, sec: Section) -> Section:
    """Feature drift of the period's successful requests, streamed against the reference."""
    from obskit.scale.streaming import stream_drift

    src, reference = rep.scale, rep.reference
    assert src is not None
    if reference is None:
        reason = "no reference set ([sources.reference])"
        return sec.note(f"No drift check: {reason}.", kind="warning").skip(reason)
    s = rep.session
    ok = canonical_scan(src, start=s.start, end=s.end, model=s.model, version=s.version).filter(
        pl.col("status") == "ok")  # as in memory: the successful requests of the period
    present = set(ok.collect_schema().names())
    cols = [c for c in rep.config.features.all if c in reference.columns and c in present]
    missing = [c for c in rep.config.features.all if c not in cols]
    if not cols:
        reason = "no configured feature is in both the request files and the reference set"
        return sec.note(f"No drift check: {reason}.", kind="warning").skip(reason)
    result: pl.DataFrame = rep.cached("scale_drift", lambda: stream_drift(reference, ok, columns=cols))
    sec.note("At scale, drift streams through every successful request of the period. Categorical and binned "
             "statistics are exact; wasserstein and ks lie in [statistic_low, statistic_high].")
    if missing:
        sec.note(f"Not checked (absent from the request files or the reference): {', '.join(missing)}.",
                 kind="warning")
    sec.table(result.select("column", "method", "statistic", "statistic_low", "statistic_high", "threshold",
                            "drifted", "verdict_certain", "exact", "n_current"), caption="Feature drift, whole period",
              name="drift")
    drifted = result.filter(pl.col("drifted"))["column"].to_list()
    rep.figures["drifted_features"] = drifted
    if drifted:
        sec.warn(f"drifted: {', '.join(drifted)}", flag="drift")
    uncertain = result.filter(~pl.col("verdict_certain"))["column"].to_list()
    if uncertain:
        sec.note(f"Verdict uncertain within the streaming bound: {', '.join(uncertain)}.", kind="warning")
    return sec
