"""GPU health signals from the canonical ``gpu`` frame: clocks, power and memory trends.

Signal frames: ``timestamp`` (sample time), ``host`` and ``gpu`` labels, ``value``.

``gpu_sm_clock_ratio``
    SM clock / the highest SM clock this GPU has shown so far (a causal running maximum),
    on busy samples only (utilization >= 50%: idle GPUs clock down by design). Thermal or
    power throttling reads 0.7-0.85.
``gpu_memory_growth``
    Least-squares slope of used memory over the trailing 30 minutes, as a share of total
    memory per hour (a leak of 1.6 GiB/h on a 23 GiB card reads 0.07).

Temperature, utilization and power against the limit read the ``gpu`` frame directly
(signals ``gpu_temperature_c``, ``gpu_utilization_pct``, ``gpu_power_share``).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> g = pl.DataFrame({"timestamp": [t0 + timedelta(seconds=10 * i) for i in range(4)], "gpu": [0] * 4,
...                   "utilization_pct": [90.0] * 4, "sm_clock_mhz": [1700.0, 1700.0, 1400.0, 1700.0]})
>>> gpu_sm_clock_ratio(g)["value"].round(3).to_list()
[1.0, 1.0, 0.824, 1.0]
"""

from __future__ import annotations

import polars as pl

from obskit.timeutil import parse_duration

__all__ = ["gpu_memory_growth", "gpu_sm_clock_ratio"]

_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "timestamp": pl.Datetime("us", "UTC"), "host": pl.String, "gpu": pl.String, "value": pl.Float64,
}


def _labels(gpu: pl.DataFrame) -> list[pl.Expr]:
    host = pl.col("host").cast(pl.String) if "host" in gpu.columns else pl.lit("")
    return [host.fill_null("").alias("host"), pl.col("gpu").cast(pl.String).fill_null("").alias("gpu")]


def gpu_sm_clock_ratio(gpu: pl.DataFrame, *, busy_pct: float = 50.0) -> pl.DataFrame:
    """SM clock / its running maximum on busy samples, per GPU."""
    if not {"sm_clock_mhz", "utilization_pct"} <= set(gpu.columns):
        return pl.DataFrame(schema=_SCHEMA)
    g = (gpu.select("timestamp", *_labels(gpu), pl.col("sm_clock_mhz").cast(pl.Float64),
                    pl.col("utilization_pct").cast(pl.Float64))
         .drop_nulls().filter(pl.col("utilization_pct") >= busy_pct).sort("host", "gpu", "timestamp"))
    return g.with_columns(
        (pl.col("sm_clock_mhz") / pl.col("sm_clock_mhz").cum_max().over("host", "gpu")).alias("value")
    ).select("timestamp", "host", "gpu", "value")


def gpu_memory_growth(gpu: pl.DataFrame, *, window: str = "30m") -> pl.DataFrame:
    """Trailing least-squares slope of used memory, in shares of total memory per hour, per GPU."""
    if not {"memory_used_mib", "memory_total_mib"} <= set(gpu.columns):
        return pl.DataFrame(schema=_SCHEMA)
    g = (gpu.select("timestamp", *_labels(gpu), pl.col("memory_used_mib").cast(pl.Float64),
                    pl.col("memory_total_mib").cast(pl.Float64))
         .drop_nulls().sort("host", "gpu", "timestamp"))
    if g.height == 0:
        return pl.DataFrame(schema=_SCHEMA)
    hours = (pl.col("timestamp").dt.epoch("us") - pl.col("timestamp").dt.epoch("us").min()) / 3.6e9
    y = pl.col("memory_used_mib") / pl.col("memory_total_mib")
    g = g.with_columns(hours.over("host", "gpu").alias("_x"), y.alias("_y"))
    g = g.with_columns((pl.col("_x") * pl.col("_y")).alias("_xy"), (pl.col("_x") ** 2).alias("_xx"),
                       pl.lit(1.0).alias("_n"))
    sums = [pl.col(c).rolling_sum_by("timestamp", window_size=window).over("host", "gpu").alias(f"s{c}")
            for c in ("_x", "_y", "_xy", "_xx", "_n")]
    g = g.with_columns(sums)
    span = pl.col("timestamp") - pl.col("timestamp").min().over("host", "gpu")
    den = pl.col("s_n") * pl.col("s_xx") - pl.col("s_x") ** 2
    slope = (pl.col("s_n") * pl.col("s_xy") - pl.col("s_x") * pl.col("s_y")) / den
    full = span >= pl.lit(parse_duration(window))
    return g.with_columns(
        pl.when(full & (pl.col("s_n") >= 10) & (den > 0)).then(slope).otherwise(None).alias("value")
    ).select("timestamp", "host", "gpu", "value")
