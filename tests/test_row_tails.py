"""The kept rows (``alerts.row_tails``) give the sample-count signals the values every row gives.

The invariant behind alert parity at scale: for any request log (out of time order, with
failures, missing predictions and features, several versions, quiet and busy minutes),
each signal computed on the rows :func:`tail_rows` keeps equals the signal computed on all
the rows, read in batches of any size.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.alerts import baselines, model_signals, segment_signals
from obskit.alerts.row_tails import tail_rows

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
N = 15  # the signals' sample size here (1,000 in the defaults): small, so every case has full windows


def _log(seed: int, rows: int, minutes: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    busy = rng.random(minutes) < 0.5  # quiet and busy minutes alternate at random
    weight = np.where(busy, 8.0, 1.0)
    minute = rng.choice(minutes, size=rows, p=weight / weight.sum())
    offset = minute * 60_000_000 + rng.integers(0, 60_000_000, rows)
    pred = rng.choice(["cat", "dog", "hat", ""], size=rows, p=[0.5, 0.3, 0.1, 0.1])
    x = rng.normal(0, 1, rows) + np.where(minute > minutes // 2, 1.0, 0.0)
    return pl.DataFrame({
        "timestamp": pl.Series([T0 + timedelta(microseconds=int(o)) for o in offset]),
        "status": rng.choice(["ok", "ok", "ok", "error"], size=rows),
        "model_version": rng.choice(["v1", "v2", ""], size=rows, p=[0.7, 0.25, 0.05]),
        "latency_ms": rng.lognormal(3, 0.5, rows),
        "prediction": pred,
        "confidence": rng.random(rows),
        "x": x,
        "_no_conf": rng.random(rows) < 0.1,
        "_no_x": rng.random(rows) < 0.15,
    }).with_columns(
        pl.when(pl.col("model_version") != "").then(pl.col("model_version")),
        pl.when(pl.col("prediction") != "").then(pl.col("prediction")),
        pl.when(~pl.col("_no_conf")).then(pl.col("confidence")),
        pl.when(~pl.col("_no_x")).then(pl.col("x")),
    ).drop("_no_conf", "_no_x")


REF = pl.DataFrame({"prediction": ["cat", "dog", "bird"] * 100, "x": np.random.default_rng(1).normal(0, 1, 300),
                    "confidence": np.linspace(0, 1, 300)})


def _signals(rows: pl.DataFrame, latency: pl.DataFrame, start: datetime, end: datetime) -> dict[str, pl.DataFrame]:
    kw = {"start": start, "end": end}
    out = {
        "class_mix_shift": model_signals.class_mix_shift(rows, REF, n=N, **kw),
        "class_takeover": model_signals.class_takeover(rows, REF, n=N, **kw),
        "confidence_shift": model_signals.confidence_shift(rows, REF, n=N, **kw),
        "confidence_recent": model_signals.confidence_shift(rows, None, n=N, **kw),
        "feature_shift": model_signals.feature_shift(rows, REF, ["x"], n=N, **kw),
        "feature_null_share": model_signals.feature_null_share(rows, REF, ["x"], n=N, **kw),
        "latency_ratio": baselines.latency_ratio(latency, n=N, quantiles=(0.5, 0.9), baseline_minutes=6, **kw),
    }
    out.update(segment_signals.version_classes(rows, REF, n=N, **kw))
    return {k: v.sort(v.columns) for k, v in out.items()}


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), rows=st.integers(50, 1500), minutes=st.integers(3, 40),
       batch=st.sampled_from([7, 64, 100_000]), shuffled=st.booleans())
def test_kept_rows_give_every_rows_values(seed: int, rows: int, minutes: int, batch: int, shuffled: bool) -> None:
    log = _log(seed, rows, minutes)
    if shuffled:  # files are not always in time order
        log = log.sample(fraction=1.0, shuffle=True, seed=seed)
    start, end = T0, T0 + timedelta(minutes=minutes)
    first_us = int(start.timestamp() * 1_000_000)
    kept = tail_rows(log.lazy(), first_us=first_us, features=["x"], n=N, n_version=N, batch_rows=batch)
    assert kept.latency is not None and kept.rows.height <= log.height
    want = _signals(log, log, start, end)
    got = _signals(kept.rows, kept.latency, start, end)
    for name, frame in want.items():
        assert got[name].equals(frame), name


def test_a_busy_day_keeps_a_bounded_share() -> None:
    """Rows kept grow with intervals, not with traffic: 100x the requests, about the same rows kept."""
    sizes = []
    for rows in (3_000, 300_000):
        log = _log(3, rows, 30)
        kept = tail_rows(log.lazy(), first_us=int(T0.timestamp() * 1_000_000), features=["x"], n=N, n_version=N)
        sizes.append(kept.rows.height)
    assert sizes[1] < 2 * sizes[0] < 3_000
