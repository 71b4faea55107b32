"""The scale path: mergeable state, streaming over larger-than-memory parquet, Dask.

* :mod:`obskit.scale.sketches` — partial states that merge exactly or with a stated bound
  (exact counts, a relative-error quantile sketch, drift histograms on reference bins).
* :mod:`obskit.scale.streaming` — :func:`stream_window_stats` and :func:`stream_drift` over
  parquet files, folders (hive partitions) and globs with bounded memory.
* :mod:`obskit.scale.distributed` — the same analyses on a ``dask.distributed`` cluster
  (imported lazily: Dask is an optional dependency).
"""

from __future__ import annotations

from obskit.scale.sketches import (
    CategoricalCounts,
    FixedHistogram,
    NumericHistogram,
    QuantileSketch,
    RateCounts,
    SketchTable,
)
from obskit.scale.streaming import (
    DriftPlan,
    DriftSpec,
    DriftState,
    WindowState,
    drift_spec,
    drift_state,
    finish_drift,
    parquet_files,
    second_pass_spec,
    stream_drift,
    stream_window_stats,
    window_state,
)

__all__ = [
    "CategoricalCounts",
    "DriftPlan",
    "DriftSpec",
    "DriftState",
    "FixedHistogram",
    "NumericHistogram",
    "QuantileSketch",
    "RateCounts",
    "SketchTable",
    "WindowState",
    "drift_spec",
    "drift_state",
    "finish_drift",
    "parquet_files",
    "second_pass_spec",
    "stream_drift",
    "stream_window_stats",
    "window_state",
]
