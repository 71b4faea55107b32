"""The result frames the signal registry reads, computed from canonical frames.

:func:`signal_frames` is the one place that turns a period's data into the frames that
:func:`obskit.alerts.evaluate` needs (``window_stats`` and ``latency_slo`` at 1 minute,
``drift_over_time`` hourly with KL divergence, ``business`` hourly, ``versions`` every 5
minutes, ``gpu``).
Sources that are missing are simply absent; rules on them are then reported as skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import polars as pl

__all__ = ["row_signal_frames", "signal_frames", "zero_filled"]


def testable(requests: pl.DataFrame, reference: pl.DataFrame, column: str) -> bool:
    """Whether drift over time can test ``column``: in both frames, values on both sides, kinds alike.

    A reference column of nulls has nothing to compare against, and a column numeric on one
    side and text on the other (``"1920px"``) has no common test: such a feature is skipped
    (the drift section says why), never the end of the run.
    """
    if column not in requests.columns or column not in reference.columns:
        return False
    ref, cur = reference[column], requests[column]
    if ref.null_count() == ref.len() or cur.null_count() == cur.len():
        return False
    return ref.dtype.is_numeric() == cur.dtype.is_numeric()


def signal_frames(
    requests: pl.DataFrame | None,
    *,
    reference: pl.DataFrame | None = None,
    gpu: pl.DataFrame | None = None,
    features: Sequence[str] = (),
    confidence_threshold: float = 0.8,
    slo_ms: float | None = None,
    drift_every: str = "1h",
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, pl.DataFrame]:
    """Frames for the built-in signals from the period's canonical frames.

    ``start``/``end`` bound the period: minutes without any request between them exist in
    ``window_stats`` with zero requests (an outage is a value, not a gap).

    >>> signal_frames(None)
    {}
    """
    from obskit.alerts import baselines, hardware, model_signals, segment_signals
    from obskit.analyze.business import business_metrics
    from obskit.analyze.drift import drift_over_time
    from obskit.analyze.serving import window_stats

    frames: dict[str, pl.DataFrame] = {}
    if requests is not None and requests.height:
        ws = window_stats(requests, every="1m", quantiles=(0.5, 0.9, 0.95, 0.99))
        grid = baselines.minute_grid(requests, start, end)
        frames["window_stats"] = zero_filled(ws, grid if end is None else grid[:-1])
        if "model_version" in requests.columns:  # (rules with by = ["model_version"] on the counts)
            full = grid if end is not None else np.append(grid, grid[-1] + baselines.MIN_US)
            frames["window_stats_by_version"] = baselines.version_window_stats(
                full, baselines.per_version_minutes(requests, full))
        frames["traffic_ratio"] = baselines.traffic_ratio(requests, start=start, end=end)
        frames["error_excess"] = baselines.error_excess(requests, start=start, end=end)
        frames["label_arrival"] = model_signals.label_arrival(requests, start=start, end=end)
        frames.update(row_signal_frames(requests, reference=reference, features=features, start=start, end=end))
        frames["versions"] = segment_signals.version_latency_tail(requests, every="5m")
        frames["version_error_ratio"] = segment_signals.version_error_ratio(requests, start=start, end=end)
        if slo_ms is not None:
            is_ok = pl.col("status").cast(pl.String) == "ok"
            frames["latency_slo"] = (
                requests.group_by(pl.col("timestamp").dt.truncate("1m").alias("window_start"))
                .agg(is_ok.sum().cast(pl.Int64).alias("ok"),
                     (is_ok & (pl.col("latency_ms") > slo_ms)).sum().cast(pl.Int64).alias("slow"))
                .with_columns((pl.col("slow") / pl.col("ok")).alias("slow_share"))
                .sort("window_start")
            )
        if "confidence" in requests.columns:
            frames["business"] = business_metrics(requests, every="1h", confidence_threshold=confidence_threshold)
        cols = [c for c in features if reference is not None and testable(requests, reference, c)]
        if reference is not None and cols:
            ok = requests.filter(pl.col("status").cast(pl.String) == "ok")
            frames["drift_over_time"] = drift_over_time(reference, ok, every=drift_every, columns=cols,
                                                        method="kl_div", n_boot=20)
    if gpu is not None and gpu.height:
        frames["gpu"] = gpu
        frames["gpu_sm_clock_ratio"] = hardware.gpu_sm_clock_ratio(gpu)
        frames["gpu_memory_growth"] = hardware.gpu_memory_growth(gpu)
    return frames


def row_signal_frames(requests: pl.DataFrame, *, reference: pl.DataFrame | None = None, features: Sequence[str] = (),
                      start: datetime | None = None, end: datetime | None = None,
                      latency: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """The signals that read the last ``n`` matching rows at each grid time (``ROW_SIGNAL_FRAMES``).

    ``requests`` is the period's rows, or at scale the rows :func:`obskit.alerts.row_tails.tail_rows`
    kept (then ``latency`` holds its kept successful latencies and ``start``/``end`` are the
    period's first and last minutes): the values are the same.
    """
    from obskit.alerts import baselines, model_signals, segment_signals

    frames: dict[str, pl.DataFrame] = {}
    lat = requests if latency is None else latency
    if lat.height:
        frames["latency_ratio"] = baselines.latency_ratio(lat, start=start, end=end)
    if not requests.height:
        return frames
    if "prediction" in requests.columns:
        frames["class_mix_shift"] = model_signals.class_mix_shift(requests, reference, start=start, end=end)
        if reference is not None and "prediction" in reference.columns:
            frames["class_takeover"] = model_signals.class_takeover(requests, reference, start=start, end=end)
            frames.update(segment_signals.version_classes(requests, reference, start=start, end=end))
    if "confidence" in requests.columns:
        frames["confidence_shift"] = model_signals.confidence_shift(requests, reference, start=start, end=end)
    if reference is not None and features:
        frames["feature_shift"] = model_signals.feature_shift(requests, reference, features, start=start, end=end)
    if features:
        frames["feature_null_share"] = model_signals.feature_null_share(requests, reference, features,
                                                                        start=start, end=end)
    return frames


def zero_filled(ws: pl.DataFrame, grid_us: np.ndarray) -> pl.DataFrame:
    """``window_stats`` with a row for every minute start in ``grid_us``: no request = 0 requests, 0 rps."""
    if "window_start" not in ws.columns or grid_us.size < 2:
        return ws
    minutes = pl.DataFrame({"window_start": pl.Series(grid_us).cast(pl.Datetime("us"))
                            .dt.replace_time_zone("UTC")})
    minutes = minutes.with_columns(pl.col("window_start").cast(ws.schema["window_start"]))
    out = minutes.join(ws, on="window_start", how="left")
    zero = [pl.col(c).fill_null(0) for c in ("requests", "errors", "rps") if c in out.columns]
    return out.with_columns(zero) if zero else out
