"""Serving cost per 1000 inferences from GPU-hours and a price per GPU-hour.

GPU-hours are the time each GPU was observed in the ``gpu`` frame (first to last sample,
summed over GPUs), or, per window, the window length times the GPUs seen in it: a GPU
that is provisioned costs money whether or not it is busy.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> gpu = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, h, tzinfo=UTC) for h in (0, 10)] * 2,
...                     "gpu": [0, 0, 1, 1]})
>>> req = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, 5, tzinfo=UTC)] * 60_000})
>>> cost_per_1k(gpu, req, price_per_gpu_hour=1.5).select("gpu_hours", "cost", "cost_per_1k").row(0)
(20.0, 30.0, 0.5)
"""

from __future__ import annotations

import polars as pl

from obskit.analyze._frames import every_us, require, window_expr
from obskit.errors import AnalysisError

__all__ = ["cost_per_1k"]


def cost_per_1k(
    gpu: pl.DataFrame,
    requests: pl.DataFrame | pl.LazyFrame,
    price_per_gpu_hour: float,
    *,
    every: str | None = None,
) -> pl.DataFrame:
    """Cost of serving and cost per 1000 requests.

    Parameters
    ----------
    gpu
        A ``gpu`` frame (``timestamp``; ``gpu`` to tell GPUs apart).
    requests
        A ``requests`` frame (``timestamp``); requests outside the GPU span are not
        counted in the whole-span row.
    price_per_gpu_hour
        Price of one GPU for one hour (any currency).
    every
        None: one row over the whole span. A duration: one row per window, each GPU seen
        in a window counting for the full window.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``gpus``, ``gpu_hours``, ``requests``, ``cost`` and
        ``cost_per_1k`` (null without requests).

    Raises
    ------
    AnalysisError
        Missing columns, an empty GPU frame or a negative price.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> gpu = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in (0, 30, 59)],
    ...                     "gpu": 0})
    >>> req = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, 0, 1, tzinfo=UTC)] * 4000})
    >>> cost_per_1k(gpu, req, 2.0, every="1h").select("gpu_hours", "cost_per_1k").row(0)
    (1.0, 0.5)
    """
    if price_per_gpu_hour < 0:
        raise AnalysisError(f"price_per_gpu_hour must be >= 0, got {price_per_gpu_hour}")
    require(gpu, ["timestamp"], "cost_per_1k")
    lf = requests.lazy()
    require(lf, ["timestamp"], "cost_per_1k")
    if gpu.is_empty():
        raise AnalysisError("cost_per_1k: the gpu frame is empty")
    keys = [c for c in ("host", "gpu") if c in gpu.columns]
    if every is None:
        spans = gpu.group_by(keys).agg(pl.col("timestamp").min().alias("a"), pl.col("timestamp").max().alias("b")) \
            if keys else gpu.select(pl.col("timestamp").min().alias("a"), pl.col("timestamp").max().alias("b"))
        hours = float(spans.select(((pl.col("b") - pl.col("a")).dt.total_microseconds() / 3.6e9).sum()).item())
        start, end = gpu.get_column("timestamp").min(), gpu.get_column("timestamp").max()
        n = lf.filter(pl.col("timestamp").is_between(start, end, closed="both")).select(pl.len()).collect().item()
        out = pl.DataFrame(
            {"window_start": [start], "gpus": [spans.height], "gpu_hours": [hours], "requests": [int(n)]},
            schema_overrides={"window_start": gpu.schema["timestamp"], "gpus": pl.Int64, "requests": pl.Int64},
        )
    else:
        hours_per_window = every_us(every) / 3.6e9
        gpus = gpu.select(window_expr(every), *keys).group_by("window_start").agg(
            (pl.struct(keys).n_unique() if keys else pl.lit(1)).cast(pl.Int64).alias("gpus")
        )
        counts = lf.select(window_expr(every)).group_by("window_start").agg(
            pl.len().cast(pl.Int64).alias("requests")
        ).collect()
        out = (
            gpus.join(counts, on="window_start", how="left")
            .with_columns(pl.col("requests").fill_null(0), (pl.col("gpus") * hours_per_window).alias("gpu_hours"))
            .select("window_start", "gpus", "gpu_hours", "requests")
        )
    return out.with_columns((pl.col("gpu_hours") * price_per_gpu_hour).alias("cost")).with_columns(
        pl.when(pl.col("requests") > 0).then(pl.col("cost") / pl.col("requests") * 1000.0).alias("cost_per_1k")
    ).sort("window_start")
