"""GPU health from the ``gpu`` frame: per-window stats, idle/saturated/memory-pressure episodes, energy.

Episodes are found on the raw samples of each GPU: a run of consecutive samples meeting a
condition, broken by a sample that does not or by a gap in sampling longer than
``max_gap`` (default: three times the median sampling interval). An episode's duration is
the time from its first to its last sample.

Examples
--------
>>> from collections.abc import Sequence

import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> g = pl.DataFrame({"timestamp": [t0 + timedelta(seconds=10 * i) for i in range(30)], "gpu": 0,
...                   "utilization_pct": 50.0, "memory_used_mib": [950.0] * 20 + [100.0] * 10,
...                   "memory_total_mib": 1000.0})
>>> memory_pressure(g).select("gpu", "duration_s", "peak").row(0)
(0, 190.0, 0.95)
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from obskit.analyze._frames import every_us, require, runs, window_expr
from obskit.errors import AnalysisError

__all__ = [
    "device_names",
    "energy_per_1k_inferences",
    "gpu_stats",
    "idle_periods",
    "memory_pressure",
    "process_memory",
    "saturated_periods",
]

_MEM_SHARE = pl.col("memory_used_mib") / pl.col("memory_total_mib")


def _gpu_key(gpu: pl.DataFrame) -> list[str]:
    """The columns naming one device: ``host`` (when several machines were loaded) and ``gpu``."""
    return [c for c in ("host", "gpu") if c in gpu.columns]


def gpu_stats(gpu: pl.DataFrame, every: str = "5m") -> pl.DataFrame:
    """Per-GPU utilization, memory share, power and temperature per window.

    Parameters
    ----------
    gpu
        A ``gpu`` frame (``timestamp``, ``gpu``, ``utilization_pct``, ``memory_used_mib``,
        ``memory_total_mib``; ``power_w`` and ``temperature_c`` if present).
    every
        Window length.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``gpu``, ``samples``, ``util_mean_pct``, ``util_max_pct``,
        ``memory_share_mean``, ``memory_share_max`` (used / total, 0..1), ``power_mean_w``,
        ``temperature_mean_c``, ``temperature_max_c`` (null where the source lacks them).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> g = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in (0, 30)],
    ...                   "gpu": 0, "utilization_pct": [40.0, 60.0], "memory_used_mib": [10.0, 30.0],
    ...                   "memory_total_mib": 100.0, "power_w": [100.0, 200.0]})
    >>> gpu_stats(g, "1m").select("util_mean_pct", "memory_share_max", "power_mean_w").row(0)
    (50.0, 0.3, 150.0)
    """
    require(gpu, ["timestamp", "utilization_pct", "memory_used_mib", "memory_total_mib"], "gpu_stats")
    keys = _gpu_key(gpu)
    opt = {c: pl.col(c) if c in gpu.columns else pl.lit(None, dtype=pl.Float64) for c in ("power_w", "temperature_c")}
    return (
        gpu.lazy()
        .select(
            window_expr(every),
            *keys,
            pl.col("utilization_pct"),
            _MEM_SHARE.alias("_mem"),
            opt["power_w"].alias("_power"),
            opt["temperature_c"].alias("_temp"),
        )
        .group_by(["window_start", *keys])
        .agg(
            pl.len().cast(pl.Int64).alias("samples"),
            pl.col("utilization_pct").mean().alias("util_mean_pct"),
            pl.col("utilization_pct").max().alias("util_max_pct"),
            pl.col("_mem").mean().alias("memory_share_mean"),
            pl.col("_mem").max().alias("memory_share_max"),
            pl.col("_power").mean().alias("power_mean_w"),
            pl.col("_temp").mean().alias("temperature_mean_c"),
            pl.col("_temp").max().alias("temperature_max_c"),
        )
        .sort(["window_start", *keys])
        .collect()
    )


def _max_gap_us(gpu: pl.DataFrame, max_gap: str | None, keys: list[str]) -> int:
    if max_gap is not None:
        return every_us(max_gap)
    t = pl.col("timestamp").dt.epoch("us")
    d = (t - t.shift(1)).over(keys) if keys else t - t.shift(1)
    diffs = gpu.sort([*keys, "timestamp"]).select(d.alias("d")).to_series().drop_nulls()
    diffs = diffs.filter(diffs > 0)
    if diffs.is_empty():
        return 1_000_000
    return int(3 * float(diffs.median()))  # type: ignore[arg-type]


def _episodes(
    gpu: pl.DataFrame,
    value: pl.Expr,
    condition: pl.Expr,
    *,
    min_duration: str,
    max_gap: str | None,
    peak: str,
) -> pl.DataFrame:
    keys = _gpu_key(gpu)
    gap = _max_gap_us(gpu, max_gap, keys)
    need = every_us(min_duration)
    df = gpu.select("timestamp", *keys, value.alias("value"))
    hits = runs(df, condition, time="timestamp", by=keys, max_gap_us=gap).filter(pl.col("_run").is_not_null())
    agg_peak = pl.col("value").max() if peak == "max" else pl.col("value").min()
    out = (
        hits.group_by([*keys, "_run"])
        .agg(
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
            pl.len().cast(pl.Int64).alias("samples"),
            agg_peak.alias("peak"),
            pl.col("value").mean().alias("mean"),
        )
        .with_columns(((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6).alias("duration_s"))
        .filter(pl.col("duration_s") * 1e6 >= need)
        .sort(["start", *keys])
    )
    return out.select(*keys, "start", "end", "duration_s", "samples", "peak", "mean")


def idle_periods(
    gpu: pl.DataFrame, threshold_pct: float = 5.0, min_duration: str = "10m", *, max_gap: str | None = None
) -> pl.DataFrame:
    """Periods where a GPU's utilization stayed below ``threshold_pct`` for at least ``min_duration``.

    Returns
    -------
    polars.DataFrame
        ``gpu``, ``start``, ``end``, ``duration_s``, ``samples``, ``peak`` (the lowest
        utilization) and ``mean`` (percent).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> g = pl.DataFrame({"timestamp": [t0 + timedelta(minutes=i) for i in range(20)], "gpu": 0,
    ...                   "utilization_pct": [50.0] * 5 + [1.0] * 12 + [50.0] * 3})
    >>> idle_periods(g)["duration_s"].to_list()
    [660.0]
    """
    require(gpu, ["timestamp", "utilization_pct"], "idle_periods")
    u = pl.col("utilization_pct")
    return _episodes(gpu, u, pl.col("value") < threshold_pct, min_duration=min_duration, max_gap=max_gap, peak="min")


def saturated_periods(
    gpu: pl.DataFrame, threshold_pct: float = 90.0, min_duration: str = "5m", *, max_gap: str | None = None
) -> pl.DataFrame:
    """Periods where a GPU's utilization stayed above ``threshold_pct`` for at least ``min_duration``.

    Returns
    -------
    polars.DataFrame
        Same columns as :func:`idle_periods`; ``peak`` is the highest utilization.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> g = pl.DataFrame({"timestamp": [t0 + timedelta(minutes=i) for i in range(10)], "gpu": 0,
    ...                   "utilization_pct": [95.0] * 7 + [50.0] * 3})
    >>> saturated_periods(g).select("duration_s", "peak").row(0)
    (360.0, 95.0)
    """
    require(gpu, ["timestamp", "utilization_pct"], "saturated_periods")
    u = pl.col("utilization_pct")
    return _episodes(gpu, u, pl.col("value") > threshold_pct, min_duration=min_duration, max_gap=max_gap, peak="max")


def memory_pressure(
    gpu: pl.DataFrame, threshold: float = 0.9, min_duration: str = "2m", *, max_gap: str | None = None
) -> pl.DataFrame:
    """Episodes where used / total device memory stayed at or above ``threshold`` for ``min_duration``.

    Returns
    -------
    polars.DataFrame
        Same columns as :func:`idle_periods`; ``peak`` and ``mean`` are memory shares (0..1).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> g = pl.DataFrame({"timestamp": [t0 + timedelta(seconds=30 * i) for i in range(4)], "gpu": 0,
    ...                   "memory_used_mib": [95.0] * 4, "memory_total_mib": 100.0})
    >>> memory_pressure(g, min_duration="2m").height, memory_pressure(g, min_duration="1m").height
    (0, 1)
    """
    require(gpu, ["timestamp", "memory_used_mib", "memory_total_mib"], "memory_pressure")
    if not 0 < threshold <= 1:
        raise AnalysisError(f"threshold is a memory share in (0, 1], got {threshold}")
    return _episodes(
        gpu, _MEM_SHARE, pl.col("value") >= threshold, min_duration=min_duration, max_gap=max_gap, peak="max"
    )


def energy_per_1k_inferences(
    gpu: pl.DataFrame,
    requests: pl.DataFrame | pl.LazyFrame,
    every: str | None = "1h",
    *,
    max_gap: str | None = None,
) -> pl.DataFrame:
    """Energy drawn by the GPUs per 1000 requests, in watt-hours.

    Power is integrated over time per GPU with the trapezoidal rule between consecutive
    samples (intervals longer than ``max_gap`` are skipped: the GPU was not observed);
    each interval counts in the window where it starts. GPUs are summed.

    Parameters
    ----------
    gpu
        A ``gpu`` frame with ``power_w``.
    requests
        A ``requests`` frame (``timestamp``); every request counts as an inference.
    every
        Window length, or None for one row over the whole GPU span.
    max_gap
        Longest sampling gap bridged; default three times the median interval.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``energy_wh``, ``requests``, ``wh_per_1k`` (null without requests).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> g = pl.DataFrame({"timestamp": [t0 + timedelta(minutes=10 * i) for i in range(7)], "gpu": 0,
    ...                   "power_w": 100.0})
    >>> r = pl.DataFrame({"timestamp": [t0] * 500})
    >>> out = energy_per_1k_inferences(g, r, every=None)
    >>> out.select(pl.col("energy_wh").round(9), "requests", pl.col("wh_per_1k").round(9)).row(0)
    (100.0, 500, 200.0)
    """
    require(gpu, ["timestamp", "power_w"], "energy_per_1k_inferences")
    req = requests.lazy()
    require(req, ["timestamp"], "energy_per_1k_inferences")
    keys = _gpu_key(gpu)
    gap = _max_gap_us(gpu, max_gap, keys)
    df = gpu.select("timestamp", *keys, "power_w").drop_nulls().sort([*keys, "timestamp"])
    t = pl.col("timestamp").dt.epoch("us")
    nxt_t = t.shift(-1).over(keys) if keys else t.shift(-1)
    nxt_p = pl.col("power_w").shift(-1).over(keys) if keys else pl.col("power_w").shift(-1)
    dt_h = (nxt_t - t) / 3.6e9
    seg = df.with_columns(
        pl.when((nxt_t - t) <= gap).then((pl.col("power_w") + nxt_p) / 2.0 * dt_h).otherwise(0.0).alias("_wh"),
        nxt_t.is_not_null().alias("_has_next"),
    )
    if every is None:
        if seg.is_empty():
            raise AnalysisError("energy_per_1k_inferences: no power samples")
        start = seg.get_column("timestamp").min()
        end = seg.get_column("timestamp").max()
        n = (req.filter(pl.col("timestamp").is_between(start, end, closed="both")).select(pl.len())
             .collect(engine="streaming").item())
        energy = pl.DataFrame({"window_start": [start], "energy_wh": [float(seg.get_column("_wh").sum())]})
        counts = pl.DataFrame({"window_start": [start], "requests": [int(n)]})
    else:
        # the last sample of a GPU starts no interval: it adds no window of its own
        energy = seg.filter("_has_next").group_by(window_expr(every)).agg(pl.col("_wh").sum().alias("energy_wh"))
        counts = (
            req.select(window_expr(every)).group_by("window_start").agg(pl.len().cast(pl.Int64).alias("requests"))
        ).collect(engine="streaming")
    out = energy.join(counts, on="window_start", how="left").with_columns(
        pl.col("requests").fill_null(0).cast(pl.Int64)
    )
    return out.with_columns(
        pl.when(pl.col("requests") > 0).then(pl.col("energy_wh") / pl.col("requests") * 1000.0).alias("wh_per_1k")
    ).sort("window_start")


def process_memory(processes: pl.DataFrame) -> pl.DataFrame:
    """Per process on each GPU: peak and mean device memory, SM use, when it was seen.

    Parameters
    ----------
    processes
        A ``gpu_processes`` frame (``pid``; ``host``, ``gpu``, ``process_name``,
        ``used_memory_mib``, ``sm_pct``, ``timestamp`` when present), from pmon or
        ``--query-compute-apps``.

    Returns
    -------
    polars.DataFrame
        The key columns present (``host``, ``gpu``, ``pid``, ``process_name``),
        ``samples``, ``peak_memory_mib``, ``mean_memory_mib``, ``mean_sm_pct``,
        ``first_seen``, ``last_seen``; the biggest memory user first.

    Examples
    --------
    >>> p = pl.DataFrame({"gpu": [0, 0, 0], "pid": [1, 1, 2], "process_name": ["triton", "triton", "py"],
    ...                   "used_memory_mib": [900.0, 1000.0, 50.0]})
    >>> process_memory(p).select("pid", "samples", "peak_memory_mib").rows()
    [(1, 2, 1000.0), (2, 1, 50.0)]
    """
    if "pid" not in processes.columns:
        raise AnalysisError("process_memory needs a pid column (a gpu_processes frame)")
    keys = [c for c in ("host", "gpu", "pid", "process_name") if c in processes.columns]

    def col(name: str, how: str) -> pl.Expr:
        if name not in processes.columns:
            return pl.lit(None, dtype=pl.Float64)
        c = pl.col(name).cast(pl.Float64)
        return c.max() if how == "max" else c.mean()

    return (
        processes.group_by(keys)
        .agg(
            pl.len().cast(pl.Int64).alias("samples"),
            col("used_memory_mib", "max").alias("peak_memory_mib"),
            col("used_memory_mib", "mean").alias("mean_memory_mib"),
            col("sm_pct", "mean").alias("mean_sm_pct"),
            *([pl.col("timestamp").min().alias("first_seen"), pl.col("timestamp").max().alias("last_seen")]
              if "timestamp" in processes.columns else []),
        )
        .sort(["peak_memory_mib", *keys], descending=[True] + [False] * len(keys), nulls_last=True)
    )


def device_names(gpu: pl.DataFrame, keys: Sequence[str] = ("host", "gpu")) -> pl.DataFrame:
    """A readable name per device: ``keys`` -> ``device`` (``node2 · gpu 0 · NVIDIA A10G``).

    Examples
    --------
    >>> g = pl.DataFrame({"host": ["a", "a"], "gpu": [0, 1], "name": ["NVIDIA A10G", None]})
    >>> device_names(g).sort("gpu")["device"].to_list()
    ['a · gpu 0 · NVIDIA A10G', 'a · gpu 1']
    """
    keys = [k for k in keys if k in gpu.columns]
    parts: list[pl.Expr] = []
    if "host" in keys:
        parts.append(pl.col("host").cast(pl.String).fill_null("?"))
    if "gpu" in keys:
        parts.append(pl.lit("gpu ") + pl.col("gpu").cast(pl.String).fill_null("?"))
    labels = gpu.select(keys).unique()
    if "name" in gpu.columns and keys:
        names = gpu.group_by(keys).agg(pl.col("name").drop_nulls().first())
        labels = labels.join(names, on=keys, how="left", nulls_equal=True)
        parts.append(pl.col("name").fill_null(""))
    label = pl.concat_str(parts, separator=" · ").str.strip_chars(" ·") if parts else pl.lit("gpu")
    return labels.select(*keys, label.alias("device"))
