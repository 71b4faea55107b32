"""Signals per model version: tail latency, error ratio and class mix of each version against the rest.

A canary that is slower only in its tail, errs more than the stable version, or answers
classes the model was never trained on is invisible in fleet-wide signals when it serves a
tenth of the traffic. These signals compare each version with the other versions of the
same minutes (same load, same inputs), or with the training reference, and carry the
``model_version`` label, so the alert names the version:

:func:`version_latency_tail`
    ``window_start``, ``model_version``, ``quantile`` (``p50``, ``p95``, ``p99``),
    ``requests``, ``latency_ms``, ``others_ms``, ``ratio``, ``p_value``. For ``p95`` and
    ``p99`` the ratio is *tested*: Fisher's exact test of the share of requests above the
    pooled quantile, the version's against the others' (both quantiles are estimates), and
    a ratio whose test is not clear (``p_value >= alpha``) is reported as 1. ``p50`` is the plain ratio, as the
    ``slow-canary`` rule always read it.
:func:`version_error_ratio`
    Every minute, per version: its error rate over the last ``minutes`` / the other
    versions' over the same minutes; reported only when clear (conditional binomial test of
    the two counts, ``p < alpha``), else 1. Other versions without an error count as one (a
    lower bound of a ratio that has no finite value), as :func:`obskit.alerts.baselines.error_excess` does.
:func:`version_classes`
    Every 5 minutes, per version that answered in the last 15 minutes, over its last ``n``
    answers (within the last 3 hours):
    ``version_class_mix`` (total-variation distance of its predicted-class mix to the
    reference's), ``unseen_class_share`` (share of answers whose class the reference never
    had) and ``missing_class_share`` (reference share of the classes with at least 1 % of
    the reference that the version never answered).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> n = 6000
>>> r = pl.DataFrame({"timestamp": [t0 + timedelta(seconds=i) for i in range(n)],
...                   "model_version": ["v2" if i % 5 == 0 else "v1" for i in range(n)],
...                   "status": ["error" if i % 10 == 0 else "ok" for i in range(n)]})
>>> f = version_error_ratio(r)
>>> f.filter(pl.col("model_version") == "v2")["value"].drop_nans().max() > 100
True
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import binom, fisher_exact

from obskit.alerts.baselines import _frame, fleet_cumsums, minute_grid, per_version_minutes
from obskit.analyze._frames import every_us, window_expr

__all__ = ["version_classes", "version_error_ratio", "version_error_ratio_counts", "version_latency_tail"]

_V = "model_version"
_OK = pl.col("status").cast(pl.String) == "ok"
#: Answers of a version that are older than this are not its recent class mix.
RECENT_US = 3 * 3600 * 1_000_000
#: A version with no answer in this long is not serving: no class-mix value.
SERVING_US = 15 * 60 * 1_000_000


def _versions(requests: pl.DataFrame) -> np.ndarray:
    if _V not in requests.columns:
        return np.full(requests.height, "", dtype=object)
    return requests.get_column(_V).cast(pl.String).fill_null("").to_numpy()


def version_latency_tail(requests: pl.DataFrame, *, every: str = "5m", quantiles: tuple[float, ...] = (0.5, 0.95, 0.99),
                         alpha: float = 1e-3, tail_minutes: int = 30, min_requests: int = 100) -> pl.DataFrame:
    """Per window and version, its latency quantiles / the other versions' (tested in the tail).

    ``p50`` compares the requests of each ``every`` window. A tail quantile needs more
    requests than a canary serves in 5 minutes: the row of window ``W`` compares the
    ``tail_minutes`` that end with ``W + every`` (at least ``min_requests`` of the version).

    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> r = pl.DataFrame({"timestamp": [t] * 400, "model_version": ["a", "b"] * 200,
    ...                   "latency_ms": [10.0 + i % 9 if i % 2 == 0 else 30.0 + i % 9 for i in range(400)],
    ...                   "status": ["ok"] * 400})
    >>> f = version_latency_tail(r)
    >>> f.filter(pl.col("model_version") == "b").select("quantile", pl.col("ratio").round(2)).rows()
    [('p50', 2.43), ('p95', 2.11), ('p99', 2.11)]
    """
    schema: dict[str, Any] = {"window_start": pl.Datetime("us", "UTC"), _V: pl.String, "quantile": pl.String,
                              "requests": pl.Int64, "latency_ms": pl.Float64, "others_ms": pl.Float64,
                              "ratio": pl.Float64, "p_value": pl.Float64}
    if not {"timestamp", _V, "latency_ms", "status"} <= set(requests.columns):
        return pl.DataFrame(schema=schema)
    ok = (requests.filter(_OK).select(window_expr(every), "timestamp", pl.col(_V).cast(pl.String).fill_null(""),
                                      "latency_ms").sort("timestamp"))
    if ok.height == 0:
        return pl.DataFrame(schema=schema)
    t = ok.get_column("timestamp").dt.epoch("us").to_numpy()
    lat = ok.get_column("latency_ms").to_numpy().astype(np.float64)
    vers = ok.get_column(_V).to_numpy()
    windows = ok.get_column("window_start").unique().sort()
    w_us = windows.dt.epoch("us").to_numpy()
    step = every_us(every)
    span = tail_minutes * 60_000_000
    rows: list[tuple[object, ...]] = []
    for version in sorted(set(vers.tolist())):
        mine_all = vers == version
        for w, w_dt in zip(w_us.tolist(), windows.to_list(), strict=True):
            for q in quantiles:
                lo = w if q <= 0.5 else w + step - span
                a, b = np.searchsorted(t, lo, "left"), np.searchsorted(t, w + step, "left")
                m, tt, ll = mine_all[a:b], t[a:b], lat[a:b]
                if q > 0.5 and m.any() and (~m).any():
                    # only the minutes both sides served: a canary starting or stopping inside the
                    # window would otherwise compare different hours (and loads)
                    lo2 = max(tt[m][0], tt[~m][0])
                    hi2 = min(tt[m][-1], tt[~m][-1])
                    keep = (tt >= lo2) & (tt <= hi2)
                    m, ll = m[keep], ll[keep]
                mine, other = ll[m], ll[~m]
                if mine.size == 0 or other.size == 0 or (q > 0.5 and min(mine.size, other.size) < min_requests):
                    continue
                rows.append(_ratio_row(w_dt, str(version), q, mine, other, alpha))
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, schema=schema, orient="row").sort("window_start", _V, "quantile")


def _ratio_row(window: object, version: str, q: float, mine: np.ndarray, other: np.ndarray,
               alpha: float) -> tuple[object, ...]:
    """One row: the version's ``q`` quantile / the others', tested above the median (Fisher)."""
    mine_q, other_q = float(np.quantile(mine, q)), float(np.quantile(other, q))
    ratio = mine_q / other_q if other_q > 0 else float("nan")
    p_value = 1.0
    if q > 0.5:
        # both quantiles are estimates: Fisher's exact test of "above the pooled quantile", mine vs others
        cut = float(np.quantile(np.concatenate([mine, other]), q))
        a, c = int((mine >= cut).sum()), int((other >= cut).sum())  # at or above: ties count on both sides
        p_value = float(fisher_exact([[a, mine.size - a], [c, other.size - c]], alternative="greater").pvalue)
        ratio = ratio if p_value < alpha else 1.0
    return (window, version, f"p{round(q * 100)}", int(mine.size), mine_q, other_q, ratio, p_value)


def version_error_ratio(requests: pl.DataFrame, *, start: datetime | None = None, end: datetime | None = None,
                        minutes: int = 15, alpha: float = 1e-6, min_requests: int = 100,
                        floor: float = 1e-4) -> pl.DataFrame:
    """Every minute, per version: its error rate over the last ``minutes`` / the other versions' (clear only)."""
    grid = minute_grid(requests, start, end)
    return version_error_ratio_counts(grid, per_version_minutes(requests, grid), minutes=minutes, alpha=alpha,
                                      min_requests=min_requests, floor=floor)


def version_error_ratio_counts(grid: np.ndarray, per_version: dict[str, tuple[np.ndarray, np.ndarray]], *,
                               minutes: int = 15, alpha: float = 1e-6, min_requests: int = 100,
                               floor: float = 1e-4) -> pl.DataFrame:
    """:func:`version_error_ratio` from requests and errors per minute and version."""
    n_all, e_all = fleet_cumsums(grid, per_version)
    idx = np.arange(grid.size)
    lo = np.maximum(idx - minutes, 0)
    parts = []
    for v in sorted(per_version):
        n_v = np.r_[0.0, np.cumsum(per_version[v][0])]
        e_v = np.r_[0.0, np.cumsum(per_version[v][1])]
        reqs, errs = n_v[idx] - n_v[lo], e_v[idx] - e_v[lo]
        o_reqs, o_errs = n_all[idx] - n_all[lo] - reqs, e_all[idx] - e_all[lo] - errs
        with np.errstate(invalid="ignore", divide="ignore"):
            p_value = binom.sf(errs - 1, errs + o_errs, reqs / (reqs + o_reqs))
            # others without an error count as one error (as error_excess does): a lower bound of the
            # ratio, not the version's rate over the floor (0 of 314 read as 1e-4 made 3442x)
            ratio = (errs / reqs) / np.maximum(np.maximum(o_errs, 1.0) / o_reqs, floor)
        known = (idx >= minutes) & (reqs >= min_requests) & (o_reqs >= min_requests)
        value = np.where(known, np.where((p_value < alpha) & (ratio > 1), ratio, 1.0), np.nan)
        parts.append(_frame(grid, value, model_version=v))
    return pl.concat(parts) if parts else _frame(grid, np.full(grid.size, np.nan), model_version="")


def version_classes(requests: pl.DataFrame, reference: pl.DataFrame, *, n: int = 500,
                    start: datetime | None = None, end: datetime | None = None,
                    prediction: str = "prediction") -> dict[str, pl.DataFrame]:
    """``version_class_mix``, ``unseen_class_share`` and ``missing_class_share`` frames (see the module doc).

    A version needs ``n / 2`` answers in the last 3 hours for a value (100 for
    ``unseen_class_share``: a class training never had is news at any count).
    """
    grid = minute_grid(requests, start, end)[::5]
    ref = reference.get_column(prediction).cast(pl.String).drop_nulls().value_counts()
    total = float(ref["count"].sum()) if ref.height else 0.0
    ref_share = {str(c): k / total for c, k in ref.iter_rows()} if total else {}
    ans = requests.filter(_OK & pl.col(prediction).is_not_null()).sort("timestamp")
    labels = ans.get_column(prediction).cast(pl.String).to_list()
    classes = sorted(set(labels) | set(ref_share))
    code = {c: i for i, c in enumerate(classes)}
    ref_vec = np.array([ref_share.get(c, 0.0) for c in classes])
    unseen = np.array([c not in ref_share for c in classes])
    common = ref_vec >= 0.01
    versions = _versions(ans)
    times = ans.get_column("timestamp").dt.epoch("us").to_numpy()
    codes = np.array([code[c] for c in labels], dtype=np.int64)
    out: dict[str, list[pl.DataFrame]] = {"version_class_mix": [], "unseen_class_share": [], "missing_class_share": []}
    for v in sorted(set(versions.tolist())):
        m = versions == v
        t_v, c_v = times[m], codes[m]
        cum = np.zeros((c_v.size + 1, len(classes)))
        np.add.at(cum, (np.arange(1, c_v.size + 1), c_v), 1.0)
        cum = np.cumsum(cum, axis=0)
        hi = np.searchsorted(t_v, grid, side="left")
        lo = np.maximum(hi - n, np.searchsorted(t_v, grid - RECENT_US, side="left"))
        counts = cum[hi] - cum[lo]
        size = counts.sum(axis=1)
        # a version that stopped answering has no current mix (its last answers would linger for 3 h)
        serving = np.searchsorted(t_v, grid - SERVING_US, side="left") < hi
        known = (size >= n / 2) & serving
        with np.errstate(invalid="ignore", divide="ignore"):
            share = counts / size[:, None]
        mix = np.where(known, 0.5 * np.abs(share - ref_vec).sum(axis=1), np.nan) if total else np.full(grid.size,
                                                                                                      np.nan)
        # a class training never had is news at any count: 100 answers are enough to say 5 % of them
        new = (np.where((size >= min(100, n / 2)) & serving, share[:, unseen].sum(axis=1), np.nan) if total
               else np.full(grid.size, np.nan))
        missing = (np.where(known, ((counts[:, common] == 0) * ref_vec[common]).sum(axis=1), np.nan)
                   if total else np.full(grid.size, np.nan))
        out["version_class_mix"].append(_frame(grid, mix, model_version=v))
        out["unseen_class_share"].append(_frame(grid, new, model_version=v))
        out["missing_class_share"].append(_frame(grid, missing, model_version=v))
    return {k: pl.concat(v) if v else _frame(grid, np.full(grid.size, np.nan), model_version="")
            for k, v in out.items()}
