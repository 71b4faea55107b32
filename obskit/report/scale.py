"""Reports over request logs too large for memory: sections from a rollup, streaming drift, a sample.

When the request source is parquet (a file, a folder of hive partitions or a glob) and the
report's period holds more rows than ``[report] max_rows`` (default 5M, about 4 GB for an
in-memory health report), :func:`obskit.report.section.open_report` never loads the rows:

* one polars streaming pass builds the period's :class:`~obskit.scale.rollup.Rollup`
  (exact counts per window and version, latency sketches, error messages): the health
  report's traffic, latency (sketch percentiles within their bound, exact SLO budgets),
  errors, business, versions and timeline sections read it, and each says what is exact
  and what is bounded;
* the health report's drift streams every row through
  :func:`~obskit.scale.streaming.stream_drift` (exact or bounded statistics);
* sections that need rows (the drift report's effect sizes, distributions, domain classifier
  and data quality; the canary comparison) read a systematic sample of at most 1M rows
  (:func:`sample`) and say so on the page;
* alert backtests on request signals are not run at scale: the page and the status
  (``alerts_unchecked``) say so; run the same rules in Prometheus (``obskit alerts export``).

A short period of a large source (at most ``max_rows`` rows) is read with its filters
pushed into the scan (:func:`load_period`) and reported in memory as usual.

Memory grows with windows x versions x sketch buckets, the reference set and the sample,
never with rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from obskit import charts
from obskit.report.section import Section

if TYPE_CHECKING:
    from obskit.config import Config
    from obskit.report.section import ReportContext
    from obskit.scale.rollup import Rollup

__all__ = ["DEFAULT_MAX_ROWS", "ScaleSource", "canonical_scan", "load_period", "period_rows", "scale_source"]

#: Above this many request rows, the health report runs at scale (``[report] max_rows``): about 4 GB
#: of peak memory for an in-memory health report (10M rows took 7.4 GB).
DEFAULT_MAX_ROWS = 5_000_000
NOT_AT_SCALE = "rows are not loaded at this volume"


@dataclass(frozen=True)
class ScaleSource:
    """A parquet request source read by streaming: its files, row count and how to make it canonical."""

    files: tuple[str, ...]
    rows: int
    columns: dict[str, str]
    status_convention: str
    timestamp_format: str
    timezone: str
    period_rows: int = 0


def scale_source(config: Config, max_rows: int | None = None) -> ScaleSource | None:
    """The request source as a :class:`ScaleSource` when it is parquet with more than ``max_rows`` rows.

    None for any other source (several request sources, JSONL/CSV, OpenTelemetry, fewer
    rows): those are loaded in memory as before. Counting reads only parquet metadata.
    """
    from obskit.errors import SourceError
    from obskit.scale.streaming import parquet_files

    limit = config.report.max_rows if max_rows is None else max_rows
    sources = config.sources_for("requests")
    if len(sources) != 1 or sources[0].kind != "requests":
        return None
    src = sources[0]
    path, fmt = src.options.get("path"), src.get("format")
    if path is None or fmt not in (None, "parquet"):
        return None
    try:
        files = parquet_files(str(path))
    except SourceError:
        return None  # not parquet: the in-memory loader says what is wrong with it
    try:
        rows = int(pl.scan_parquet(files, hive_partitioning=True).select(pl.len()).collect().item())
    except (OSError, pl.exceptions.PolarsError):
        return None  # unreadable: the loader reports the problem
    if rows <= limit:
        return None
    return ScaleSource(tuple(files), rows, dict(src.get("columns") or {}), str(src.get("status_convention") or "auto"),
                       str(src.get("timestamp_format") or "iso8601"),
                       str(src.get("timezone") or config.project.timezone))


def canonical_scan(src: ScaleSource, *, start: datetime | None = None, end: datetime | None = None,
                   model: str = "", version: str = "") -> pl.LazyFrame:
    """The files as a lazy ``requests`` frame: mapped names, UTC timestamps, canonical status, the period."""
    from obskit.load.logs import _status_exprs, _timestamp_expr

    lf = pl.scan_parquet(list(src.files), hive_partitioning=True)
    lf = lf.rename({v: k for k, v in src.columns.items()}, strict=False)
    schema = lf.collect_schema()
    fixes = [_timestamp_expr("timestamp", src.timestamp_format, src.timezone, schema["timestamp"]).alias("timestamp"),
             pl.col("latency_ms").cast(pl.Float64)]
    status, code = _status_exprs(pl.DataFrame(schema=schema), src.status_convention)
    fixes += [status.alias("status"), code.alias("status_code")]
    if "model_version" in schema:
        fixes.append(pl.col("model_version").cast(pl.String))
    if "model" not in schema:  # as the loader does: rows that name no model are the project's
        fixes.append(pl.lit(model or None, pl.String).alias("model"))
    lf = lf.with_columns(fixes)
    if start is not None:
        lf = lf.filter(pl.col("timestamp") >= start)
    if end is not None:
        lf = lf.filter(pl.col("timestamp") < end)
    if model and "model" in schema:
        lf = lf.filter(pl.col("model").cast(pl.String) == model)
    if version:
        lf = lf.filter(pl.col("model_version") == version)
    return lf


def load_period(src: ScaleSource, *, start: datetime | None = None, end: datetime | None = None,
                model: str = "", version: str = "") -> pl.DataFrame:
    """The period's rows of a large source, read with the filters pushed into the scan (not the whole files).

    Columns of the ``requests`` schema get its dtypes; rows keep every other column.
    """
    from obskit.schemas import REQUESTS

    lf = canonical_scan(src, start=start, end=end, model=model, version=version)
    schema = lf.collect_schema()
    casts = [pl.col(c.name).cast(c.dtype, strict=False) for c in REQUESTS.columns
             if c.name in schema and c.name not in ("timestamp", "status", "status_code")]
    return lf.with_columns(casts).collect(engine="streaming")


def period_rows(src: ScaleSource, *, start: datetime | None = None, end: datetime | None = None,
                model: str = "", version: str = "") -> int:
    """Rows of the period (one streaming pass over the timestamp and filter columns)."""
    lf = canonical_scan(src, start=start, end=end, model=model, version=version)
    return int(lf.select(pl.len()).collect(engine="streaming").item())


def period_span(src: ScaleSource, *, start: datetime | None = None, end: datetime | None = None,
                model: str = "", version: str = "") -> tuple[datetime, datetime] | None:
    """First and last timestamp of the period's rows, or None when there is none."""
    lf = canonical_scan(src, start=start, end=end, model=model, version=version)
    lo, hi = lf.select(pl.col("timestamp").min().alias("lo"), pl.col("timestamp").max().alias("hi")).collect(
        engine="streaming").row(0)
    return (lo, hi) if isinstance(lo, datetime) and isinstance(hi, datetime) else None


#: Rows of the uniform sample that sections needing rows read at scale.
SAMPLE_ROWS = 1_000_000


def sample(rep: ReportContext) -> pl.DataFrame:
    """A systematic sample of the period: every k-th row in file order, at most :data:`SAMPLE_ROWS` (or
    ``[report] max_rows``) rows.

    Read in one streaming pass; request logs are in time order, so the sample spreads evenly
    over the period. Sections that need rows (drift tests with effect sizes, distributions,
    the domain classifier, data quality, the version comparison) use it at scale and say so.
    """
    src = rep.scale
    assert src is not None
    s = rep.session
    step = _step(rep)

    def read() -> pl.DataFrame:
        from obskit.schemas import REQUESTS

        lf = canonical_scan(src, start=s.start, end=s.end, model=s.model, version=s.version)
        schema = lf.collect_schema()
        casts = [pl.col(c.name).cast(c.dtype, strict=False) for c in REQUESTS.columns
                 if c.name in schema and c.name not in ("timestamp", "status", "status_code")]
        return (lf.with_columns(casts).with_row_index("__row").filter(pl.col("__row") % step == 0).drop("__row")
                .collect(engine="streaming"))

    out: pl.DataFrame = rep.cached("scale_sample", read)
    return out


def _step(rep: ReportContext) -> int:
    src = rep.scale
    assert src is not None
    limit = rep.config.report.max_rows
    size = min(SAMPLE_ROWS, limit) if limit > 0 else SAMPLE_ROWS
    return max(1, -(-src.period_rows // size))


def sample_note(rep: ReportContext) -> str:
    """The sentence a section computed on the sample shows."""
    src = rep.scale
    assert src is not None
    n = sample(rep).height
    return (f"At scale: computed on a uniform sample of {n:,} of the period's {src.period_rows:,} requests (every "
            f"{_step(rep):,}th row in time order); counts and rates elsewhere on "
            "the page are exact.")


def rows(rep: ReportContext) -> pl.DataFrame | None:
    """The period's requests in memory, or at scale the uniform sample (see :func:`sample`)."""
    if rep.scale is None:
        return rep.requests
    got = sample(rep)
    return got if got.height else None


# --------------------------------------------------------------------------- report inputs


def rollup(rep: ReportContext) -> Rollup:
    """The period's rollup, built once per run (one streaming pass over the files)."""
    from obskit.scale.rollup import ROLLUP_EVERY, build_rollup
    from obskit.timeutil import polars_every

    assert rep.scale is not None
    s = rep.session
    every = ROLLUP_EVERY if int(polars_every(rep.window)[:-1]) % 300 == 0 else rep.window

    def build() -> Rollup:
        lf = canonical_scan(rep.scale, start=s.start, end=s.end, model=s.model, version=s.version)
        built = build_rollup(lf, slo_ms=rep.config.slo.latency_ms,
                             confidence_threshold=rep.config.business.confidence_threshold, every=every)
        return _without_untimed(rep, built)

    built: Rollup = rep.cached("scale_rollup", build)
    return built


def _without_untimed(rep: ReportContext, r: Rollup) -> Rollup:
    """Leave out the rows whose timestamp did not parse (no window), counting them for the page."""
    from dataclasses import replace

    from obskit.scale.rollup import Rollup as _Rollup
    from obskit.scale.sketches import RateCounts
    from obskit.scale.streaming import WindowState

    counts = r.state.counts.frame
    untimed = counts.filter(pl.col("window_start").is_null())
    if not untimed.height:
        return r
    rep.figures["rows_without_timestamp"] = int(untimed["requests"].sum())
    timed = pl.col("window_start").is_not_null()
    st = r.state
    latency = replace(st.latency, buckets=st.latency.buckets.filter(timed), summary=st.latency.summary.filter(timed))
    state = WindowState(st.every_s, st.by, RateCounts(st.counts.keys, counts.filter(timed)), latency, st.present)
    return _Rollup(state, r.messages.filter(timed), r.slo_ms, r.confidence_threshold, r.generated_at)


def window_stats(rep: ReportContext) -> pl.DataFrame | None:
    """Per-window stats from the rollup (counts exact, percentiles within the sketch bound), or None."""
    r = rollup(rep)
    if r.requests == 0:
        return None
    stats: pl.DataFrame = rep.cached("scale_window_stats", lambda: r.coarsen(rep.window, by=()).table())
    return stats


def figures(rep: ReportContext) -> dict[str, Any]:
    """Headline figures of the period from the rollup (as :func:`obskit.views.key_figures`)."""
    r = rollup(rep)
    n = r.requests
    if n == 0:
        return {"requests": 0}
    counts = r.state.counts.frame
    sketch = r.state.latency.sketch()
    slo = rep.config.slo
    errors = int(counts["errors"].sum())
    return {
        "requests": n,
        "errors": errors,
        "error_rate": errors / n,
        "p50_ms": sketch.quantile(0.5),
        "p99_ms": sketch.quantile(0.99),
        f"slo_p{slo.latency_quantile * 100:g}_ms": slo.latency_ms,
        "slo_latency_met_share": int(counts["within_slo"].sum()) / n,
        "latency_sketch_alpha": r.state.latency.alpha,
    }


def bound_note(rep: ReportContext) -> str:
    """The sentence every scale section shows about what is exact and what is bounded."""
    sc = rep.scale
    rows = f"{sc.period_rows:,} request rows" if sc is not None else "the request rows"
    alpha = rollup(rep).state.latency.alpha
    return (f"At scale ({rows} in parquet, above [report] max_rows): counts are exact; latency percentiles come "
            f"from sketches and are within {alpha:.1%} (relative) of the exact value.")


# --------------------------------------------------------------------------- sections at scale


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
    from obskit.analyze.slo import error_budget

    slo = rep.config.slo
    sec.note(bound_note(rep))
    sec.chart(charts.latency_chart(stats, slo_ms=slo.latency_ms,
                                   title=f"Latency percentiles (sketch, within {rollup(rep).state.latency.alpha:.1%})"))
    base = stats.select("window_start", pl.col("requests").alias("total"))
    lat = base.with_columns((pl.col("total") - stats["within_slo"]).alias("bad"),
                            pl.lit(slo.latency_quantile).alias("objective"))
    avail = base.with_columns(stats["errors"].alias("bad"), pl.lit(slo.availability).alias("objective"))
    budgets = pl.concat([error_budget(lat).tail(1).with_columns(pl.lit("latency").alias("slo")),
                         error_budget(avail).tail(1).with_columns(pl.lit("availability").alias("slo"))])
    budgets = budgets.select("slo", "total_to_date", "bad_to_date", "allowed_bad", "budget_remaining")
    sec.table(budgets, formats={"budget_remaining": "{:.1%}"}, caption="Error budget left at the end of the period",
              name="budgets")
    spent = budgets.filter(pl.col("budget_remaining") < 0)["slo"].to_list()
    if spent:
        sec.warn(f"error budget spent: {', '.join(spent)}")
    return sec


def top_errors(rep: ReportContext) -> pl.DataFrame:
    """Error messages of the period from the rollup: ``error``, ``requests``, ``share``."""
    msgs = rollup(rep).messages
    out = msgs.group_by("error").agg(pl.col("count").sum().alias("requests"))
    return out.with_columns((pl.col("requests") / pl.col("requests").sum()).alias("share")).sort(
        ["requests", "error"], descending=[True, False])


def business(rep: ReportContext, sec: Section) -> Section:
    """Confident-prediction rate per window from the rollup (corrections need the feedback join)."""
    r = rollup(rep)
    if "confident" not in r.state.present:
        return sec.note("No business signals: the requests have no confidence column.", kind="warning").skip(
            "no confidence column")
    every = "1h" if int(r.state.every_s) <= 3600 else f"{r.state.every_s}s"
    biz = r.coarsen(every, by=()).table().select(
        "window_start", "requests", "confident", (pl.col("confident") / pl.col("requests")).alias("confident_rate"))
    sec.keep(business=biz)
    sec.chart(charts.lines_chart(biz, ["confident_rate"], title="Confident predictions", y_format="%"))
    rep.figures["confident_rate"] = int(biz["confident"].sum()) / max(int(biz["requests"].sum()), 1)
    rep.figures["correction_rate"] = None
    return sec.note(f"No correction rate at scale: the feedback join needs the rows ({NOT_AT_SCALE}).",
                    kind="warning")


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
    """Feature drift by streaming the files against the reference (every row of the files)."""
    from obskit.scale.streaming import stream_drift

    src, reference = rep.scale, rep.reference
    assert src is not None
    if reference is None:
        reason = "no reference set ([sources.reference])"
        return sec.note(f"No drift check: {reason}.", kind="warning").skip(reason)
    names = set(pl.scan_parquet(list(src.files[:1]), hive_partitioning=True).collect_schema().names())
    present = {k for k, v in src.columns.items() if v in names} | (names - set(src.columns.values()))
    cols = [c for c in rep.config.features.all if c in reference.columns and c in present]
    missing = [c for c in rep.config.features.all if c not in cols]
    if not cols:
        reason = "no configured feature is in both the request files and the reference set"
        return sec.note(f"No drift check: {reason}.", kind="warning").skip(reason)

    def compute() -> pl.DataFrame:
        mapping = {k: v for k, v in src.columns.items() if k in cols}
        return stream_drift(reference, list(src.files), columns=cols, column_map=mapping or None)

    result: pl.DataFrame = rep.cached("scale_drift", compute)
    sec.note("At scale, drift streams through every row of the request files (the period, model and version "
             "filters and the successful-only filter of the in-memory path are not applied). Categorical and "
             "binned statistics are exact; wasserstein and ks lie in [statistic_low, statistic_high].")
    if missing:
        sec.note(f"Not checked (absent from the request files or the reference): {', '.join(missing)}.",
                 kind="warning")
    sec.table(result.select("column", "method", "statistic", "statistic_low", "statistic_high", "threshold",
                            "drifted", "verdict_certain", "exact"), caption="Feature drift, whole files", name="drift")
    drifted = result.filter(pl.col("drifted"))["column"].to_list()
    rep.figures["drifted_features"] = drifted
    if drifted:
        sec.warn(f"drifted: {', '.join(drifted)}")
    uncertain = result.filter(~pl.col("verdict_certain"))["column"].to_list()
    if uncertain:
        sec.note(f"Verdict uncertain within the streaming bound: {', '.join(uncertain)}.", kind="warning")
    return sec
