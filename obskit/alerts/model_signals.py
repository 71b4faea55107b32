"""Model-output and data signals over sliding windows sized by sample count.

Every 5 minutes each signal looks at the last ``n`` answers (or rows) before that time, so
its delay is bounded by how fast ``n`` samples arrive, not by a clock hour, and its noise is
the same on a quiet and a busy day. Signal frames: ``timestamp`` (time the value is known),
labels, ``value``.

``class_mix_shift``
    Total-variation distance between the predicted-class shares of the last ``n`` answers and
    those of the reference set (label ``against = "reference"``) and of the ``n`` answers
    before them (``against = "recent"``). 0 = same mix, 1 = disjoint.
``class_takeover``
    The largest ratio of a class's recent share to its reference share (classes with at
    least 1% of the reference): one class taking over reads 3-5.
``confidence_shift``
    Kolmogorov-Smirnov distance between the last ``n`` confidences and the reference's (or,
    without a reference, the previous ``n``): catches confidence falling *and* inflating.
``feature_shift``
    Population stability index of each feature over the last ``n`` rows against the
    reference (10 reference-quantile bins for numbers, categories for text), label
    ``feature``.
``feature_null_share``
    Share of the last ``n`` answers whose feature is missing (null or NaN), minus the
    reference's own missing share, label ``feature``: 0 = as in training, 0.45 = 45 more
    requests in 100 arrive without the value.
``label_arrival``
    Share of answers corrected within 15 minutes, for the answers of the last 40 (or 120)
    minutes that have had those 15 minutes / the same share over the six hours before:
    labels arriving late (or not at all) read near 0. Reported only when a Poisson test is
    clear (p < 1e-4) and the baseline rests on at least 20 corrections.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> r = pl.DataFrame({"timestamp": [t0 + timedelta(seconds=i) for i in range(3000)],
...                   "status": ["ok"] * 3000, "prediction": ["a", "b"] * 1000 + ["a"] * 1000})
>>> ref = pl.DataFrame({"prediction": ["a", "b"] * 500})
>>> f = class_mix_shift(r, ref, n=500)
>>> f.filter(pl.col("against") == "reference")["value"].round(2).to_list()[-1]
0.5
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
import polars as pl
from scipy.stats import ks_2samp, poisson

from obskit.alerts.baselines import _frame, minute_grid
from obskit.analyze.drift_verdict import missing_mask, missing_share

__all__ = ["class_mix_shift", "class_takeover", "confidence_shift", "feature_null_share", "feature_shift",
           "feature_shift_noise", "label_arrival",
           "label_arrival_counts"]

EVERY_MIN = 5


def _grid(requests: pl.DataFrame, start: datetime | None, end: datetime | None) -> np.ndarray:
    g = minute_grid(requests, start, end)
    return g[::EVERY_MIN]


def _answers(requests: pl.DataFrame, column: str) -> pl.DataFrame:
    return (requests.filter((pl.col("status").cast(pl.String) == "ok") & pl.col(column).is_not_null())
            .select("timestamp", column).sort("timestamp"))


def _onehot_cumsum(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((codes.size + 1, k))
    np.add.at(out, (np.arange(1, codes.size + 1), codes), 1.0)
    return np.cumsum(out, axis=0)


def class_mix_shift(requests: pl.DataFrame, reference: pl.DataFrame | None = None, *, n: int = 1000,
                    start: datetime | None = None, end: datetime | None = None,
                    prediction: str = "prediction") -> pl.DataFrame:
    """Class-mix distance of the last ``n`` answers to the reference and to the ``n`` before them."""
    grid = _grid(requests, start, end)
    ans = _answers(requests, prediction)
    labels = ans.get_column(prediction).cast(pl.String)
    ref_labels = (reference.get_column(prediction).cast(pl.String).drop_nulls()
                  if reference is not None and prediction in reference.columns else None)
    classes = sorted(set(labels.unique().to_list()) | set(ref_labels.unique().to_list() if ref_labels is not None
                                                          else []))
    code = {c: i for i, c in enumerate(classes)}
    codes = np.array([code[c] for c in labels.to_list()], dtype=np.int64)
    cum = _onehot_cumsum(codes, len(classes))
    hi = np.searchsorted(ans.get_column("timestamp").dt.epoch("us").to_numpy(), grid, side="left")
    recent = np.where((hi >= n)[:, None], (cum[hi] - cum[np.maximum(hi - n, 0)]) / n, np.nan)
    before = np.where((hi >= 2 * n)[:, None], (cum[np.maximum(hi - n, 0)] - cum[np.maximum(hi - 2 * n, 0)]) / n,
                      np.nan)
    parts = [_frame(grid, 0.5 * np.abs(recent - before).sum(axis=1), against="recent")]
    if ref_labels is not None and ref_labels.len():
        ref = np.zeros(len(classes))
        for c, cnt in ref_labels.value_counts().iter_rows():
            ref[code[c]] = cnt
        ref /= ref.sum()
        parts.append(_frame(grid, 0.5 * np.abs(recent - ref).sum(axis=1), against="reference"))
    return pl.concat(parts)


def class_takeover(requests: pl.DataFrame, reference: pl.DataFrame, *, n: int = 1000,
                   start: datetime | None = None, end: datetime | None = None,
                   prediction: str = "prediction") -> pl.DataFrame:
    """Recent share / reference share of each class with >= 1% of the reference (label ``class``)."""
    grid = _grid(requests, start, end)
    ans = _answers(requests, prediction)
    ref_counts = dict(reference.get_column(prediction).cast(pl.String).drop_nulls().value_counts().iter_rows())
    total = sum(ref_counts.values())
    classes = [c for c, v in ref_counts.items() if total and v / total >= 0.01]
    if not classes:
        return _frame(grid, np.full(grid.size, np.nan), **{"class": ""})
    code = {c: i for i, c in enumerate(classes)}
    labels = ans.get_column(prediction).cast(pl.String).to_list()
    codes = np.array([code.get(c, len(classes)) for c in labels], dtype=np.int64)
    cum = _onehot_cumsum(codes, len(classes) + 1)[:, : len(classes)]
    hi = np.searchsorted(ans.get_column("timestamp").dt.epoch("us").to_numpy(), grid, side="left")
    share = (cum[hi] - cum[np.maximum(hi - n, 0)]) / n
    ref = np.array([ref_counts[c] / total for c in classes])
    value = np.where((hi >= n)[:, None], share / ref, np.nan)
    return pl.concat([_frame(grid, value[:, i], **{"class": c}) for i, c in enumerate(classes)])


def confidence_shift(requests: pl.DataFrame, reference: pl.DataFrame | None = None, *, n: int = 1000,
                     start: datetime | None = None, end: datetime | None = None,
                     confidence: str = "confidence") -> pl.DataFrame:
    """KS distance of the last ``n`` confidences to the reference's (else to the ``n`` before them)."""
    grid = _grid(requests, start, end)
    ans = _answers(requests, confidence)
    c = ans.get_column(confidence).cast(pl.Float64).to_numpy()
    hi = np.searchsorted(ans.get_column("timestamp").dt.epoch("us").to_numpy(), grid, side="left")
    ref = None
    if reference is not None and confidence in reference.columns:
        ref = np.sort(reference.get_column(confidence).cast(pl.Float64).drop_nulls().to_numpy())
        ref = ref if ref.size >= 100 else None
    value = np.full(grid.size, np.nan)
    for i, h in enumerate(hi.tolist()):
        if h < n:
            continue
        if ref is not None:
            value[i] = ks_2samp(c[h - n:h], ref).statistic
        elif h >= 2 * n:
            value[i] = ks_2samp(c[h - n:h], c[h - 2 * n:h - n]).statistic
    return _frame(grid, value, against="reference" if ref is not None else "recent")


def _psi(cur: np.ndarray, ref: np.ndarray) -> np.ndarray:
    eps = 1e-4
    c = np.maximum(cur, eps)
    r = np.maximum(ref, eps)
    return ((c - r) * np.log(c / r)).sum(axis=-1)


def _decile_edges(reference: np.ndarray) -> np.ndarray:
    """The bin edges :func:`feature_shift` cuts a numeric feature at: the reference's distinct deciles."""
    return np.unique(np.quantile(reference, np.linspace(0.1, 0.9, 9)))


def feature_shift(requests: pl.DataFrame, reference: pl.DataFrame, features: Sequence[str], *, n: int = 1000,
                  start: datetime | None = None, end: datetime | None = None) -> pl.DataFrame:
    """PSI of each feature's last ``n`` values against the reference, every 5 minutes."""
    grid = _grid(requests, start, end)
    parts = []
    for feat in features:
        if feat not in requests.columns or feat not in reference.columns:
            continue
        rows = requests.select("timestamp", feat).drop_nulls().sort("timestamp")
        ref = reference.get_column(feat).drop_nulls()
        if rows.height == 0 or ref.len() < 100:
            continue
        if rows.schema[feat].is_numeric() and ref.dtype.is_numeric():
            r = ref.cast(pl.Float64).to_numpy()
            edges = _decile_edges(r)
            codes = np.searchsorted(edges, rows.get_column(feat).cast(pl.Float64).to_numpy(), side="right")
            ref_share = np.bincount(np.searchsorted(edges, r, side="right"), minlength=edges.size + 1) / r.size
            k = edges.size + 1
        else:
            cats = sorted(set(ref.cast(pl.String).unique().to_list()))
            idx = {c: i for i, c in enumerate(cats)}
            codes = np.array([idx.get(v, len(cats)) for v in rows.get_column(feat).cast(pl.String).to_list()])
            ref_codes = np.array([idx[v] for v in ref.cast(pl.String).to_list()])
            k = len(cats) + 1  # the last bin: categories the reference never had
            ref_share = np.bincount(ref_codes, minlength=k) / ref_codes.size
        cum = _onehot_cumsum(codes.astype(np.int64), k)
        hi = np.searchsorted(rows.get_column("timestamp").dt.epoch("us").to_numpy(), grid, side="left")
        share = (cum[hi] - cum[np.maximum(hi - n, 0)]) / n
        value = np.where(hi >= n, _psi(share, ref_share[None, :]), np.nan)
        parts.append(_frame(grid, value, feature=feat))
    if not parts:
        return pl.DataFrame(schema={"timestamp": pl.Datetime("us", "UTC"), "feature": pl.String, "value": pl.Float64})
    return pl.concat(parts)


def feature_shift_noise(reference: pl.DataFrame, features: Sequence[str], *, n: int = 1000
                        ) -> dict[str, tuple[int, int, float]]:
    """Per feature: (reference rows, bins, the PSI noise floor) of :func:`feature_shift` at ``n`` rows.

    The bins are the ones :func:`feature_shift` uses (reference deciles, or the categories
    plus one for unseen ones); the floor is :func:`~obskit.analyze.drift.psi_noise_floor`'s
    95th percentile. A rule threshold at or below it fires on noise.

    >>> import polars as pl
    >>> feature_shift_noise(pl.DataFrame({"x": [float(i) for i in range(124)]}), ["x"])["x"][:2]
    (124, 10)
    """
    from obskit.analyze.drift import psi_noise_floor

    out = {}
    for feat in features:
        if feat not in reference.columns:
            continue
        ref = reference.get_column(feat).drop_nulls()
        if ref.len() < 100:
            continue  # feature_shift does not compute this feature
        if ref.dtype.is_numeric():
            r = ref.cast(pl.Float64).to_numpy()
            bins = _decile_edges(r).size + 1
        else:
            bins = ref.cast(pl.String).n_unique() + 1
        out[feat] = (ref.len(), bins, psi_noise_floor(bins, n, ref.len()))
    return out


def feature_null_share(requests: pl.DataFrame, reference: pl.DataFrame | None, features: Sequence[str], *,
                       n: int = 1000, start: datetime | None = None, end: datetime | None = None) -> pl.DataFrame:
    """Missing share of each feature over the last ``n`` answers, minus the reference's, every 5 minutes.

    >>> import polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> r = pl.DataFrame({"timestamp": [t0 + timedelta(seconds=i) for i in range(4000)], "status": ["ok"] * 4000,
    ...                   "x": [1.0] * 2000 + [None, 2.0] * 1000})
    >>> f = feature_null_share(r, pl.DataFrame({"x": [1.0, 2.0]}), ["x"], n=1000)
    >>> f["value"].drop_nans().to_list()[-1]
    0.5
    """
    grid = _grid(requests, start, end)
    ok = requests.filter(pl.col("status").cast(pl.String) == "ok").sort("timestamp")
    hi = np.searchsorted(ok.get_column("timestamp").dt.epoch("us").to_numpy(), grid, side="left")
    parts = []
    for feat in features:
        if feat not in ok.columns:
            continue
        base = 0.0
        if reference is not None and feat in reference.columns and reference.height:
            base = missing_share(reference.get_column(feat))
        cum = np.concatenate(([0], np.cumsum(missing_mask(ok.get_column(feat)).to_numpy().astype(np.int64))))
        share = (cum[hi] - cum[np.maximum(hi - n, 0)]) / n
        parts.append(_frame(grid, np.where(hi >= n, share - base, np.nan), feature=feat))
    if not parts:
        return pl.DataFrame(schema={"timestamp": pl.Datetime("us", "UTC"), "feature": pl.String, "value": pl.Float64})
    return pl.concat(parts)


def label_arrival(requests: pl.DataFrame, *, start: datetime | None = None, end: datetime | None = None,
                  windows_min: tuple[int, ...] = (40, 120), wait_min: int = 15, baseline_min: int = 360,
                  alpha: float = 1e-4) -> pl.DataFrame:
    """Share of answers corrected within ``wait_min`` minutes: a recent window / the trailing hours.

    Each recent window holds the answers from ``wait_min + window`` to ``wait_min`` minutes
    ago, so all of them have had ``wait_min`` minutes to be corrected by the time the value is
    reported; the baseline applies the same rule to the ``baseline_min`` minutes before it.
    The shortest window whose Poisson test is clear decides (a longer one lets a low-volume
    service reach significance); 1.0 when none is.
    """
    grid = _grid(requests, start, end)
    if "corrected_at" not in requests.columns:
        return _frame(grid, np.full(grid.size, np.nan))
    ans = requests.filter(pl.col("status").cast(pl.String) == "ok").select("timestamp", "corrected_at")
    ans = ans.sort("timestamp")
    t = ans.get_column("timestamp").dt.epoch("us").to_numpy()
    lag = (ans.get_column("corrected_at").dt.epoch("us") - ans.get_column("timestamp").dt.epoch("us"))
    quick = (lag.fill_null(np.iinfo(np.int64).max).to_numpy() <= wait_min * 60_000_000).astype(np.float64)
    cum = np.r_[0.0, np.cumsum(quick)]

    def before(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        i = np.searchsorted(t, b)
        return i.astype(np.float64), cum[i]

    return _frame(grid, _arrival(grid, before, windows_min=windows_min, wait_min=wait_min,
                                 baseline_min=baseline_min, alpha=alpha))


def label_arrival_counts(grid: np.ndarray, minutes_us: np.ndarray, answers: np.ndarray, quick: np.ndarray, *,
                         windows_min: tuple[int, ...] = (40, 120), wait_min: int = 15, baseline_min: int = 360,
                         alpha: float = 1e-4) -> pl.DataFrame:
    """:func:`label_arrival` from per-minute counts (a report at scale; ``grid`` every 5 minutes).

    ``minutes_us`` are minute starts aligned with ``grid`` (sorted); ``answers`` the
    successful requests of each minute and ``quick`` those corrected within ``wait_min``.
    Every boundary the signal counts at is a minute of the grid, so the value is the one the
    rows give.

    >>> import numpy as np
    >>> m = np.arange(0, 600) * 60_000_000
    >>> f = label_arrival_counts(m[::5], m, np.full(600, 100.0), np.r_[np.full(500, 30.0), np.zeros(100)])
    >>> float(f["value"].to_numpy()[-1]) < 0.1
    True
    """
    order = np.argsort(minutes_us, kind="stable")
    m = np.asarray(minutes_us)[order]
    cum_n = np.r_[0.0, np.cumsum(np.asarray(answers, dtype=np.float64)[order])]
    cum_q = np.r_[0.0, np.cumsum(np.asarray(quick, dtype=np.float64)[order])]

    def before(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        i = np.searchsorted(m, b, side="left")
        return cum_n[i], cum_q[i]

    return _frame(grid, _arrival(grid, before, windows_min=windows_min, wait_min=wait_min,
                                 baseline_min=baseline_min, alpha=alpha))


def _arrival(grid: np.ndarray, before: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], *,
             windows_min: tuple[int, ...], wait_min: int, baseline_min: int, alpha: float) -> np.ndarray:
    """The label-arrival value at each grid time from ``before(b)``: (answers, quick ones) before times ``b``."""
    m = 60_000_000
    best = np.full(grid.size, np.nan)
    for window_min in windows_min:
        w_hi, q_hi = before(grid - wait_min * m)
        w_lo, q_lo = before(grid - (wait_min + window_min) * m)
        b_lo, q_b = before(grid - (wait_min + window_min + baseline_min) * m)
        got = q_hi - q_lo
        n_now = w_hi - w_lo
        n_base = w_lo - b_lo
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = (q_lo - q_b) / n_base * n_now
            ratio = got / expected
            clear = poisson.cdf(got, expected) < alpha
        # the baseline rate must itself rest on enough corrections (20: about +-20%)
        known = (n_now >= 50) & (n_base >= 500) & (expected >= 15) & (q_lo - q_b >= 20)
        value = np.where(known, np.where(clear, ratio, 1.0), np.nan)
        take = np.isnan(best) | ((value < 1.0) & ~(best < 1.0))
        best = np.where(take & ~np.isnan(value), value, best)
    return best
