"""GPU gauges scraped by Prometheus (DCGM exporter, Triton ``nv_gpu_*``) as the ``gpu`` frame.

The text and API loaders give the long ``metrics`` frame; this pivots the GPU families of it
into one row per GPU per timestamp with the canonical units:

=========================  ===========================================  ======================
canonical column           DCGM exporter                                Triton
=========================  ===========================================  ======================
``utilization_pct``        ``DCGM_FI_DEV_GPU_UTIL`` (%)                 ``nv_gpu_utilization`` (0..1, ×100)
``memory_used_mib``        ``DCGM_FI_DEV_FB_USED`` (MiB)                ``nv_gpu_memory_used_bytes`` (÷2^20)
``memory_total_mib``       ``FB_USED + FB_FREE (+ FB_RESERVED)``        ``nv_gpu_memory_total_bytes`` (÷2^20)
``power_w``                ``DCGM_FI_DEV_POWER_USAGE`` (W)              ``nv_gpu_power_usage`` (W)
``power_limit_w``          —                                            ``nv_gpu_power_limit`` (W)
``temperature_c``          ``DCGM_FI_DEV_GPU_TEMP``                     —
``sm_clock_mhz``           ``DCGM_FI_DEV_SM_CLOCK``                     —
``mem_clock_mhz``          ``DCGM_FI_DEV_MEM_CLOCK``                    —
``memory_utilization_pct`` ``DCGM_FI_DEV_MEM_COPY_UTIL`` (%)            —
=========================  ===========================================  ======================

DCGM blank sentinels are already null in the metrics frame and stay null.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> m = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)] * 2,
...                   "metric": ["nv_gpu_utilization", "nv_gpu_memory_used_bytes"],
...                   "value": [0.42, 2.0 * 2**30], "gpu_uuid": ["GPU-1", "GPU-1"]})
>>> gpu_from_metrics(m).select("uuid", "utilization_pct", "memory_used_mib").row(0)
('GPU-1', 42.0, 2048.0)
"""

from __future__ import annotations

import polars as pl

from obskit.errors import SourceError
from obskit.schemas import GPU

__all__ = ["gpu_from_metrics"]

_MIB = 1048576.0
# metric -> (canonical column, scale)
_DCGM = {
    "DCGM_FI_DEV_GPU_UTIL": ("utilization_pct", 1.0),
    "DCGM_FI_DEV_MEM_COPY_UTIL": ("memory_utilization_pct", 1.0),
    "DCGM_FI_DEV_FB_USED": ("memory_used_mib", 1.0),
    "DCGM_FI_DEV_FB_FREE": ("_fb_free", 1.0),
    "DCGM_FI_DEV_FB_RESERVED": ("_fb_reserved", 1.0),
    "DCGM_FI_DEV_POWER_USAGE": ("power_w", 1.0),
    "DCGM_FI_DEV_GPU_TEMP": ("temperature_c", 1.0),
    "DCGM_FI_DEV_SM_CLOCK": ("sm_clock_mhz", 1.0),
    "DCGM_FI_DEV_MEM_CLOCK": ("mem_clock_mhz", 1.0),
}
_TRITON = {
    "nv_gpu_utilization": ("utilization_pct", 100.0),
    "nv_gpu_memory_used_bytes": ("memory_used_mib", 1 / _MIB),
    "nv_gpu_memory_total_bytes": ("memory_total_mib", 1 / _MIB),
    "nv_gpu_power_usage": ("power_w", 1.0),
    "nv_gpu_power_limit": ("power_limit_w", 1.0),
}


def gpu_from_metrics(metrics: pl.DataFrame) -> pl.DataFrame:
    """Pivot DCGM or Triton GPU families of a ``metrics`` frame into the ``gpu`` frame.

    GPUs are identified by ``UUID``/``gpu`` labels (DCGM) or ``gpu_uuid`` (Triton); the
    ``gpu`` index is the DCGM ``gpu`` label, else the order of first appearance.

    Raises
    ------
    SourceError
        The frame holds no DCGM or Triton GPU metric.
    """
    table = {**_DCGM, **_TRITON}
    sub = metrics.filter(pl.col("metric").is_in(list(table)))
    if sub.height == 0:
        raise SourceError("no DCGM (DCGM_FI_DEV_*) or Triton (nv_gpu_*) GPU metric in the frame")
    uuid = pl.coalesce([pl.col(c).cast(pl.String) for c in ("UUID", "gpu_uuid") if c in sub.columns] or
                       [pl.lit(None, pl.String)])
    index = pl.col("gpu").cast(pl.Int32, strict=False) if "gpu" in sub.columns else pl.lit(None, pl.Int32)
    name = pl.col("modelName").cast(pl.String) if "modelName" in sub.columns else pl.lit(None, pl.String)
    mapping = pl.DataFrame({"metric": list(table), "column": [v[0] for v in table.values()],
                            "scale": [v[1] for v in table.values()]})
    long = (
        sub.select("timestamp", "metric", "value", uuid.alias("uuid"), index.alias("gpu"), name.alias("name"))
        .join(mapping, on="metric")
        .with_columns((pl.col("value") * pl.col("scale")).alias("value"))
    )
    if long["gpu"].null_count():
        order = long.select("uuid").unique(maintain_order=True).with_row_index("_idx")
        long = long.join(order, on="uuid", how="left").with_columns(
            pl.coalesce(pl.col("gpu"), pl.col("_idx").cast(pl.Int32)).alias("gpu")).drop("_idx")
    wide = long.pivot(on="column", index=["timestamp", "gpu", "uuid"], values="value", aggregate_function="last")
    names = long.group_by("uuid").agg(pl.col("name").drop_nulls().first())
    wide = wide.join(names, on="uuid", how="left")
    if "_fb_free" in wide.columns and "memory_used_mib" in wide.columns:
        reserved = pl.col("_fb_reserved").fill_null(0.0) if "_fb_reserved" in wide.columns else pl.lit(0.0)
        total = pl.col("memory_used_mib") + pl.col("_fb_free") + reserved
        wide = wide.with_columns(
            (pl.col("memory_total_mib") if "memory_total_mib" in wide.columns else total).alias("memory_total_mib"))
    cols = []
    for c in GPU.columns:
        cols.append(pl.col(c.name).cast(c.dtype) if c.name in wide.columns else pl.lit(None, c.dtype).alias(c.name))
    return wide.select(cols).sort("timestamp", "gpu")
