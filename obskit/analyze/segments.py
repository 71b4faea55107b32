"""Which segment explains a change: risk ratios of an outcome per segment, with support and intervals.

An alert says *that* something moved (errors, slow requests, one class, a feature's values);
this module says *where*. A **segment** is one value of one dimension (``model_version =
v1.5.0``, ``client = ios``, ``file_size_kb ≥ 480``). For a boolean **outcome** (the request
failed, was slower than usual, answered the class that took over...) it counts, per segment,
the rows and the outcomes during the anomalous window and, when there is one, during a
normal window before it, and ranks the segments as MacroBase does (Bailis et al., SIGMOD
2017), by how much more often the outcome happens in the segment than in the rest:

``risk_ratio``
    ``(outcomes / rows in the segment) / (outcomes / rows in the rest)`` during the window,
    with 0.5 added to every count (no division by zero, a small pull towards 1).
``effect``
    The risk ratio during the window divided by the same ratio before it, when the window
    before has at least :data:`MIN_BASELINE_OUTCOMES` outcomes: a segment that is always
    worse (the web client is always slower) does not explain today's change. Without a
    usable baseline (a new error message, a class never seen before) it is the risk ratio.
``effect_low``, ``effect_high``
    Its 95 % interval (Katz's log method; the two windows' variances add up).
``support``
    The share of the window's outcomes that fall in the segment.
``explained``
    ``support * (1 - 1 / effect_low)``: the share of all the window's outcomes attributable
    to the segment being worse than the rest, at the cautious end of the interval.

A segment **explains** the change when its ``support`` is at least ``min_support``, the low
end of its effect's interval is at least ``min_effect``, and so is the low end of its risk
ratio's (worse than the rest now, not only less good than before); those are ranked by
``explained``. When none does,
the change is spread over the traffic ("no single segment explains it").

:func:`rank_drops` does the same for a fall in traffic, where the outcome is a request that
did not come: per segment, the rate during the window against its own rate before.

Counts are all the functions need (:func:`segment_counts` makes them from rows), so the
same ranking works from the rows in memory or from aggregated window counts.

Examples
--------
>>> import polars as pl
>>> rows = pl.DataFrame({
...     "version": ["v1"] * 900 + ["v2"] * 100,
...     "client": (["ios", "web"] * 500),
...     "failed": [False] * 895 + [True] * 5 + [False] * 60 + [True] * 40,
... })
>>> counts = segment_counts(rows, pl.col("failed"), ["version", "client"])
>>> top = rank_segments(counts)
>>> top.select("dimension", "value", pl.col("support").round(2)).row(0)
('version', 'v2', 0.89)
>>> segment_text(top.row(0, named=True), "failures")
'version=v2: 89% of the failures, 66x the rest (95% CI 28x-157x)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import polars as pl

__all__ = [
    "MIN_BASELINE_OUTCOMES",
    "NONE_EXPLAINS",
    "Binned",
    "auto_dimensions",
    "rank_drops",
    "rank_segments",
    "segment_counts",
    "segment_text",
]

#: A baseline window needs at least this many outcomes for its risk ratios to be used.
MIN_BASELINE_OUTCOMES = 20
#: What the page and the alert say when no segment explains the change.
NONE_EXPLAINS = "no single segment explains it"
#: A text or categorical column is a dimension when it has 2 to this many distinct values.
MAX_LEVELS = 50
_Z = 1.959963984540054

_COUNTS_SCHEMA: dict[str, Any] = {"dimension": pl.String, "value": pl.String, "rows": pl.Int64,
                                  "outcomes": pl.Int64}
_NOT_DIMENSIONS = frozenset({"timestamp", "request_id", "status", "error", "latency_ms", "confidence",
                             "corrected_label", "corrected_at", "trace_id", "span_id"})


@dataclass(frozen=True)
class Binned:
    """A numeric dimension cut at ``edges``: each bin is a segment, named by its bounds.

    >>> Binned("size", (100.0, 400.0)).labels()
    ['size < 100', 'size 100-400', 'size ≥ 400']
    """

    column: str
    edges: tuple[float, ...]

    def labels(self) -> list[str]:
        """The bins' names, lowest first (one more than the edges)."""
        e = [_num(x) for x in self.edges]
        return ([f"{self.column} < {e[0]}"] + [f"{self.column} {a}-{b}" for a, b in pairwise(e)]
                + [f"{self.column} ≥ {e[-1]}"])

    def expr(self) -> pl.Expr:
        """The bin name of each row (null where the value is missing)."""
        names = self.labels()
        x = pl.col(self.column).cast(pl.Float64)
        out: Any = pl.when(x.is_null() | x.is_nan()).then(pl.lit(None, pl.String))
        for edge, name in zip(self.edges, names, strict=False):
            out = out.when(x < edge).then(pl.lit(name))
        expr: pl.Expr = out.otherwise(pl.lit(names[-1])).alias(self.column)
        return expr


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.0f}"


def auto_dimensions(frame: pl.DataFrame, *, numeric: Sequence[str] = (), exclude: Sequence[str] = (),
                    bins_from: pl.DataFrame | None = None) -> list[str | Binned]:
    """The dimensions of ``frame`` worth splitting by: low-cardinality text columns and binned numbers.

    Text and categorical columns with 2 to :data:`MAX_LEVELS` distinct values (version, model,
    client, region, host, predicted class, status code...), then each column of ``numeric``
    cut at the quartiles of ``bins_from`` (default ``frame``). Identifiers, timestamps, the
    outcome columns and ``exclude`` are left out.

    >>> import polars as pl
    >>> f = pl.DataFrame({"model_version": ["a", "b"] * 20, "request_id": [str(i) for i in range(40)],
    ...                   "size": [float(i) for i in range(40)]})
    >>> auto_dimensions(f, numeric=["size"])
    ['model_version', Binned(column='size', edges=(9.75, 19.5, 29.25))]
    """
    skip = set(_NOT_DIMENSIONS) | set(exclude)
    out: list[str | Binned] = []
    for name, dtype in frame.schema.items():
        if name in skip or name in numeric:
            continue
        if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum) or name == "status_code":
            levels = frame.get_column(name).n_unique()
            if 2 <= levels <= MAX_LEVELS:
                out.append(name)
    source = frame if bins_from is None or bins_from.height == 0 else bins_from
    for name in numeric:
        if name in skip or name not in source.columns or name not in frame.columns:
            continue
        col = source.get_column(name)
        if not col.dtype.is_numeric():
            continue
        values = col.cast(pl.Float64).drop_nulls().drop_nans()
        if values.len() < 20:
            continue
        edges = sorted({float(q) for q in (values.quantile(p, "linear") for p in (0.25, 0.5, 0.75))
                        if q is not None and math.isfinite(float(q))})
        if edges:
            out.append(Binned(name, tuple(edges)))
    return out


def segment_counts(frame: pl.DataFrame | pl.LazyFrame, outcome: pl.Expr,
                   dimensions: Sequence[str | Binned]) -> pl.DataFrame:
    """Rows and outcomes per (dimension, value): the counts :func:`rank_segments` reads.

    Missing values count as their own segment, ``(missing)``.

    >>> import polars as pl
    >>> f = pl.DataFrame({"v": ["a", "a", "b"], "bad": [True, False, True]})
    >>> segment_counts(f, pl.col("bad"), ["v"]).rows()
    [('v', 'a', 2, 1), ('v', 'b', 1, 1)]
    """
    lf = frame.lazy()
    names = set(lf.collect_schema().names())
    parts = []
    for dim in dimensions:
        name = dim.column if isinstance(dim, Binned) else dim
        if name not in names:
            continue
        key = dim.expr() if isinstance(dim, Binned) else pl.col(name).cast(pl.String)
        parts.append(
            lf.select(key.fill_null("(missing)").alias("value"), outcome.fill_null(False).alias("_o"))
            .group_by("value").agg(pl.len().cast(pl.Int64).alias("rows"),
                                   pl.col("_o").sum().cast(pl.Int64).alias("outcomes"))
            .select(pl.lit(name).alias("dimension"), "value", "rows", "outcomes")
        )
    if not parts:
        return pl.DataFrame(schema=_COUNTS_SCHEMA)
    return pl.concat(pl.collect_all(parts)).sort("dimension", "value")


def _log_rr(o_s: np.ndarray, n_s: np.ndarray, o_r: np.ndarray, n_r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log risk ratio (segment vs rest) and its variance, with 0.5 added to every count."""
    a, b, c, d = o_s + 0.5, n_s + 0.5, o_r + 0.5, n_r + 0.5
    return np.log(a / b) - np.log(c / d), np.maximum(1 / a - 1 / b + 1 / c - 1 / d, 0.0)


def _with_rest(counts: pl.DataFrame) -> pl.DataFrame:
    return counts.with_columns(
        (pl.col("rows").sum().over("dimension") - pl.col("rows")).alias("rest_rows"),
        (pl.col("outcomes").sum().over("dimension") - pl.col("outcomes")).alias("rest_outcomes"),
    )


def rank_segments(during: pl.DataFrame, before: pl.DataFrame | None = None, *, min_support: float = 0.2,
                  min_effect: float = 1.5, top: int | None = 3) -> pl.DataFrame:
    """Segments that explain the outcome during a window, best first (empty: none does).

    Parameters
    ----------
    during, before
        :func:`segment_counts` of the anomalous window and of a normal window before it.
    min_support, min_effect
        A segment explains the change when it holds at least ``min_support`` of the window's
        outcomes and the low end of its effect's 95 % interval is at least ``min_effect``.
    top
        How many to return (None: every explaining segment).

    Returns
    -------
    polars.DataFrame
        ``dimension``, ``value``, ``rows``, ``outcomes``, ``rate``, ``rest_rate``,
        ``risk_ratio``, ``baseline_ratio`` (null without a usable baseline), ``effect``,
        ``effect_low``, ``effect_high``, ``support``, ``explained``; see the module doc.

    Examples
    --------
    >>> import polars as pl
    >>> even = pl.DataFrame({"dimension": ["c", "c"], "value": ["ios", "web"], "rows": [500, 500],
    ...                      "outcomes": [50, 52]})
    >>> rank_segments(even).height
    0
    """
    d = _with_rest(during)
    o_s, n_s = d["outcomes"].to_numpy().astype(float), d["rows"].to_numpy().astype(float)
    o_r, n_r = d["rest_outcomes"].to_numpy().astype(float), d["rest_rows"].to_numpy().astype(float)
    lrr, var = _log_rr(o_s, n_s, o_r, n_r)
    base = np.full(d.height, np.nan)
    if before is not None and before.height and int(before["outcomes"].sum()) >= MIN_BASELINE_OUTCOMES:
        b = _with_rest(before).select("dimension", "value", pl.col("rows").alias("_bn"),
                                      pl.col("outcomes").alias("_bo"), pl.col("rest_rows").alias("_brn"),
                                      pl.col("rest_outcomes").alias("_bro"))
        j = d.select("dimension", "value").join(b, on=["dimension", "value"], how="left")
        bn, bo = j["_bn"].fill_null(0).to_numpy().astype(float), j["_bo"].fill_null(0).to_numpy().astype(float)
        brn, bro = j["_brn"].fill_null(0).to_numpy().astype(float), j["_bro"].fill_null(0).to_numpy().astype(float)
        usable = (bn >= 30) & (brn >= 30)
        blrr, bvar = _log_rr(bo, bn, bro, brn)
        base = np.where(usable, blrr, np.nan)
        var = np.where(usable, var + bvar, var)
    leff = np.where(np.isnan(base), lrr, lrr - np.nan_to_num(base))
    se = np.sqrt(var)
    total = float(o_s.sum()) / max(d["dimension"].n_unique(), 1)  # every dimension splits the same outcomes
    support = o_s / total if total > 0 else np.zeros_like(o_s)
    eff_low = np.exp(leff - _Z * se)
    rr_low = np.exp(lrr - _Z * np.sqrt(np.maximum(_log_rr(o_s, n_s, o_r, n_r)[1], 0.0)))
    out = d.select("dimension", "value", "rows", "outcomes").with_columns(
        pl.Series("rate", o_s / np.maximum(n_s, 1)),
        pl.Series("rest_rate", o_r / np.maximum(n_r, 1)),
        pl.Series("risk_ratio", np.exp(lrr)),
        pl.Series("baseline_ratio", np.exp(base)).fill_nan(None),
        pl.Series("effect", np.exp(leff)),
        pl.Series("effect_low", eff_low),
        pl.Series("effect_high", np.exp(leff + _Z * se)),
        pl.Series("support", support),
        pl.Series("explained", support * np.clip(1.0 - 1.0 / eff_low, 0.0, 1.0)),
    ).filter((pl.col("support") >= min_support) & (pl.col("effect_low") >= min_effect)
             # worse than the rest now, not only relative to before (a split that merely changed shape)
             & (pl.Series(rr_low) >= min_effect)
             & (pl.Series(n_r) > 0))  # a dimension with one value has no rest to compare with
    out = out.sort(["explained", "effect_low", "dimension", "value"], descending=[True, True, False, False])
    return out if top is None else out.head(top)


def rank_drops(during: pl.DataFrame, before: pl.DataFrame, *, during_s: float, before_s: float,
               min_support: float = 0.3, min_effect: float = 2.0, top: int | None = 3) -> pl.DataFrame:
    """Segments whose traffic fell much more than the rest's, best first (empty: the fall is spread).

    ``during`` and ``before`` are :func:`segment_counts` (``rows`` per segment; outcomes are
    ignored) over windows of ``during_s`` and ``before_s`` seconds. Per segment, the rate
    during / the rate before is compared with the rest's: ``effect`` = the rest's ratio /
    the segment's (4 = the segment fell to a quarter of what the rest did), with its 95 %
    interval (Poisson counts); ``support`` is the segment's share of the missing requests.
    Same columns as :func:`rank_segments` (``rate``: the segment's rate ratio, ``rest_rate``:
    the rest's).

    >>> import polars as pl
    >>> before = pl.DataFrame({"dimension": ["client"] * 2, "value": ["ios", "web"], "rows": [600, 400],
    ...                        "outcomes": [0, 0]})
    >>> during = pl.DataFrame({"dimension": ["client"] * 2, "value": ["ios", "web"], "rows": [3, 400],
    ...                        "outcomes": [0, 0]})
    >>> rank_drops(during, before, during_s=60, before_s=60)["value"].to_list()
    ['ios']
    """
    j = (_with_rest(before).select("dimension", "value", pl.col("rows").alias("b"), pl.col("rest_rows").alias("br"))
         .join(_with_rest(during).select("dimension", "value", pl.col("rows").alias("n"),
                                         pl.col("rest_rows").alias("nr")),
               on=["dimension", "value"], how="left").fill_null(0))
    b, br = j["b"].to_numpy().astype(float) + 0.5, j["br"].to_numpy().astype(float) + 0.5
    n, nr = j["n"].to_numpy().astype(float) + 0.5, j["nr"].to_numpy().astype(float) + 0.5
    scale = during_s / before_s
    r_s, r_r = n / (b * scale), nr / (br * scale)
    leff = np.log(r_r) - np.log(r_s)
    se = np.sqrt(1 / n + 1 / b + 1 / nr + 1 / br)
    missing_s = np.maximum(b * scale - n, 0.0)
    dims = max(j["dimension"].n_unique(), 1)
    total_missing = float(missing_s.sum()) / dims
    support = missing_s / total_missing if total_missing > 0 else np.zeros_like(missing_s)
    eff_low = np.exp(leff - _Z * se)
    out = j.select("dimension", "value", pl.col("n").alias("rows"), pl.lit(0, pl.Int64).alias("outcomes")).with_columns(
        pl.Series("rate", r_s), pl.Series("rest_rate", r_r), pl.Series("risk_ratio", np.exp(leff)),
        pl.lit(None, pl.Float64).alias("baseline_ratio"), pl.Series("effect", np.exp(leff)),
        pl.Series("effect_low", eff_low), pl.Series("effect_high", np.exp(leff + _Z * se)),
        pl.Series("support", support),
        pl.Series("explained", support * np.clip(1.0 - 1.0 / eff_low, 0.0, 1.0)),
    ).filter((pl.col("support") >= min_support) & (pl.col("effect_low") >= min_effect))
    out = out.sort(["explained", "effect_low", "dimension", "value"], descending=[True, True, False, False])
    return out if top is None else out.head(top)


def _times(x: float) -> str:
    return f"{x:.2g}x" if x < 10 else f"{x:.0f}x"


def segment_text(row: Mapping[str, Any], outcome: str = "outcomes", *, drop: bool = False) -> str:
    """One line for a ranked segment: where, its share of the outcome, the effect and its interval.

    >>> segment_text({"dimension": "client", "value": "ios", "support": 0.8, "effect": 4.0,
    ...               "effect_low": 3.1, "effect_high": 5.2}, "slow requests")
    'client=ios: 80% of the slow requests, 4x the rest (95% CI 3.1x-5.2x)'
    """
    value = str(row["value"])
    where = value if value.startswith(f"{row['dimension']} ") else f"{row['dimension']}={value}"
    ci = f"95% CI {_times(float(row['effect_low']))}-{_times(float(row['effect_high']))}"
    if drop:
        return (f"{where}: {float(row['support']):.0%} of the missing requests, fell {_times(float(row['effect']))} "
                f"more than the rest ({ci})")
    return f"{where}: {float(row['support']):.0%} of the {outcome}, {_times(float(row['effect']))} the rest ({ci})"
