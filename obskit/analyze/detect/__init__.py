"""Online anomaly detectors for any metric series, each with a score in [0, 1] and a verdict.

Every detector is causal (row ``i`` is scored from rows ``0..i``), and turns each of its
raw statistics into a probability against that statistic's own recent past
(:func:`obskit.analyze.online.tail_probability`), so one false-alarm rate means the same on
a CPU series, a latency percentile or a tweet count. The score is ``1 - probability``; a row
is anomalous when its probability is below ``false_alarm_rate`` and it starts an episode
(one alarm per ``refractory`` rows).

Members (the raw statistics, in :mod:`obskit.analyze.detect.shapes` and
:mod:`obskit.analyze.detect.discord`):

``knn``
    Conformal k-nearest-neighbour distance of the last 10 and the last 50 values (the shape
    of the recent past, in the series' own units) to the shapes of the previous 750 rows
    (after Ishimtsev et al., 2017): daily patterns and level regimes, learnt from the data.
``level``
    Robust deviation of the value from the trailing median, in trailing-IQR sigmas: spikes
    and level shifts, on short series too.
``discord``
    Matrix-profile discord at the series' own period (``stumpy``): the z-normalised
    distance of the last cycle to its nearest earlier cycle, so a broken beat or a cycle
    out of step stands out even within the usual range. The period is estimated from the
    autocorrelation of the first ``warmup`` rows (:func:`estimate_period`) and the member
    scores from then on; without a clear period it abstains.

Methods (:data:`METHODS`): each member alone, or ``ensemble`` (default): all of them, any one
of which may raise the alarm, combined so the false-alarm rate stays the one asked for
(:func:`obskit.analyze.online.any_probability`, ``1 - (1 - min p_i)^k`` over the ``k``
members): a member that has nothing to say adds no false alarm, where the former bare
minimum of the members' probabilities alarmed up to ``k`` times too often. ``k`` counts
the members that vote on each row: one still warming up, or abstaining (the discord member
without a period), makes the others no stricter.

Change points (CUSUM, PELT) live in :mod:`obskit.analyze.detect.changes`. The report's
timeline, the explorer's timeline and ``anomaly = "..."`` alert rules all score through
:func:`score`. Measured on the Numenta Anomaly Benchmark and a second labelled corpus
(``python -m benchmarks.nab``, ``python -m benchmarks.tsad``).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = np.sin(np.arange(2000) * 2 * np.pi / 100) + rng.normal(0, 0.05, 2000)
>>> x[1500:1510] += 3.0
>>> d = score(x)
>>> bool(d.anomaly[1500]), int(d.anomaly.sum()) <= 0.002 * x.size  # found, and few alarms elsewhere
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from obskit.analyze._frames import require
from obskit.analyze.detect.changes import change_points, cusum, cusum_statistic, pelt
from obskit.analyze.detect.discord import discord_distance
from obskit.analyze.detect.shapes import estimate_period, knn_distance, level_deviation
from obskit.analyze.online import any_probability, refractory, tail_probability
from obskit.errors import AnalysisError

__all__ = [
    "METHODS",
    "Detection",
    "change_points",
    "cusum",
    "cusum_statistic",
    "detect",
    "discord_distance",
    "estimate_period",
    "flag_anomalies",
    "knn_distance",
    "level_deviation",
    "members",
    "pelt",
    "score",
]

Method = Literal["ensemble", "knn", "level", "discord"]
METHODS: tuple[Method, ...] = ("ensemble", "knn", "level", "discord")

#: Rows whose autocorrelation gives the period (the discord member scores from there on).
WARMUP = 750


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
    period
        The period the ``discord`` member used, in rows (None: it abstained or was not run).
    """

    score: np.ndarray
    anomaly: np.ndarray
    threshold: float
    period: int | None = None


def _discord(x: np.ndarray, warmup: int) -> tuple[np.ndarray, int | None]:
    """The discord member: NaN (abstains) before ``warmup`` rows or without a clear period."""
    out = np.full(x.size, np.nan)
    if x.size <= warmup:
        return out, None
    period = estimate_period(x[:warmup])
    if period is None:
        return out, None
    d = discord_distance(x, max(8, period))
    out[warmup:] = d[warmup:]
    return out, period


def members(x: np.ndarray, method: Method = "ensemble", *, warmup: int = WARMUP
            ) -> tuple[dict[str, np.ndarray], int | None]:
    """The raw statistics a method combines, by member name, and the period it found.

    Examples
    --------
    >>> stats, period = members(np.sin(np.arange(1500) * 2 * np.pi / 60))
    >>> sorted(stats), period
    (['discord', 'knn10', 'knn50', 'level'], 60)
    """
    build: dict[str, Callable[[], dict[str, np.ndarray]]] = {
        "knn": lambda: {"knn10": knn_distance(x, 10), "knn50": knn_distance(x, 50)},
        "level": lambda: {"level": level_deviation(x)},
    }
    if method not in METHODS:
        raise AnalysisError(f"unknown anomaly method {method!r}; use one of {', '.join(METHODS)}")
    out: dict[str, np.ndarray] = {}
    period = None
    for part in ("knn", "level") if method == "ensemble" else (method,):
        if part in build:
            out.update(build[part]())
    if method in ("ensemble", "discord"):
        out["discord"], period = _discord(x, warmup)
    return out, period


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
        ``"ensemble"``, ``"knn"``, ``"level"`` or ``"discord"``.
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
    if not isinstance(false_alarm_rate, float | int) or not 0 < false_alarm_rate < 1:
        raise AnalysisError("false_alarm_rate must be a number in (0, 1)")
    if not isinstance(history, int) or history < 2 or not isinstance(refractory_rows, int) or refractory_rows < 0:
        raise AnalysisError("history must be an integer of at least 2 rows, refractory_rows a nonnegative integer")
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise AnalysisError(f"score() takes a numeric series: {e}") from None
    if x.ndim != 1:
        raise AnalysisError("score() takes a one-dimensional series")
    if x.size == 0:
        return Detection(np.zeros(0), np.zeros(0, dtype=bool), 1.0 - false_alarm_rate)
    stats, period = members(x, method)
    # a member votes on a row only where its statistic is finite (NaN: warming up or abstaining)
    p = any_probability([np.where(np.isfinite(s), tail_probability(s, history=history), np.nan)
                         for s in stats.values()])
    p[~np.isfinite(x)] = 1.0
    threshold = 1.0 - false_alarm_rate
    s, alarm = refractory(1.0 - p, threshold, refractory_rows)
    return Detection(s, alarm, threshold, period)


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
    _numeric(frame, [value], "detect")
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


def flag_anomalies(
    frame: pl.DataFrame,
    columns: Sequence[str],
    *,
    method: Method = "ensemble",
    false_alarm_rate: float = 1e-4,
    refractory_rows: int = 100,
    suffix: str = "_anomaly",
) -> pl.DataFrame:
    """Add one boolean column per series column: its anomalous rows, scored online in row order.

    This is how the report's timeline and the explorer's timeline mark anomalies (red
    rings): each panel of a timeline is one series, scored by :func:`score`. Null values
    never alarm.

    Returns
    -------
    polars.DataFrame
        ``frame`` plus ``<column><suffix>`` for each of ``columns``.

    Examples
    --------
    >>> v = [10.0 + (i % 7) * 0.1 for i in range(300)]
    >>> v[250] = 25.0
    >>> out = flag_anomalies(pl.DataFrame({"rps": v}), ["rps"])
    >>> out.filter("rps_anomaly").height, out.columns
    (1, ['rps', 'rps_anomaly'])
    """
    require(frame, list(columns), "flag_anomalies")
    _numeric(frame, columns, "flag_anomalies")
    flags = []
    for col in dict.fromkeys(columns):
        x = frame.get_column(col).cast(pl.Float64).fill_null(np.nan).to_numpy()
        d = score(x, method=method, false_alarm_rate=false_alarm_rate, refractory_rows=refractory_rows)
        flags.append(pl.Series(f"{col}{suffix}", d.anomaly))
    return frame.with_columns(flags) if flags else frame


def _numeric(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    bad = [c for c in columns if not (frame.schema[c].is_numeric() or frame.schema[c] == pl.Null)]
    if bad:
        raise AnalysisError(f"{what}: {', '.join(bad)} must be numeric series, not "
                            f"{', '.join(str(frame.schema[c]) for c in bad)}")
