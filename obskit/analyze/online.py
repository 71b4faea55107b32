"""Causal building blocks for online detectors: trailing statistics, tail calibration, refractory.

Everything here is *causal*: the value returned for row ``i`` depends on rows ``0..i`` only,
so a detector built from these parts gives the same verdicts in a backtest as it would have
given live, and removing later rows never changes earlier results.

:func:`trailing`
    A rolling statistic over the ``window`` rows *before* each row (the row itself excluded).
:func:`tail_probability`
    How unusual a nonnegative score is against that score's own past: a peaks-over-threshold
    fit (an exponential tail above the trailing 90 % quantile, Pickands-Balkema-de Haan), so a
    score beyond everything seen so far still gets a graded, continuous probability.
:func:`any_probability`
    Several detectors' probabilities of the same row, combined so the false-alarm rate holds.
:func:`refractory`
    One alarm per episode: after a verdict, the next ``rows`` scores are held just below the
    verdict level, so a long incident is reported once, at its start.

Examples
--------
>>> import numpy as np
>>> x = np.r_[np.ones(5), 10.0]
>>> trailing(x, 3, "median").tolist()[-2:]
[1.0, 1.0]
>>> p = tail_probability(np.r_[np.random.default_rng(0).exponential(1.0, 400), 12.0], min_history=50)
>>> bool(p[-1] < 1e-4)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from obskit.errors import InvalidArgument

__all__ = ["any_probability", "refractory", "tail_probability", "trailing"]

Stat = Literal["median", "mean", "std", "max", "min", "q10", "q25", "q75", "q90", "q99"]


def trailing(x: np.ndarray, window: int, stat: Stat, *, min_history: int | None = None) -> np.ndarray:
    """``stat`` of the ``window`` rows before each row (NaN rows ignored; NaN until enough history).

    Parameters
    ----------
    x
        The series.
    window
        How many previous rows form the statistic.
    stat
        ``median``, ``mean``, ``std``, ``max``, ``min`` or a quantile ``qNN``.
    min_history
        Fewest non-NaN previous rows for a value (default ``max(2, window // 4)``).

    Examples
    --------
    >>> trailing(np.array([1.0, 2.0, 3.0, 4.0]), 2, "mean", min_history=1).tolist()
    [nan, 1.0, 1.5, 2.5]
    """
    s = pl.Series("x", np.asarray(x, dtype=np.float64)).fill_nan(None)
    mp = max(2, window // 4) if min_history is None else max(1, min_history)
    mp = min(mp, window)
    if stat == "median":
        r = s.rolling_median(window, min_samples=mp)
    elif stat == "mean":
        r = s.rolling_mean(window, min_samples=mp)
    elif stat == "std":
        r = s.rolling_std(window, min_samples=mp)
    elif stat == "max":
        r = s.rolling_max(window, min_samples=mp)
    elif stat == "min":
        r = s.rolling_min(window, min_samples=mp)
    elif stat.startswith("q"):
        return _trailing_q(np.asarray(x, dtype=np.float64), window, int(stat[1:]) / 100.0, mp)
    else:  # pragma: no cover - guarded by the Literal
        raise InvalidArgument(f"unknown statistic {stat!r}")
    return r.shift(1).fill_null(np.nan).to_numpy().astype(np.float64)


def tail_probability(
    score: np.ndarray, *, history: int = 1500, min_history: int = 50, level: float = 0.9
) -> np.ndarray:
    """Probability, under the score's own recent past, of a score at least this large.

    Below the trailing ``level`` quantile ``u`` of the previous ``history`` scores the
    probability is read off linearly (``1 - level * s / u``); above it an exponential tail is
    fitted, ``P(S > s) = (1 - level) exp(-(s - u) / beta)``, with ``beta`` the mean excess of
    the past scores over ``u`` (the maximum-likelihood scale of an exponential tail), raised
    to its upper two-standard-error bound ``beta (1 + 2 / sqrt(k))`` for ``k`` excesses, so a
    short history gives conservative (larger) probabilities rather than false alarms.
    Rows with fewer than ``min_history`` previous scores get probability 1.

    Parameters
    ----------
    score
        A nonnegative score per row, larger = more unusual (NaN = no score: probability 1).
    history, min_history
        Trailing calibration window and the fewest past scores needed.
    level
        Quantile where the tail starts.

    Returns
    -------
    numpy.ndarray
        Probabilities in (0, 1].

    Examples
    --------
    >>> s = np.r_[np.random.default_rng(1).exponential(1.0, 500), 0.1, 9.0]
    >>> p = tail_probability(s)
    >>> bool(p[-2] > 0.5), bool(p[-1] < 1e-3)
    (True, True)
    """
    s = np.asarray(score, dtype=np.float64)
    u = _trailing_q(s, history, level, min_history)
    beta, k = _mean_excess(s, u, history)
    # conservative: the upper ~2-sigma bound of the scale (relative error 1/sqrt(k) with k excesses)
    beta = beta * (1.0 + 2.0 / np.sqrt(np.maximum(k, 1.0)))
    beta = np.maximum(np.nan_to_num(beta, nan=0.0), 1e-9 * (1.0 + np.abs(np.nan_to_num(u))))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        below = 1.0 - level * np.clip(np.where(u > 0, s / u, 0.0), 0.0, 1.0)
        above = (1.0 - level) * np.exp(-(s - u) / beta)
    p = np.where(s > u, above, below)
    p = np.where(np.isnan(u) | np.isnan(s), 1.0, p)
    return np.clip(p, 0.0, 1.0)


def _mean_excess(s: np.ndarray, u: np.ndarray, window: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``s[j] - u[i]`` over the previous ``window`` rows ``j`` with ``s[j] > u[i]``, and their count."""
    n = s.size
    out = np.full(n, np.nan)
    count = np.zeros(n)
    padded = np.r_[np.full(window, np.nan), s]
    views = sliding_window_view(padded[:-1], window)  # views[i] = the window rows before row i
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        v = views[c0:c1]
        uu = u[c0:c1, None]
        exc = v - uu
        over = exc > 0
        cnt = over.sum(axis=1)
        tot = np.where(over, exc, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[c0:c1] = np.where(cnt > 0, tot / cnt, np.nan)
        count[c0:c1] = cnt
    return out, count


def _trailing_q(s: np.ndarray, window: int, q: float, min_history: int) -> np.ndarray:
    r = pl.Series("x", s).fill_nan(None).rolling_quantile(q, "linear", window_size=window,
                                                          min_samples=min(min_history, window))
    return r.shift(1).fill_null(np.nan).to_numpy().astype(np.float64)


def any_probability(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """Probability that at least one of ``k`` tests is this unusual: ``1 - (1 - min p_i)^k`` (Sidak).

    The calibrated way to let any of several detectors raise an alarm: if each ``p_i`` is a
    valid probability, a row's combined probability is below ``a`` with probability at most
    ``a`` (exactly ``a`` for independent tests, less for positively dependent ones, which
    detectors of the same series are), so adding a member never raises the false-alarm
    rate above the one asked for. Taking the bare minimum would multiply it by up to ``k``;
    Fisher's product rule assumes independence and, on correlated members, alarms several
    times too often.

    A NaN probability means that test abstains on that row (it is warming up, or has nothing
    to measure): ``k`` counts the tests that vote on each row, so a silent member makes the
    others no stricter. A row no test votes on gets 1.

    Examples
    --------
    >>> any_probability([np.array([0.01, 0.5]), np.array([1.0, 0.2])]).round(4).tolist()
    [0.0199, 0.36]
    >>> any_probability([np.array([0.3])]).tolist()
    [0.3]
    >>> any_probability([np.array([0.01, np.nan]), np.array([np.nan, np.nan])]).tolist()  # one voter, then none
    [0.01, 1.0]
    """
    if not probabilities:
        raise InvalidArgument("any_probability needs at least one probability per row")
    arrays = [np.asarray(q, dtype=np.float64) for q in probabilities]
    if len({a.shape for a in arrays}) > 1:
        raise InvalidArgument("any_probability needs one probability per row from every test (same lengths)")
    stack = np.vstack(arrays)
    voting = ~np.isnan(stack)  # NaN: that test abstains on that row
    k = voting.sum(axis=0)
    low = np.min(np.where(voting, stack, 1.0), axis=0)
    # 1 - (1 - p)^k without cancellation for tiny p; no voter: 1
    with np.errstate(invalid="ignore"):
        out = -np.expm1(k * np.log1p(-np.clip(low, 0.0, 1.0 - 1e-16)))
    return np.clip(np.where(k > 0, out, 1.0), 0.0, 1.0)


def refractory(score: np.ndarray, threshold: float, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep one alarm per episode: returns ``(score, alarm)``.

    A row alarms when its score reaches ``threshold`` and no alarm was raised in the ``rows``
    rows before it; scores of rows inside a refractory period are capped just below the
    threshold, so any threshold at or above it sees the same single alarm.

    Examples
    --------
    >>> s, a = refractory(np.array([0.1, 0.99, 0.995, 0.2, 0.999]), 0.98, 2)
    >>> a.tolist()
    [False, True, False, False, True]
    """
    s = np.asarray(score, dtype=np.float64).copy()
    alarm = np.zeros(s.size, dtype=bool)
    last = -rows - 1
    cap = np.nextafter(threshold, -math.inf)
    for i in np.flatnonzero(s >= threshold).tolist():
        if i - last <= rows:
            s[i] = min(s[i], cap)
        else:
            alarm[i] = True
            last = i
    return s, alarm
