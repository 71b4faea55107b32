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


def distributions(reference: pl.DataFrame, current: pl.DataFrame, column: str, *, bins: int = 20,
                  top: int = 15) -> pl.DataFrame:
    """Shares per bin (numeric) or category (other types) on both sides.

    Returns ``bin`` (label), ``order`` (sort key), ``reference`` and ``current`` shares.
    """
    for name, df in (("reference", reference), ("current", current)):
        if column not in df.columns:
            raise AnalysisError(f"{name} has no column {column!r}", column=column)
    ref = reference.get_column(column).drop_nulls()
    cur = current.get_column(column).drop_nulls()
    if ref.dtype.is_numeric() and ref.n_unique() > top:
        r = ref.cast(pl.Float64).to_numpy()
        c = cur.cast(pl.Float64).to_numpy()
        r, c = r[np.isfinite(r)], c[np.isfinite(c)]
        if r.size == 0:
            raise AnalysisError("reference has no finite values", column=column)
        edges = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)))
        inner = edges[1:-1]
        rc = np.bincount(np.searchsorted(inner, r, side="right"), minlength=inner.size + 1)
        cc = np.bincount(np.searchsorted(inner, c, side="right"), minlength=inner.size + 1)
        labels = [f"< {inner[0]:.4g}"] if inner.size else ["all"]
        labels += [f"{a:.4g}–{b:.4g}" for a, b in pairwise(inner)]
        if inner.size:
            labels.append(f"≥ {inner[-1]:.4g}")
        return pl.DataFrame({
            "bin": labels, "order": list(range(len(labels))),
            "reference": rc / max(r.size, 1), "current": cc / max(c.size, 1),
        })
    rs = ref.cast(pl.String).value_counts(name="n")
    cs = cur.cast(pl.String).value_counts(name="n")
    both = rs.join(cs, on=column, how="full", coalesce=True, suffix="_cur").fill_null(0)
    both = both.with_columns(
        (pl.col("n") / max(ref.len(), 1)).alias("reference"), (pl.col("n_cur") / max(cur.len(), 1)).alias("current")
    ).sort(pl.max_horizontal("reference", "current"), pl.col(column), descending=[True, False])
    head, tail = both.head(top), both.slice(top)
    out = head.select(pl.col(column).alias("bin"), "reference", "current")
    if tail.height:
        out = pl.concat([out, pl.DataFrame({"bin": ["(other)"], "reference": [tail["reference"].sum()],
                                            "current": [tail["current"].sum()]})], how="vertical_relaxed")
    if ref.dtype.is_numeric():
        out = out.sort(pl.col("bin").cast(pl.Float64, strict=False), nulls_last=True)
    return out.with_columns(pl.int_range(pl.len()).alias("order")).select("bin", "order", "reference", "current")
