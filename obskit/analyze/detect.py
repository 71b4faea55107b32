"""Online anomaly detectors for any metric series, each with a score in [0, 1] and a verdict.

Every detector is causal (row ``i`` is scored from rows ``0..i``), vectorised, and turns its
raw statistic into a probability against that statistic's own recent past
(:func:`obskit.analyze.online.tail_probability`), so one false-alarm rate means the same on
a CPU series, a latency percentile or a tweet count. The score is ``1 - probability``; a row
is anomalous when its probability is below ``false_alarm_rate`` and it starts an episode
(one alarm per ``refractory`` rows).

Methods (:data:`METHODS`):

``knn``
    Conformal k-nearest-neighbour distance of the last ``m`` values (the shape of the recent
    past) to the shapes seen in the previous ``history`` rows (after Ishimtsev et al., 2017,
    "Conformal k-NN anomaly detector for univariate data streams"). Learns daily patterns
    and level regimes from the data itself; no season length to configure.
``level``
    Robust deviation of the value from the trailing median, in trailing-IQR sigmas: spikes
    and level shifts, on short series too.
``ensemble`` (default)
    The most unusual of ``knn`` over a short and a long shape (10 and 50 rows) and
    ``level``. Its per-row false-alarm rate is at most the sum of its members'.

Measured on the Numenta Anomaly Benchmark (58 real series, ``python -m benchmarks.nab``).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = np.sin(np.arange(2000) * 2 * np.pi / 100) + rng.normal(0, 0.05, 2000)
>>> x[1500:1510] += 3.0
>>> d = score(x)
>>> np.flatnonzero(d.anomaly).tolist()
[1500]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from obskit.analyze._frames import require
from obskit.analyze.online import refractory, tail_probability, trailing
from obskit.errors import AnalysisError

__all__ = ["METHODS", "Detection", "detect", "knn_distance", "level_deviation", "score"]

Method = Literal["ensemble", "knn", "level"]
METHODS: tuple[Method, ...] = ("ensemble", "knn", "level")


@dataclass(frozen=True)
class Detection:
    """Per-row result of a detector.

    Attributes
    ----------
    score
        ``1 - P(a statistic this unusual)`` in [0, 1]; rows inside a refractory period are
        capped just below ``threshold``.
    anomaly
        The verdicts: the first row of each episode whose score reaches ``threshold``.
    threshold
        ``1 - false_alarm_rate``.
    """

    score: np.ndarray
    anomaly: np.ndarray
    threshold: float


def _ffill(x: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward (leading NaN stay NaN); causal."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    if ok.all():
        return x
    idx = np.where(ok, np.arange(x.size), 0)
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    out[~ok & (idx == 0) & ~ok[0]] = np.nan
    return out


def knn_distance(x: np.ndarray, m: int = 10, *, k: int = 10, history: int = 750, block: int = 50) -> np.ndarray:
    """Mean distance from each row's last ``m`` values to their ``k`` nearest past shapes.

    The candidate shapes end between ``history`` rows and ``m`` rows before the scored block
    (rows are scored in blocks of ``block`` against the same past, so no row ever sees
    itself or a later row). NaN until ``k + 1`` past shapes exist.

    Examples
    --------
    >>> x = np.r_[np.tile([0.0, 1.0], 100), 5.0]
    >>> d = knn_distance(x, m=4, k=3)
    >>> float(d[-2]), float(d[-1]) > 3
    (0.0, True)
    """
    from scipy.spatial import cKDTree

    x = _ffill(x)
    n = x.size
    out = np.full(n, np.nan)
    if n < m + k + 1:
        return out
    shapes = sliding_window_view(np.nan_to_num(x, nan=0.0), m)  # shapes[j] ends at row j + m - 1
    for b0 in range(m - 1, n, block):
        b1 = min(n, b0 + block)
        lo, hi = max(m - 1, b0 - history), b0 - m  # ends of the reference shapes
        if hi - lo + 1 < k + 1:
            continue
        tree = cKDTree(shapes[lo - m + 1: hi - m + 2])
        dist, _ = tree.query(shapes[b0 - m + 1: b1 - m + 1], k=k)
        out[b0:b1] = dist.mean(axis=1) if k > 1 else dist
    out[~np.isfinite(np.asarray(x))] = np.nan
    return out


def level_deviation(x: np.ndarray, window: int = 256) -> np.ndarray:
    """``|x - median| / sigma`` against the previous ``window`` rows (sigma = IQR / 1.349).

    A flat past has a tiny floor as sigma (relative to the level), so any change from a
    constant series stands out; :func:`score` then judges it against past deviations.

    Examples
    --------
    >>> level_deviation(np.r_[np.tile([9.0, 11.0], 20), 30.0], window=40)[-1].round(2)
    np.float64(13.49)
    """
    x = np.asarray(x, dtype=np.float64)
    med = trailing(x, window, "median")
    iqr = trailing(x, window, "q75") - trailing(x, window, "q25")
    sigma = np.maximum(np.nan_to_num(iqr / 1.349, nan=0.0), 1e-6 * (np.abs(np.nan_to_num(med)) + 1e-3))
    return np.abs(x - med) / sigma


def _stats(x: np.ndarray, method: Method) -> list[np.ndarray]:
    if method == "knn":
        return [knn_distance(x, 10), knn_distance(x, 50)]
    if method == "level":
        return [level_deviation(x)]
    if method == "ensemble":
        return [*_stats(x, "knn"), *_stats(x, "level")]
    raise AnalysisError(f"unknown anomaly method {method!r}; use one of {', '.join(METHODS)}")


def score(
    values: np.ndarray | Sequence[float],
    *,
    method: Method = "ensemble",
    false_alarm_rate: float = 0.002,
    refractory_rows: int = 100,
    history: int = 1500,
) -> Detection:
    """Score every row of a series online; see the module docstring for the methods.

    Parameters
    ----------
    values
        The series in time order (NaN rows get score 0 and never alarm).
    method
        ``"ensemble"``, ``"knn"`` or ``"level"``.
    false_alarm_rate
        Per-row probability under the series' own recent behaviour below which a row is
        anomalous (0.002: about one alarm per 500 ordinary rows, before the refractory
        period thins them further).
    refractory_rows
        After an alarm, rows that cannot alarm again (one alarm per episode).
    history
        Rows of past scores the probabilities are calibrated on.

    Returns
    -------
    Detection

    Examples
    --------
    >>> x = np.r_[np.random.default_rng(3).normal(10, 1, 600), [30.0], np.random.default_rng(4).normal(10, 1, 50)]
    >>> d = score(x, method="level")
    >>> bool(d.anomaly[600]), round(float(d.score[600]), 3)
    (True, 1.0)
    """
    if not 0 < false_alarm_rate < 1:
        raise AnalysisError("false_alarm_rate must be in (0, 1)")
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise AnalysisError("score() takes a one-dimensional series")
    probs = [tail_probability(s, history=history) for s in _stats(x, method)]
    p = np.min(probs, axis=0) if probs else np.ones(x.size)
    p[~np.isfinite(x)] = 1.0
    threshold = 1.0 - false_alarm_rate
    s, alarm = refractory(1.0 - p, threshold, refractory_rows)
    return Detection(s, alarm, threshold)


def detect(
    frame: pl.DataFrame,
    value: str = "value",
    *,
    time: str = "window_start",
    by: Sequence[str] = (),
    method: Method = "ensemble",
    false_alarm_rate: float = 0.002,
    refractory_rows: int = 100,
) -> pl.DataFrame:
    """Anomaly score and verdict for every row of a series frame, per label group, online.

    Returns
    -------
    polars.DataFrame
        The frame sorted by group and time, plus ``anomaly_score`` (0-1) and ``anomaly``.

    Examples
    --------
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> v = [10.0 + (i % 7) * 0.1 for i in range(300)]
    >>> v[250] = 25.0
    >>> f = pl.DataFrame({"window_start": [t0 + timedelta(minutes=i) for i in range(300)], "value": v})
    >>> detect(f).filter("anomaly")["window_start"].dt.minute().to_list()
    [10]
    """
    require(frame, [time, value, *by], "detect")
    keys = list(by)
    df = frame.sort([*keys, time])
    parts = df.partition_by(keys, maintain_order=True) if keys else [df]
    out = []
    for part in parts:
        x = part.get_column(value).cast(pl.Float64).fill_null(np.nan).to_numpy()
        d = score(x, method=method, false_alarm_rate=false_alarm_rate, refractory_rows=refractory_rows)
        out.append(part.with_columns(pl.Series("anomaly_score", d.score), pl.Series("anomaly", d.anomaly)))
    if not out:
        return df.with_columns(pl.lit(None, dtype=pl.Float64).alias("anomaly_score"),
                               pl.lit(None, dtype=pl.Boolean).alias("anomaly"))
    return pl.concat(out)
