"""Traffic, errors and exact latency percentiles per time window, from the ``requests`` frame.

Percentiles are exact order statistics of the requests in each window, with **linear
interpolation** between the two nearest ranks — the same as ``numpy.quantile``'s default
``method="linear"`` (Hyndman & Fan type 7).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> df = pl.DataFrame({
...     "timestamp": [datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in range(4)],
...     "latency_ms": [10.0, 20.0, 30.0, 40.0],
...     "status": ["ok", "ok", "error", "ok"],
... })
>>> window_stats(df, every="1m", quantiles=(0.5,)).select("requests", "error_rate", "p50_ms").row(0)
(4, 0.25, 25.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from obskit.analyze._frames import window_expr
from obskit.errors import AnalysisError
from obskit.timeutil import polars_every

__all__ = ["DEFAULT_QUANTILES", "quantile_column", "window_stats"]

DEFAULT_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)


def quantile_column(q: float) -> str:
    """Column name for quantile ``q`` (``0.99`` -> ``"p99_ms"``, ``0.999`` -> ``"p99.9_ms"``).

    >>> quantile_column(0.999)
    'p99.9_ms'
    """
    pct = f"{q * 100:.6g}"
    return f"p{pct}_ms"


def window_stats(
    requests: pl.DataFrame | pl.LazyFrame,
    *,
    every: str = "5m",
    by: Sequence[str] = (),
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> pl.DataFrame:
    """Requests, errors, error rate, throughput and exact latency percentiles per window.

    Parameters
    ----------
    requests
        A ``requests`` frame (needs ``timestamp``, ``latency_ms``, ``status``).
    every
        Window length, e.g. ``"1m"``, ``"5m"``, ``"1h"``; windows start on multiples of it.
    by
        Extra grouping columns, e.g. ``("model", "model_version")``.
    quantiles
        Latency quantiles in (0, 1).

    Returns
    -------
    polars.DataFrame
        ``window_start``, the ``by`` columns, ``requests``, ``errors``, ``error_rate``,
        ``rps``, ``mean_ms`` and one ``pXX_ms`` column per quantile. Windows without
        requests are absent.
    """
    for q in quantiles:
        if not 0 < q < 1:
            raise AnalysisError(f"quantile must be in (0, 1), got {q}")
    lf = requests.lazy()
    missing = {"timestamp", "latency_ms", "status"} - set(lf.collect_schema().names())
    if missing:
        raise AnalysisError(f"requests frame lacks {sorted(missing)}")
    every_s = polars_every(every)
    seconds = int(every_s[:-1])
    is_err = (pl.col("status").cast(pl.String) == "error")
    aggs = [
        pl.len().alias("requests"),
        is_err.sum().cast(pl.Int64).alias("errors"),
        pl.col("latency_ms").mean().alias("mean_ms"),
        *[pl.col("latency_ms").quantile(q, interpolation="linear").alias(quantile_column(q)) for q in quantiles],
    ]
    out = (
        lf.with_columns(window_expr(every))
        .group_by(["window_start", *by])
        .agg(aggs)
        .with_columns(
            (pl.col("errors") / pl.col("requests")).alias("error_rate"),
            (pl.col("requests") / seconds).alias("rps"),
        )
        .sort(["window_start", *by])
        .collect()
    )
    lead = ["window_start", *by, "requests", "errors", "error_rate", "rps", "mean_ms"]
    return out.select(lead + [quantile_column(q) for q in quantiles])
