"""Binned distributions of a column in the reference and the current data, for charts.

Numeric columns get shared bins (quantile edges of the reference, so each reference bin
holds about the same share; outermost bins are open-ended); categorical columns get the
most frequent categories of either side plus "(other)". Shares are of non-null values.

Examples
--------
>>> import polars as pl
>>> ref = pl.DataFrame({"c": ["a", "a", "b"]})
>>> cur = pl.DataFrame({"c": ["b", "b", "a"]})
>>> distributions(ref, cur, "c").select("bin", "reference", "current").rows()
[('a', 0.6666666666666666, 0.3333333333333333), ('b', 0.3333333333333333, 0.6666666666666666)]
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import polars as pl

from obskit.errors import AnalysisError

__all__ = ["distributions"]


def distributions(reference: pl.DataFrame, current: pl.DataFrame | pl.LazyFrame, column: str, *, bins: int = 20,
                  top: int = 15) -> pl.DataFrame:
    """Shares per bin (numeric) or category (other types) on both sides.

    ``current`` may be a lazy scan of any size: it is counted in one streaming pass (the
    bins come from the reference), so the shares are the rows' own, never a sample's.

    Returns ``bin`` (label), ``order`` (sort key), ``reference`` and ``current`` shares.
    """
    cur_lf = current.lazy()
    for name, names in (("reference", reference.columns), ("current", cur_lf.collect_schema().names())):
        if column not in names:
            raise AnalysisError(f"{name} has no column {column!r}", column=column)
    ref = reference.get_column(column).drop_nulls()
    if ref.dtype.is_numeric() and ref.n_unique() > top:
        r = ref.cast(pl.Float64).to_numpy()
        r = r[np.isfinite(r)]
        if r.size == 0:
            raise AnalysisError("reference has no finite values", column=column)
        edges = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)))
        inner = edges[1:-1]
        rc = np.bincount(np.searchsorted(inner, r, side="right"), minlength=inner.size + 1)
        cc, c_size = _current_bins(cur_lf, column, inner)
        labels = [f"< {inner[0]:.4g}"] if inner.size else ["all"]
        labels += [f"{a:.4g}–{b:.4g}" for a, b in pairwise(inner)]
        if inner.size:
            labels.append(f"≥ {inner[-1]:.4g}")
        return pl.DataFrame({
            "bin": labels, "order": list(range(len(labels))),
            "reference": rc / max(r.size, 1), "current": cc / max(c_size, 1),
        })
    rs = ref.cast(pl.String).value_counts(name="n")
    cs = (cur_lf.select(pl.col(column).cast(pl.String)).drop_nulls().group_by(column).agg(pl.len().alias("n"))
          .collect(engine="streaming"))
    cur_len = int(cs["n"].sum())
    both = rs.join(cs, on=column, how="full", coalesce=True, suffix="_cur").fill_null(0)
    both = both.with_columns(
        (pl.col("n") / max(ref.len(), 1)).alias("reference"), (pl.col("n_cur") / max(cur_len, 1)).alias("current")
    ).sort(pl.max_horizontal("reference", "current"), pl.col(column), descending=[True, False])
    head, tail = both.head(top), both.slice(top)
    out = head.select(pl.col(column).alias("bin"), "reference", "current")
    if tail.height:
        out = pl.concat([out, pl.DataFrame({"bin": ["(other)"], "reference": [tail["reference"].sum()],
                                            "current": [tail["current"].sum()]})], how="vertical_relaxed")
    if ref.dtype.is_numeric():
        out = out.sort(pl.col("bin").cast(pl.Float64, strict=False), nulls_last=True)
    return out.with_columns(pl.int_range(pl.len()).alias("order")).select("bin", "order", "reference", "current")


def _current_bins(current: pl.LazyFrame, column: str, inner: np.ndarray) -> tuple[np.ndarray, int]:
    """Finite values of ``column`` per bin of ``inner`` edges (``numpy.searchsorted(side="right")``), and their count.

    The bin of a value is the number of edges at or below it, counted per row: one streaming pass.
    """
    x = pl.col(column).cast(pl.Float64)
    index = (pl.sum_horizontal([(x >= float(e)).cast(pl.UInt32) for e in inner]) if inner.size
             else pl.lit(0, pl.UInt32)).alias("_bin")
    counts = (current.filter(x.is_finite()).select(index).group_by("_bin").agg(pl.len().alias("n"))
              .collect(engine="streaming"))
    out = np.zeros(inner.size + 1, dtype=np.int64)
    out[counts["_bin"].to_numpy().astype(np.int64)] = counts["n"].to_numpy()
    return out, int(out.sum())
