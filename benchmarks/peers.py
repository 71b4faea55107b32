"""Peer anomaly detectors, run causally, for :mod:`benchmarks.tsad`.

Each peer maps a series to ``(score per row, its own verdicts or None)``, and row ``t``'s
score reads rows ``0..t`` only:

- **river** ``HalfSpaceTrees`` (defaults, behind an online ``MinMaxScaler`` as river's docs
  do): natively online, each row scored and then learnt. No verdicts (no default threshold).
- **pyod** ``KNN`` (defaults) on vectors of the last 10 values, refitted every 250 rows on
  the previous 1,000 rows and scoring the next 250 with that frozen model (KNN scores rows
  independently; pyod's ECOD and COPOD would not, they rank a batch against itself).
  Verdicts: ``predict`` at pyod's default contamination (10 %).
- **adtk** ``PersistAD`` (defaults): refitted every 100 rows on the previous 2,000; score =
  ``|x - previous median|`` over adtk's fitted bound, so a score above 1 is adtk's own verdict.
- **stumpy** matrix-profile discord: the left matrix profile (the z-normalised distance of
  the subsequence ending at a row to its nearest earlier subsequence; ``stumpy.stump``'s
  left indices are the incremental ``stumpy.stumpi``'s) with the shape length at the
  series' period, estimated on the warm-up as obskit does (100 rows without a clear period).
  No verdicts.

Install the optional ones with ``pip install -e .[peers]``; peers whose library is missing
are left out of the table.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable

import numpy as np

Peer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def _clean(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaN (then 0 before the first value): the peers do not take gaps."""
    from obskit.analyze.detect.shapes import ffill

    return np.nan_to_num(ffill(np.asarray(values, dtype=np.float64)), nan=0.0)


def river_hst(values: np.ndarray) -> tuple[np.ndarray, None]:
    from river import anomaly, compose, preprocessing

    model = compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=42))
    x = _clean(values)
    out = np.empty(x.size)
    for t, v in enumerate(x.tolist()):
        row = {"x": v}
        out[t] = model.score_one(row)
        model.learn_one(row)
    return out, None


def pyod_knn(values: np.ndarray, lags: int = 10, window: int = 1000, block: int = 250
             ) -> tuple[np.ndarray, np.ndarray]:
    from pyod.models.knn import KNN

    x = _clean(values)
    n = x.size
    score = np.zeros(n)
    verdict = np.zeros(n, dtype=bool)
    if n < lags + block:
        return score, verdict
    lagged = np.lib.stride_tricks.sliding_window_view(x, lags)  # lagged[j] ends at row j + lags - 1
    for s in range(block, n, block):
        lo = max(lags - 1, s - window)
        if s - lo < 50:
            continue
        model = KNN()
        model.fit(lagged[lo - lags + 1: s - lags + 1])
        e = min(s + block, n)
        rows = lagged[s - lags + 1: e - lags + 1]
        score[s:e] = model.decision_function(rows)
        verdict[s:e] = model.predict(rows).astype(bool)
    return score, verdict


def adtk_persist(values: np.ndarray, window: int = 2000, block: int = 100) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd
    from adtk.detector import PersistAD

    x = _clean(values)
    n = x.size
    series = pd.Series(x, index=pd.date_range("2000-01-01", periods=n, freq="min"))  # adtk wants a time index
    out = np.zeros(n)
    model = PersistAD()
    ctx = int(model.window)
    for b in range(block, n, block):
        lo = max(0, b - window)
        e = min(b + block, n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(series.iloc[lo:b])
            parts = model.pipe_.detect(series.iloc[b - ctx: e], return_intermediate=True)
        dev = parts["diff_abs"].to_numpy(dtype=float)[ctx:]
        bound = model.pipe_.steps["iqr_ad"]["model"].abs_high_
        with np.errstate(divide="ignore", invalid="ignore"):
            r = dev / bound if bound > 0 else np.where(dev > 0, 1e6, 0.0)
        out[b:e] = np.nan_to_num(r, nan=0.0, posinf=1e6)
    return out, out > 1.0


def stumpy_discord(values: np.ndarray) -> tuple[np.ndarray, None]:
    """stumpy's raw left matrix profile (one block: every earlier shape), not calibrated."""
    from obskit.analyze.detect import WARMUP, discord_distance, estimate_period

    x = _clean(values)
    m = max(8, estimate_period(x[:WARMUP]) or 100)
    if x.size < 2 * m:
        return np.zeros(x.size), None
    return np.nan_to_num(discord_distance(x, m, history=x.size), nan=0.0), None


_PEERS: dict[str, tuple[str, Peer]] = {
    "river HalfSpaceTrees": ("river", river_hst),
    "pyod KNN (refit on past rows)": ("pyod", pyod_knn),
    "adtk PersistAD (refit on past rows)": ("adtk", adtk_persist),
    "stumpy discord (left matrix profile)": ("stumpy", stumpy_discord),
}


def available() -> dict[str, Peer]:
    """The peers whose library is installed."""
    return {name: fn for name, (module, fn) in _PEERS.items() if importlib.util.find_spec(module) is not None}
