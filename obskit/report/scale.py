"""Reports over request logs too large for memory: sections from a rollup, streaming drift, a sample.

When the request source is parquet (a file, a folder of hive partitions or a glob) and the
report's period holds more rows than ``[report] max_rows`` (default 5M, about 4 GB for an
in-memory health report), :func:`obskit.report.section.open_report` never loads the rows:

* one polars streaming pass builds the period's :class:`~obskit.scale.rollup.Rollup`
  (exact counts per window and version, latency sketches, error messages): the health
  report's traffic, latency (sketch percentiles within their bound, exact SLO budgets),
  errors, business, versions and timeline sections read it, and each says what is exact
  and what is bounded;
* the health report's drift streams the period's successful requests (the same rows as in
  memory) through :func:`~obskit.scale.streaming.stream_drift` (exact or bounded statistics);
* sections that need rows (the drift report's effect sizes, distributions, domain classifier
  and data quality; the canary comparison) read a systematic sample of at most 1M rows
  (:func:`sample`) and say so on the page;
* every alert rule is backtested at scale (:mod:`obskit.alerts.scale_inputs`): counts per
  minute, the last rows of each interval that the sample-count signals read, per-minute
  latency sketches per version, and the hourly drift tests one hour at a time.

A short period of a large source (at most ``max_rows`` rows) is read with its filters
pushed into the scan (:func:`load_period`) and reported in memory as usual.

Memory grows with windows x versions x sketch buckets, the reference set and the sample,
never with rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from obskit.load.request_source import canonical_scan
from obskit.report.state import rollup

if TYPE_CHECKING:
    from obskit.report.run import Run, Shown

__all__ = [
    "bound_note",
    "figures",
    "note_sample",
    "rows",
    "sample",
    "sample_note",
    "window_stats",
]

#: Rows of the uniform sample that sections needing rows read at scale.
SAMPLE_ROWS = 1_000_000
#: Columns of the sample besides the configured features (the drift sections read no more).
_SAMPLED = ("timestamp", "model", "model_version", "status", "prediction", "confidence", "label")


def sample(rep: Run) -> pl.DataFrame:
    """A systematic sample of the period: every k-th row in file order, at most :data:`SAMPLE_ROWS` (or
    ``[report] max_rows``) rows.

    Read in one streaming pass; request logs are in time order, so the sample spreads evenly
    over the period. The drift sections read it at scale for what needs rows at once (the
    effect sizes and their noise floor, the domain classifier) and say so; it holds their
    columns only (features, predictions, confidence, status), not ids or messages.
    """
    src = rep.scale
    assert src is not None
    s = rep.session
    step = _step(rep)

    def read() -> pl.DataFrame:
        from obskit.schemas import REQUESTS

        lf = canonical_scan(src, start=s.start, end=s.end, model=s.model, version=s.version)
        schema = lf.collect_schema()
        wanted = {*_SAMPLED, *rep.config.features.all}  # what the drift sections read: not ids or messages
        casts = [pl.col(c.name).cast(c.dtype, strict=False) for c in REQUESTS.columns
                 if c.name in schema and c.name in wanted and c.name not in ("timestamp", "status", "status_code")]
        return (lf.select([c for c in schema.names() if c in wanted]).with_columns(casts).with_row_index("__row")
                .filter(pl.col("__row") % step == 0).drop("__row").collect(engine="streaming"))

    out: pl.DataFrame = rep.cached("scale_sample", read)
    return out


def _step(rep: Run) -> int:
    src = rep.scale
    assert src is not None
    limit = rep.config.report.max_rows
    size = min(SAMPLE_ROWS, limit) if limit > 0 else SAMPLE_ROWS
    return max(1, -(-src.period_rows // size))


def sample_note(rep: Run) -> str:
    """The sentence a section computed on the sample shows."""
    src = rep.scale
    assert src is not None
    n = sample(rep).height
    step = _step(rep)
    every = "every row" if step == 1 else "every other row" if step == 2 else f"one row in {step:,}"
    return (f"At scale: computed on a uniform sample of {n:,} of the period's {src.period_rows:,} requests ({every} "
            "in time order); counts and rates elsewhere on the page are exact.")


def note_sample(rep: Run, sec: Shown) -> None:
    """At scale, add :func:`sample_note` to a section computed on the sample (nothing otherwise)."""
    if rep.scale is not None:
        sec.note(sample_note(rep))


def rows(rep: Run) -> pl.DataFrame | None:
    """The period's requests in memory, or at scale the uniform sample (see :func:`sample`)."""
    if rep.scale is None:
        return rep.requests
    got = sample(rep)
    return got if got.height else None


# --------------------------------------------------------------------------- report inputs


def window_stats(rep: Run) -> pl.DataFrame | None:
    """Per-window stats from the rollup (counts exact, percentiles within the sketch bound), or None."""
    r = rollup(rep)
    if r.requests == 0:
        return None
    stats: pl.DataFrame = rep.cached("scale_window_stats", lambda: r.coarsen(rep.window, by=()).table())
    return stats


def figures(rep: Run) -> dict[str, Any]:
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


def bound_note(rep: Run) -> str:
    """The sentence every scale section shows about what is exact and what is bounded."""
    sc = rep.scale
    rows = f"{sc.period_rows:,} request rows" if sc is not None else "the request rows"
    alpha = rollup(rep).state.latency.alpha
    return (f"At scale ({rows} in parquet, above [report] max_rows): counts are exact; latency percentiles come "
            f"from sketches and are within {alpha:.1%} (relative) of the exact value.")
