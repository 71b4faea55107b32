"""Summaries of profiler events from a ``kernels`` frame.

Examples
--------
>>> import polars as pl
>>> k = pl.DataFrame({"name": ["gemm", "gemm", "relu"], "category": ["kernel"] * 3,
...                   "duration_us": [6.0, 2.0, 2.0]})
>>> top_kernels(k, n=1).row(0)
('gemm', 2, 8.0, 4.0, 0.8)
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from obskit.errors import AnalysisError

__all__ = ["kernels_per_stream", "top_kernels"]

_OUT = pl.Schema(
    {
        "name": pl.String(),
        "calls": pl.Int64(),
        "total_us": pl.Float64(),
        "mean_us": pl.Float64(),
        "share": pl.Float64(),
    }
)


def top_kernels(
    kernels: pl.DataFrame,
    n: int = 10,
    *,
    categories: Iterable[str] = ("kernel",),
) -> pl.DataFrame:
    """The ``n`` GPU kernels that took the most total time.

    Parameters
    ----------
    kernels
        A ``kernels`` frame (needs ``name``, ``category`` and ``duration_us``).
    n
        How many rows to return.
    categories
        Event categories to count, ``("kernel",)`` by default; add ``"gpu_memcpy"`` and
        ``"gpu_memset"`` to rank copies too.

    Returns
    -------
    polars.DataFrame
        ``name``, ``calls``, ``total_us``, ``mean_us`` and ``share`` (0..1, of the total
        time of all events in ``categories``, not only the top ``n``), by ``total_us``
        descending; ties are broken by name. Empty when there are no such events.

    Raises
    ------
    AnalysisError
        A required column is missing, or ``n`` is negative.

    Examples
    --------
    >>> import polars as pl
    >>> k = pl.DataFrame({"name": ["a", "b"], "category": ["kernel", "cpu_op"],
    ...                   "duration_us": [1.0, 5.0]})
    >>> top_kernels(k)["name"].to_list()
    ['a']
    """
    missing = [c for c in ("name", "category", "duration_us") if c not in kernels.columns]
    if missing:
        raise AnalysisError(f"top_kernels needs columns {missing} in the kernels frame")
    if n < 0:
        raise AnalysisError(f"n must be >= 0, got {n}")
    picked = kernels.filter(pl.col("category").is_in(list(categories)))
    if picked.is_empty():
        return pl.DataFrame(schema=_OUT)
    total = picked["duration_us"].sum()
    return (
        picked.group_by("name")
        .agg(
            pl.len().cast(pl.Int64()).alias("calls"),
            pl.col("duration_us").sum().cast(pl.Float64()).alias("total_us"),
            pl.col("duration_us").mean().cast(pl.Float64()).alias("mean_us"),
        )
        .with_columns((pl.col("total_us") / total if total else pl.lit(0.0)).alias("share"))
        .sort(["total_us", "name"], descending=[True, False])
        .head(n)
        .select(list(_OUT))
    )


def kernels_per_stream(kernels: pl.DataFrame, *, categories: Iterable[str] = ("kernel",)) -> pl.DataFrame:
    """GPU time per device and CUDA stream (where work queued, and how unevenly).

    Parameters
    ----------
    kernels
        A ``kernels`` frame (``category``, ``duration_us``; ``host``, ``device`` and
        ``stream`` when the trace has them).
    categories
        Event categories counted (default: GPU kernels).

    Returns
    -------
    polars.DataFrame
        The grouping columns present (``host``, ``device``, ``stream``), ``kernels``,
        ``total_us`` and ``share`` of all counted time, busiest first.

    Examples
    --------
    >>> k = pl.DataFrame({"category": ["kernel"] * 3, "duration_us": [6.0, 2.0, 2.0], "device": [0, 0, 0],
    ...                   "stream": [7, 7, 13]})
    >>> kernels_per_stream(k).rows()
    [(0, 7, 2, 8.0, 0.8), (0, 13, 1, 2.0, 0.2)]
    """
    missing = [c for c in ("category", "duration_us") if c not in kernels.columns]
    if missing:
        raise AnalysisError(f"kernels_per_stream needs columns {missing} in the kernels frame")
    keys = [c for c in ("host", "device", "stream") if c in kernels.columns]
    picked = kernels.filter(pl.col("category").is_in(list(categories)))
    total = picked["duration_us"].sum() if picked.height else 0.0
    if not keys:
        picked = picked.with_columns(pl.lit("all").alias("stream"))
        keys = ["stream"]
    return (
        picked.group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("kernels"), pl.col("duration_us").sum().cast(pl.Float64).alias("total_us"))
        .with_columns((pl.col("total_us") / total if total else pl.lit(0.0)).alias("share"))
        .sort(["total_us", *keys], descending=[True] + [False] * len(keys), nulls_last=True)
    )
