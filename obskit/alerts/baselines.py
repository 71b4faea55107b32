"""Serving signals against their own trailing baseline: traffic, latency and errors.

Each function returns a *signal frame*: ``timestamp`` (the time the value is known: all of
its data lies before it), label columns, ``value``. Values compare the recent past with a
baseline from just before it and are reported only when the difference is both large and
statistically clear, so a quiet night (few requests) and a busy day are judged by the same
rule without false alarms:

``traffic_ratio``
    Requests in the last 3, 10 or 30 minutes / what the hour before them predicts (median
    requests per minute). A window counts only when a Poisson test says the drop (or the
    surge) is beyond chance (p < 1e-6) and the window expected at least 100 requests (real
    traffic is burstier than Poisson); the most extreme clear ratio is reported, 1.0
    otherwise. An outage reads 0.0 within minutes; minutes without requests exist.
``latency_ratio``
    p50 and p99 (label ``quantile``) of the last ``n`` successful requests (at least 10
    beyond the quantile: 400 for p50, 1000 for p99) / the median of the same statistic over
    the hour before those requests: windows sized by sample count, so a low-volume service
    waits for enough requests instead of guessing from a few.
``error_excess``
    Errors in the last 10, 30 or 60 minutes / what the previous three hours' error rate
    predicts, per ``model_version`` (a new version is judged against all traffic's past).
    Reported when the excess is significant (a conditional binomial test of the two Poisson
    rates, p < 1e-6, so a baseline with few errors cannot fake an excess), at least 3x, and
    sustained: beyond the window's two worst minutes it is still at least 2x (at high volume a
    one- or two-minute blip is significant, but it is not an excess); 1.0 otherwise.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> ts = [t0 + timedelta(seconds=2 * i) for i in range(5400)]  # 30 per minute for 3 hours
>>> r = pl.DataFrame({"timestamp": ts[:4500], "status": ["ok"] * 4500, "latency_ms": [10.0] * 4500})
>>> f = traffic_ratio(r, end=t0 + timedelta(hours=3))
>>> f.filter(pl.col("timestamp") == t0 + timedelta(minutes=165))["value"].item()
0.0
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
from scipy.stats import binom, poisson

from obskit.analyze.online import trailing

__all__ = ["error_excess", "error_excess_counts", "fleet_cumsums", "latency_ratio", "minute_grid",
           "minute_grid_between", "per_version_minutes", "traffic_ratio", "traffic_ratio_counts",
           "version_window_stats"]

_UTC = pl.Datetime("us", "UTC")
MIN_US = 60_000_000


def minute_grid(requests: pl.DataFrame, start: datetime | None = None, end: datetime | None = None) -> np.ndarray:
    """Minute boundaries (µs) from the first request's minute (or ``start``) to ``end`` (or the last minute's start)."""
    t = requests.get_column("timestamp").dt.epoch("us").to_numpy()
    return minute_grid_between(int(t.min()), int(t.max()), start, end)


def minute_grid_between(first_us: int, last_us: int, start: datetime | None = None,
                        end: datetime | None = None) -> np.ndarray:
    """:func:`minute_grid` of requests from ``first_us`` to ``last_us`` (what a scan of files knows of them)."""
    lo = first_us // MIN_US * MIN_US if start is None else _us(start)
    hi = last_us // MIN_US * MIN_US if end is None else _us(end)
    from obskit.limits import LONGEST_PERIOD

    if hi - lo > _us(datetime(1970, 1, 1) + LONGEST_PERIOD):
        from obskit.errors import AnalysisError

        raise AnalysisError(f"the requests span more than {LONGEST_PERIOD.days} days: choose a period (--start/--end)")
    return np.arange(lo, hi + 1, MIN_US, dtype=np.int64)


def _us(t: datetime) -> int:
    return int((t - datetime(1970, 1, 1, tzinfo=t.tzinfo)) / timedelta(microseconds=1))


def _frame(grid: np.ndarray, value: np.ndarray, **labels: str) -> pl.DataFrame:
    out = pl.DataFrame({"timestamp": pl.Series(grid).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                        "value": value})
    return out.with_columns(*[pl.lit(v).alias(k) for k, v in labels.items()]).select(
        "timestamp", *labels, "value") if labels else out


def version_window_stats(grid: np.ndarray, per_version: dict[str, tuple[np.ndarray, np.ndarray]]) -> pl.DataFrame:
    """``window_stats``' counts per minute and model version: what ``by = ["model_version"]`` reads.

    ``per_version``: requests and errors per minute ``[grid[i], grid[i+1])`` of each version
    (:func:`per_version_minutes`). Every version has every minute of the grid: a minute
    without its requests has 0 requests, 0 rps and no error rate (an outage is a value).

    Examples
    --------
    >>> g = np.array([0, MIN_US, 2 * MIN_US])
    >>> version_window_stats(g, {"v1": (np.array([4.0, 0.0]), np.array([1.0, 0.0]))}).select(
    ...     "model_version", "requests", "errors", "error_rate").rows()
    [('v1', 4, 1, 0.25), ('v1', 0, 0, None)]
    """
    size = max(grid.size - 1, 0)
    starts = pl.Series(grid[:size]).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    parts = [pl.DataFrame({"window_start": starts, "model_version": [version] * size,
                           "requests": n.astype(np.int64), "errors": e.astype(np.int64)})
             for version, (n, e) in sorted(per_version.items())]
    out = pl.concat(parts) if parts else pl.DataFrame(
        schema={"window_start": _UTC, "model_version": pl.String(), "requests": pl.Int64(), "errors": pl.Int64()})
    return out.with_columns(
        pl.when(pl.col("requests") > 0).then(pl.col("errors") / pl.col("requests")).alias("error_rate"),
        (pl.col("requests") / 60.0).alias("rps"))


def _per_minute(times_us: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Counts per minute ``[grid[i], grid[i+1])`` (length ``grid.size - 1``)."""
    return np.diff(np.searchsorted(np.sort(times_us), grid, side="left")).astype(np.float64)


def traffic_ratio(
    requests: pl.DataFrame,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    windows: tuple[int, ...] = (3, 10, 30),
    baseline_minutes: int = 60,
    alpha: float = 1e-6,
    min_expected: float = 100.0,
) -> pl.DataFrame:
    """Recent traffic / trailing baseline, at every minute (see the module docstring)."""
    grid = minute_grid(requests, start, end)
    counts = _per_minute(requests.get_column("timestamp").dt.epoch("us").to_numpy(), grid)
    return traffic_ratio_counts(grid, counts, windows=windows, baseline_minutes=baseline_minutes, alpha=alpha,
                                min_expected=min_expected)


def traffic_ratio_counts(grid: np.ndarray, counts: np.ndarray, *, windows: tuple[int, ...] = (3, 10, 30),
                         baseline_minutes: int = 60, alpha: float = 1e-6, min_expected: float = 100.0
                         ) -> pl.DataFrame:
    """:func:`traffic_ratio` from requests per minute (``counts[i]``: requests in ``[grid[i], grid[i+1])``).

    The same signal from rows in memory or from counts streamed out of files too large to load.
    """
    csum = np.r_[0.0, np.cumsum(counts)]
    n = counts.size  # value at grid[i] (i >= 1) uses minutes [.., i)
    best = np.full(n + 1, np.nan)
    for w in windows:
        idx = np.arange(n + 1)
        obs = np.where(idx >= w, csum[idx] - csum[np.maximum(idx - w, 0)], np.nan)
        # median per minute of the hour that ends where the window starts (minutes before i - w)
        med = trailing(counts, baseline_minutes, "median", min_history=baseline_minutes // 2)
        rate = np.r_[np.full(w, np.nan), med][: n + 1]
        expected = rate * w
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = obs / expected
            low = poisson.cdf(obs, expected) < alpha
            high = poisson.sf(obs - 1, expected) < alpha
        # a clear change needs enough expected requests: short windows on a quiet night are noise
        clear = (low | high) & (expected >= min_expected)
        known = np.isfinite(expected) & np.isfinite(obs)
        cand = np.where(clear, ratio, np.where(known, 1.0, np.nan))
        # keep the candidate farthest from 1 (in log terms); NaN when no window is known yet
        far = np.abs(np.log(np.where(cand > 0, cand, 1e-9)))
        cur = np.abs(np.log(np.where(best > 0, best, 1e-9)))
        take = np.isnan(best) | (np.isfinite(cand) & (far > cur))
        best = np.where(take, cand, best)
    return _frame(grid, best)


def latency_ratio(
    requests: pl.DataFrame,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    n: int = 400,
    quantiles: tuple[float, ...] = (0.5, 0.99),
    baseline_minutes: int = 60,
) -> pl.DataFrame:
    """Latency quantiles of the last ``n`` successful requests / their trailing median, every minute."""
    grid = minute_grid(requests, start, end)
    ok = requests.filter(pl.col("status").cast(pl.String) == "ok").select("timestamp", "latency_ms").drop_nulls()
    ok = ok.filter(pl.col("latency_ms").is_finite()).sort("timestamp")
    t = ok.get_column("timestamp").dt.epoch("us").to_numpy()
    lat = ok.get_column("latency_ms").cast(pl.Float64).to_numpy()
    hi = np.searchsorted(t, grid, side="left")  # requests strictly before each minute
    parts = []
    for q in quantiles:
        nq = max(n, round(10 / (1 - q)))  # at least 10 answers beyond the quantile (p99: 1000)
        value = np.full(grid.size, np.nan)
        have = hi >= nq
        if have.any():
            from numpy.lib.stride_tricks import sliding_window_view

            stat = np.full(grid.size, np.nan)
            rows = np.flatnonzero(have)
            views = sliding_window_view(lat, nq)  # views[j] = lat[j:j+nq], no copy
            for c0 in range(0, rows.size, 512):
                sel = rows[c0:c0 + 512]
                stat[sel] = np.quantile(views[hi[sel] - nq], q, axis=1)
            first_t = np.where(have, t[np.clip(hi - nq, 0, max(t.size - 1, 0))], 0)
            # baseline: the statistic at the minutes of the hour before this window's first request
            ref_hi = np.searchsorted(grid, first_t, side="right")
            ref_lo = np.searchsorted(grid, first_t - baseline_minutes * MIN_US, side="left")
            base = np.full(grid.size, np.nan)
            for i in np.flatnonzero(have).tolist():
                seg = stat[ref_lo[i]:ref_hi[i]]
                seg = seg[np.isfinite(seg)]
                if seg.size >= baseline_minutes // 3:
                    base[i] = np.median(seg)
            with np.errstate(invalid="ignore", divide="ignore"):
                value = stat / base
        parts.append(_frame(grid, value, quantile=f"p{round(q * 100):d}"))
    return pl.concat(parts)


def error_excess(
    requests: pl.DataFrame,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    windows: tuple[int, ...] = (10, 30, 60),
    baseline_minutes: int = 180,
    alpha: float = 1e-6,
    min_ratio: float = 3.0,
    floor: float = 1e-4,
) -> pl.DataFrame:
    """Recent errors / what the trailing error rate predicts, per model version, every minute."""
    grid = minute_grid(requests, start, end)
    return error_excess_counts(grid, per_version_minutes(requests, grid), windows=windows,
                               baseline_minutes=baseline_minutes, alpha=alpha, min_ratio=min_ratio, floor=floor)


def per_version_minutes(requests: pl.DataFrame, grid: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Requests and errors per minute of ``grid``, per model version ("" without the column)."""
    t_all = requests.get_column("timestamp").dt.epoch("us").to_numpy()
    err_all = (requests.get_column("status").cast(pl.String) != "ok").to_numpy()
    versions = (requests.get_column("model_version").cast(pl.String).fill_null("").to_numpy()
                if "model_version" in requests.columns else np.full(t_all.size, ""))
    out = {}
    for v in sorted(set(versions.tolist())):
        m = versions == v
        out[str(v)] = (_per_minute(t_all[m], grid), _per_minute(t_all[m & err_all], grid))
    return out


def fleet_cumsums(grid: np.ndarray, per_version: dict[str, tuple[np.ndarray, np.ndarray]]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative requests and errors of every version together, ``[0, ...]`` over the grid's minutes."""
    zero = np.zeros(max(grid.size - 1, 0))
    n_all = sum((n for n, _ in per_version.values()), zero)
    e_all = sum((e for _, e in per_version.values()), zero)
    return np.r_[0.0, np.cumsum(n_all)], np.r_[0.0, np.cumsum(e_all)]


#: Beyond its two worst minutes, an error excess still errs at least this many times the usual rate.
SUSTAINED_RATIO = 2.0
#: A version without a request in this many minutes raises no error excess (it stopped serving).
SERVING_MINUTES = 5
_BURST_MINUTES = 2


def _worst_minutes(counts: tuple[np.ndarray, np.ndarray], w: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per grid time: the errors and requests of the worst ``_BURST_MINUTES`` consecutive minutes of the last ``w``."""
    from numpy.lib.stride_tricks import sliding_window_view

    n_min, e_min = (np.asarray(c, dtype=np.float64) for c in counts)
    k = _BURST_MINUTES
    if w <= k or e_min.size < k:
        return np.zeros(size), np.zeros(size)
    e_k = sliding_window_view(e_min, k).sum(axis=1)  # e_k[j]: minutes j .. j+k-1
    n_k = sliding_window_view(n_min, k).sum(axis=1)
    span = w - k + 1  # the pairs inside minutes [i - w, i)
    pad_e = np.r_[np.full(span - 1, -1.0), e_k]
    pad_n = np.r_[np.zeros(span - 1), n_k]
    views = sliding_window_view(pad_e, span)  # views[j]: pairs ending by pair j
    at = views.argmax(axis=1) + np.arange(views.shape[0])
    worst_e, worst_n = np.maximum(pad_e[at], 0.0), pad_n[at]
    out_e, out_n = np.zeros(size), np.zeros(size)
    # grid time i (minutes < i) holds its last pair at j = i - k
    i = np.arange(k, size)
    j = np.minimum(i - k, worst_e.size - 1)
    out_e[i], out_n[i] = worst_e[j], worst_n[j]
    return out_e, out_n


def error_excess_counts(grid: np.ndarray, per_version: dict[str, tuple[np.ndarray, np.ndarray]], *,
                        windows: tuple[int, ...] = (10, 30, 60), baseline_minutes: int = 180, alpha: float = 1e-6,
                        min_ratio: float = 3.0, floor: float = 1e-4) -> pl.DataFrame:
    """:func:`error_excess` from requests and errors per minute and version (see :func:`per_version_minutes`)."""
    n_all, e_all = fleet_cumsums(grid, per_version)
    idx = np.arange(grid.size)
    parts = []
    for v in sorted(per_version):
        n_v = np.r_[0.0, np.cumsum(per_version[v][0])]
        e_v = np.r_[0.0, np.cumsum(per_version[v][1])]
        best = np.full(grid.size, np.nan)
        for w in windows:
            burst_e, burst_n = _worst_minutes(per_version[v], w, grid.size)
            lo = np.maximum(idx - w, 0)
            b_lo = np.maximum(idx - w - baseline_minutes, 0)
            reqs = n_v[idx] - n_v[lo]
            errs = e_v[idx] - e_v[lo]
            base_n = n_all[lo] - n_all[b_lo]
            base_e = e_all[lo] - e_all[b_lo]
            with np.errstate(invalid="ignore", divide="ignore"):
                # conditional test of two Poisson rates: given all errors of both periods, the share
                # that falls in the recent window is binomial under "same rate" (the baseline's own
                # sampling noise is part of the test, so a baseline with few errors cannot fake an excess)
                share = reqs / (reqs + base_n)
                p_value = binom.sf(errs - 1, errs + base_e, share)
                rate = np.maximum(np.maximum(base_e, 1.0) / base_n, floor)
                ratio = errs / (rate * reqs)
                # sustained: beyond its two worst minutes the window still errs at least 2x (a blip of
                # one or two minutes is significant at high volume, and never an excess on its own)
                rest = (errs - burst_e) / (rate * np.maximum(reqs - burst_n, 1.0))
                clear = (p_value < alpha) & (ratio >= min_ratio) & (rest >= SUSTAINED_RATIO)
            # a version must still serve: one that stopped (rolled back) keeps its last hour's errors
            # in the longer windows, but no new request can fail more often than usual
            serving = n_v[idx] - n_v[np.maximum(idx - SERVING_MINUTES, 0)] > 0
            known = (idx >= w) & (base_n >= 1000) & (reqs > 0) & serving
            cand = np.where(known, np.where(clear, ratio, 1.0), np.nan)
            best = np.where(np.isnan(best) | (cand > best), cand, best)
        parts.append(_frame(grid, best, model_version=v))
    return pl.concat(parts) if parts else _frame(grid, np.full(grid.size, np.nan), model_version="")
