"""The health report's sections at scale: what each shows from the rollup and streaming drift.

:mod:`obskit.report.health` calls these when the run is at scale (see
:mod:`obskit.report.scale`); each says on the page what is exact, bounded or left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from obskit.load.request_source import canonical_scan
from obskit.report.scale import rollup
from obskit.report.section import Section

if TYPE_CHECKING:
    from obskit.report.section import ReportContext

__all__ = ["bound_note", "drift", "summary"]


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
