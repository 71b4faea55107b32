"""Capacity: how many replicas keep GPU utilization under a target at the day's peak.

The model is the simplest one that fits a GPU inference server: per replica, utilization
grows linearly with the requests it serves, ``util = idle + slope * rps_per_replica``.
Both terms are fitted (least squares) on the windows of the observed day; the peak load is
the busiest window. Spreading the peak over ``R`` replicas keeps each under the target
(80 % by default, the usual "80 % rule" that leaves headroom for bursts and failover) when
``idle + slope * peak_rps / R <= target``, so ``R = ceil(slope * peak_rps / (target -
idle))``. With no idle draw this is ``ceil(peak_util / target)`` in GPU units.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> ts = [t0 + timedelta(minutes=5 * i) for i in range(4)]
>>> req = pl.DataFrame({"timestamp": [t for t, n in zip(ts, (300, 600, 900, 1200)) for _ in range(n)]})
>>> gpu = pl.DataFrame({"timestamp": ts, "gpu": 0, "utilization_pct": [20.0, 40.0, 60.0, 80.0]})
>>> plan = replicas_needed(req, gpu, target_util=0.5)
>>> plan.replicas, round(plan.peak_rps, 2), round(plan.util_per_rps, 4)
(2, 4.0, 20.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from obskit.analyze._frames import every_us, require, window_expr
from obskit.errors import AnalysisError

__all__ = ["CapacityPlan", "replicas_needed"]


@dataclass(frozen=True)
class CapacityPlan:
    """Numbers behind a replica recommendation, and a sentence explaining them."""

    current_replicas: int
    replicas: int
    target_util_pct: float
    peak_rps: float
    peak_window: object
    observed_peak_util_pct: float
    idle_util_pct: float
    util_per_rps: float
    peak_util_gpus: float
    fit_r2: float
    windows: int
    explanation: str
    enough_evidence: bool = True

    def frame(self) -> pl.DataFrame:
        """The plan as a one-row frame (for reports and alert rules)."""
        return pl.DataFrame([asdict(self)])


def replicas_needed(
    requests: pl.DataFrame | pl.LazyFrame,
    gpu: pl.DataFrame,
    *,
    target_util: float = 0.8,
    every: str = "5m",
    min_r2: float = 0.5,
    min_windows: int = 3,
) -> CapacityPlan:
    """Replicas (GPUs) needed to keep utilization under ``target_util`` at the observed peak.

    Parameters
    ----------
    requests
        A ``requests`` frame (``timestamp``): the load.
    gpu
        A ``gpu`` frame (``timestamp``, ``utilization_pct``; ``gpu`` to count replicas)
        covering the same period. Each GPU is one replica.
    target_util
        Utilization ceiling per replica, as a share (0.8 = 80 %).
    every
        Window over which rps and mean utilization are paired.
    min_r2, min_windows
        Below this fit quality (or with a slope <= 0, or fewer windows) the plan says "not
        enough evidence" instead of recommending (``enough_evidence`` is False).

    Returns
    -------
    CapacityPlan
        ``replicas`` (recommended), ``peak_rps``, the fitted ``idle_util_pct`` and
        ``util_per_rps`` (percent per request/s on one replica), ``peak_util_gpus`` (the
        load at peak in GPU units: ``(idle + slope * peak_rps / n) * n / 100``), the fit's
        R², and an ``explanation``.

    Raises
    ------
    AnalysisError
        Fewer than three windows with both load and utilization, no variation in load,
        or an idle utilization already above the target.
    """
    if not 0 < target_util <= 1:
        raise AnalysisError(f"target_util is a share in (0, 1], got {target_util}")
    require(gpu, ["timestamp", "utilization_pct"], "replicas_needed")
    lf = requests.lazy()
    require(lf, ["timestamp"], "replicas_needed")
    seconds = every_us(every) / 1e6
    device = [c for c in ("host", "gpu") if c in gpu.columns]
    n_gpus = gpu.select(device).n_unique() if device else 1
    load = (lf.select(window_expr(every)).group_by("window_start").agg((pl.len() / seconds).alias("rps"))
            .collect(engine="streaming"))
    util = (
        gpu.select(window_expr(every), pl.col("utilization_pct"))
        .group_by("window_start")
        .agg(pl.col("utilization_pct").mean().alias("util"))
    )
    paired = load.join(util, on="window_start", how="inner").drop_nulls().sort("window_start")
    if paired.height < 3:
        raise AnalysisError("replicas_needed: fewer than three windows with both requests and GPU samples")
    rps = paired.get_column("rps").to_numpy()
    u = paired.get_column("util").to_numpy()
    x = rps / n_gpus
    if np.ptp(x) == 0:
        raise AnalysisError("replicas_needed: the load never varies, the slope cannot be fitted")
    slope, idle = np.polyfit(x, u, 1)
    pred = idle + slope * x
    ss_res = float(((u - pred) ** 2).sum())
    ss_tot = float(((u - u.mean()) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    idle = max(float(idle), 0.0)
    slope = float(slope)
    target_pct = target_util * 100.0
    weak = r2 < min_r2 or slope <= 0 or paired.height < min_windows
    if idle >= target_pct and not weak:
        raise AnalysisError(f"replicas_needed: idle utilization {idle:.1f}% is already above the target")
    i_peak = int(np.argmax(rps))
    peak_rps = float(rps[i_peak])
    peak_window = paired.get_column("window_start")[i_peak]
    replicas = max(1, math.ceil(slope * peak_rps / (target_pct - idle))) if slope > 0 else 1
    peak_util_gpus = (idle + slope * peak_rps / n_gpus) * n_gpus / 100.0
    observed = float(u.max())
    change = "keep" if replicas == n_gpus else ("add" if replicas > n_gpus else "could drop")
    evidence = f"fit R²={r2:.2f} over {paired.height} windows, {slope:+.2f}% per req/s"
    if weak:
        why = []
        if r2 < min_r2:
            why.append(f"R² {r2:.2f} < {min_r2:g}")
        if slope <= 0:
            why.append("utilization does not rise with load")
        if paired.height < min_windows:
            why.append(f"{paired.height} windows < {min_windows}")
        explanation = (
            f"Not enough evidence for a replica recommendation ({'; '.join(why)}): utilization is not explained "
            f"by the load in this period ({evidence}; peak {peak_rps:.1f} req/s, observed peak utilization "
            f"{observed:.0f}% on {n_gpus} replica(s))."
        )
    else:
        explanation = (
            f"Peak load {peak_rps:.1f} req/s at {peak_window}; each replica uses about {idle:.1f}% when idle plus "
            f"{slope:.2f}% per req/s ({evidence}). To stay under {target_pct:.0f}% "
            f"at peak, the peak needs {replicas} replica(s) (now {n_gpus}, observed peak utilization "
            f"{observed:.0f}%): {change} {abs(replicas - n_gpus) if change != 'keep' else ''}".rstrip() + "."
        )
    return CapacityPlan(
        current_replicas=n_gpus,
        replicas=replicas,
        target_util_pct=target_pct,
        peak_rps=peak_rps,
        peak_window=peak_window,
        observed_peak_util_pct=observed,
        idle_util_pct=idle,
        util_per_rps=slope,
        peak_util_gpus=peak_util_gpus,
        fit_r2=r2,
        windows=paired.height,
        explanation=explanation,
        enough_evidence=not weak,
    )
