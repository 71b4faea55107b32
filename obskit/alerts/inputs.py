"""The result frames the signal registry reads, computed from canonical frames.

:func:`signal_frames` is the one place that turns a period's data into the frames that
:func:`obskit.alerts.evaluate` needs (``window_stats`` and ``latency_slo`` at 1 minute,
``drift_over_time`` hourly with KL divergence, ``business`` hourly, ``versions`` every 5
minutes, ``gpu``).
Sources that are missing are simply absent; rules on them are then reported as skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = ["signal_frames"]


def signal_frames(
    requests: pl.DataFrame | None,
    *,
    reference: pl.DataFrame | None = None,
    gpu: pl.DataFrame | None = None,
    features: Sequence[str] = (),
    confidence_threshold: float = 0.8,
    slo_ms: float | None = None,
    drift_every: str = "1h",
) -> dict[str, pl.DataFrame]:
    """Frames for the built-in signals from the period's canonical frames.

    >>> signal_frames(None)
    {}
    """
    from obskit.analyze.business import business_metrics
    from obskit.analyze.drift import drift_over_time
    from obskit.analyze.serving import window_stats
    from obskit.analyze.versions import version_latency_ratio

    frames: dict[str, pl.DataFrame] = {}
    if requests is not None and requests.height:
        frames["window_stats"] = window_stats(requests, every="1m", quantiles=(0.5, 0.9, 0.95, 0.99))
        frames["versions"] = version_latency_ratio(requests, every="5m")
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
        cols = [c for c in features if c in requests.columns and reference is not None and c in reference.columns]
        if reference is not None and cols:
            ok = requests.filter(pl.col("status").cast(pl.String) == "ok")
            frames["drift_over_time"] = drift_over_time(reference, ok, every=drift_every, columns=cols,
                                                        method="kl_div", n_boot=20)
    if gpu is not None and gpu.height:
        frames["gpu"] = gpu
    return frames
