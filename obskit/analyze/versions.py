"""Model versions: which served when, rollouts and rollbacks, and a canary comparison.

:func:`version_traffic`, :func:`version_spans` and :func:`rollout_episodes` describe the
traffic split over time; :func:`canary_comparison` compares two versions on the requests
they served during their overlap: latency (Mann-Whitney U, bootstrap confidence intervals
of the p95 and p99 differences), error rate (two-proportion z-test), confidence and
correction rate, and ends with a one-line verdict.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> r = pl.DataFrame({"timestamp": [t] * 4, "model_version": ["v1", "v1", "v1", "v2"]})
>>> version_traffic(r).select("model_version", "share").rows()
[('v1', 0.75), ('v2', 0.25)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from obskit.analyze._frames import every_us, require, runs, window_expr
from obskit.errors import AnalysisError

__all__ = [
    "CanaryComparison",
    "busiest_versions",
    "canary_comparison",
    "rollout_episodes",
    "two_proportion_ztest",
    "version_latency_ratio",
    "version_spans",
    "version_traffic",
]

_V = "model_version"


def busiest_versions(requests: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Model versions by the number of requests they served, busiest first (ties by name).

    Examples
    --------
    >>> import polars as pl
    >>> busiest_versions(pl.DataFrame({"model_version": ["a", "b", "b"]})).rows()
    [('b', 2), ('a', 1)]
    """
    return (
        requests.lazy()
        .group_by("model_version")
        .agg(pl.len().cast(pl.Int64).alias("requests"))
        .sort(["requests", "model_version"], descending=[True, False])
        .collect(engine="streaming")
    )


def version_traffic(requests: pl.DataFrame | pl.LazyFrame, every: str = "5m") -> pl.DataFrame:
    """Requests and traffic share of each version per window.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``model_version``, ``requests``, ``share`` (of the window's
        requests). A version without requests in a window has no row there.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)] * 2, "model_version": ["a", "b"]})
    >>> version_traffic(r)["requests"].to_list()
    [1, 1]
    """
    lf = requests.lazy()
    require(lf, ["timestamp", _V], "version_traffic")
    return (
        lf.select(window_expr(every), _V)
        .group_by("window_start", _V)
        .agg(pl.len().cast(pl.Int64).alias("requests"))
        .with_columns((pl.col("requests") / pl.col("requests").sum().over("window_start")).alias("share"))
        .sort("window_start", _V)
        .collect(engine="streaming")
    )


def version_latency_ratio(
    requests: pl.DataFrame | pl.LazyFrame, every: str = "5m", quantile: float = 0.5
) -> pl.DataFrame:
    """Per window, each version's latency quantile relative to the other versions' in that window.

    Successful requests only. A ratio of 1.3 means the version is 30% slower than the rest
    of the traffic of the same window (same load, same inputs), which is what a canary
    alert wants; windows where a version runs alone have no ratio.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``model_version``, ``requests``, ``latency_ms`` (the version's
        quantile), ``others_ms`` (the other versions' quantile), ``ratio``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> r = pl.DataFrame({"timestamp": [t] * 4, "model_version": ["a", "a", "b", "b"],
    ...                   "latency_ms": [10.0, 10.0, 13.0, 13.0], "status": ["ok"] * 4})
    >>> version_latency_ratio(r).filter(pl.col("model_version") == "b")["ratio"].to_list()
    [1.3]
    """
    lf = requests.lazy()
    require(lf, ["timestamp", _V, "latency_ms", "status"], "version_latency_ratio")
    ok = lf.filter(pl.col("status").cast(pl.String) == "ok").select(window_expr(every), _V, "latency_ms")
    per = ok.group_by("window_start", _V).agg(
        pl.len().cast(pl.Int64).alias("requests"), pl.col("latency_ms").quantile(quantile, "linear"))
    others = (
        ok.join(per.select("window_start", pl.col(_V).alias("_v")), on="window_start")
        .filter(pl.col(_V) != pl.col("_v"))
        .group_by("window_start", "_v")
        .agg(pl.col("latency_ms").quantile(quantile, "linear").alias("others_ms"))
        .rename({"_v": _V})
    )
    return (
        per.join(others, on=["window_start", _V], how="inner")
        .with_columns((pl.col("latency_ms") / pl.col("others_ms")).alias("ratio"))
        .sort("window_start", _V)
        .collect()
    )


def version_spans(requests: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """First and last request of each version and its share of all requests.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, h, tzinfo=UTC) for h in (0, 1, 2)],
    ...                   "model_version": ["a", "b", "a"]})
    >>> version_spans(r).select("model_version", pl.col("first_seen").dt.hour(), pl.col("last_seen").dt.hour()).rows()
    [('a', 0, 2), ('b', 1, 1)]
    """
    lf = requests.lazy()
    require(lf, ["timestamp", _V], "version_spans")
    return (
        lf.group_by(_V)
        .agg(
            pl.col("timestamp").min().alias("first_seen"),
            pl.col("timestamp").max().alias("last_seen"),
            pl.len().cast(pl.Int64).alias("requests"),
        )
        .with_columns((pl.col("requests") / pl.col("requests").sum()).alias("share"))
        .sort("first_seen", _V)
        .collect()
    )


def rollout_episodes(
    requests: pl.DataFrame | pl.LazyFrame, every: str = "5m", *, max_gap: str = "15m"
) -> pl.DataFrame:
    """Continuous serving periods of each version, and how each one ended.

    A version's windows with traffic form one episode while gaps between them stay within
    ``max_gap`` (a canary at 10 % of night traffic can miss a window or two).

    Returns
    -------
    polars.DataFrame
        ``model_version``, ``start``, ``end`` (end of its last window), ``windows``,
        ``mean_share``, ``peak_share``, ``began`` (``"before data"`` when it served from
        the first window, else ``"rollout"``) and ``outcome``: ``"serving"`` (still
        serving in the last window), ``"rolled back"`` (stopped while a version that was
        serving before it carried on), ``"replaced"`` (stopped while a newer version
        carried on) or ``"stopped"``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> ts = [datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(6)]
    >>> r = pl.DataFrame({"timestamp": ts + ts[2:4], "model_version": ["v1"] * 6 + ["v2"] * 2})
    >>> rollout_episodes(r, every="1h", max_gap="1h").select("model_version", "began", "outcome").rows()
    [('v1', 'before data', 'serving'), ('v2', 'rollout', 'rolled back')]
    """
    traffic = version_traffic(requests, every)
    if traffic.is_empty():
        return pl.DataFrame(
            schema={_V: pl.String, "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
                    "windows": pl.Int64, "mean_share": pl.Float64, "peak_share": pl.Float64,
                    "began": pl.String, "outcome": pl.String}
        )
    step = every_us(every)
    gap = every_us(max_gap) + step
    first = traffic.get_column("window_start").min()
    last = traffic.get_column("window_start").max()
    ep = (
        runs(traffic, pl.lit(True), time="window_start", by=[_V], max_gap_us=gap)
        .group_by(_V, "_run")
        .agg(
            pl.col("window_start").min().alias("start"),
            pl.col("window_start").max().alias("_last"),
            pl.len().cast(pl.Int64).alias("windows"),
            pl.col("share").mean().alias("mean_share"),
            pl.col("share").max().alias("peak_share"),
        )
        .sort("start", _V)
    )
    rows = ep.to_dicts()
    out = []
    for e in rows:
        began = "before data" if e["start"] == first else "rollout"
        if e["_last"] == last:
            outcome = "serving"
        else:
            after = [o for o in rows if o is not e and o["start"] <= e["_last"] < o["_last"]]
            if any(o["start"] < e["start"] for o in after):
                outcome = "rolled back"
            elif after:
                outcome = "replaced"
            else:
                outcome = "stopped"
        out.append({**e, "began": began, "outcome": outcome})
    return (
        pl.DataFrame(out, schema_overrides={"start": traffic.schema["window_start"]})
        .with_columns((pl.col("_last") + pl.duration(microseconds=step)).alias("end"))
        .select(_V, "start", "end", "windows", "mean_share", "peak_share", "began", "outcome")
    )


def two_proportion_ztest(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z-test of ``x1/n1`` against ``x2/n2``: (z, two-sided p-value).

    ``z`` is positive when the second proportion is higher. Equivalent to a chi-square
    test of the 2x2 table without continuity correction (``z**2`` is its statistic).

    >>> z, p = two_proportion_ztest(10, 1000, 30, 1000)
    >>> round(z, 4), round(p, 6)
    (3.1944, 0.001401)
    """
    if n1 <= 0 or n2 <= 0:
        raise AnalysisError("two_proportion_ztest: both samples need at least one observation")
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (p2 - p1) / se
    return z, float(2 * stats.norm.sf(abs(z)))


def _boot_order_statistic(sorted_x: np.ndarray, q: float, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of the q-quantile of ``sorted_x``, drawn exactly without resampling rows.

    The q-quantile (``inverted_cdf`` definition) of a resample of size n is the order statistic
    x_(J) with J the smallest j such that at least m = ceil(q n) resampled values are <= x_(j);
    that count is Binomial(n, j/n), so P(J <= j) = P(Bin(n, j/n) >= m). Drawing J from this
    distribution gives the same replicates as resampling, in O(n_boot + window) instead of
    O(n_boot * n).
    """
    n = sorted_x.size
    m = max(1, int(np.ceil(q * n)))
    sd = np.sqrt(n * q * (1 - q)) + 1.0
    lo = max(1, int(m - 10 * sd))
    hi = min(n, int(m + 10 * sd) + 1)
    j = np.arange(lo, hi + 1)
    cdf = stats.binom.sf(m - 1, n, j / n)
    u = rng.random(n_boot)
    idx = np.minimum(np.searchsorted(cdf, u, side="left"), j.size - 1)
    return np.asarray(sorted_x[j[idx] - 1], dtype=np.float64)


def _boot_quantile_diff(
    a: np.ndarray, b: np.ndarray, q: float, n_boot: int, rng: np.random.Generator, level: float
) -> tuple[float, float]:
    """Percentile bootstrap CI of the relative difference ``quantile(b) / quantile(a) - 1``."""
    qa = _boot_order_statistic(np.sort(a), q, n_boot, rng)
    qb = _boot_order_statistic(np.sort(b), q, n_boot, rng)
    out = qb / qa - 1.0
    lo, hi = np.quantile(out, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


@dataclass(frozen=True)
class CanaryComparison:
    """Result of :func:`canary_comparison`: the metrics table and a one-line verdict."""

    baseline: str
    canary: str
    start: datetime
    end: datetime
    table: pl.DataFrame
    verdict: str
    slower: bool
    faster: bool
    more_errors: bool


def _pct(x: float) -> str:
    return f"{x * 100:+.0f}%"


def canary_comparison(
    requests: pl.DataFrame,
    baseline: str,
    canary: str,
    *,
    confidence_threshold: float = 0.8,
    alpha: float = 0.05,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> CanaryComparison:
    """Compare ``canary`` with ``baseline`` on the requests both served during their overlap.

    Parameters
    ----------
    requests
        A ``requests`` frame (``timestamp``, ``model_version``, ``latency_ms``, ``status``;
        ``confidence`` and ``corrected_label`` when present).
    baseline, canary
        The two ``model_version`` values.
    confidence_threshold
        Threshold of the confident rate and of the correction rate's denominator.
    alpha
        Significance level of the tests.
    n_boot
        Bootstrap resamples for the p95/p99 confidence intervals.
    ci_level
        Confidence level of the intervals.
    seed
        Seed of the bootstrap (same seed, same intervals).

    Returns
    -------
    CanaryComparison
        ``table`` has one row per metric (``p50_ms``, ``p95_ms``, ``p99_ms``, ``mean_ms``,
        ``error_rate``, ``mean_confidence``, ``confident_rate``, ``correction_rate``) with
        ``baseline``, ``canary``, ``diff`` (canary - baseline), ``rel_diff``, ``ci_low`` /
        ``ci_high`` (of ``rel_diff`` for p95/p99, of ``diff`` for rates), ``p_value``,
        ``test`` and ``significant``. Latency uses successful requests only.

    Raises
    ------
    AnalysisError
        A version is absent, the versions never overlap, or a side has no successful
        request in the overlap.

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> rng = np.random.default_rng(0)
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> n = 2000
    >>> r = pl.DataFrame({"timestamp": [t0 + timedelta(seconds=i) for i in range(n)],
    ...                   "model_version": ["v1", "v2"] * (n // 2), "status": "ok",
    ...                   "latency_ms": rng.lognormal(3.0, 0.3, n) * np.tile([1.0, 1.3], n // 2)})
    >>> res = canary_comparison(r, "v1", "v2", n_boot=200)
    >>> res.slower, res.verdict.split(":")[0]
    (True, 'v2 is slower')
    """
    require(requests, ["timestamp", _V, "latency_ms", "status"], "canary_comparison")
    spans = {row[_V]: row for row in version_spans(requests.filter(pl.col(_V).is_in([baseline, canary]))).to_dicts()}
    for v in (baseline, canary):
        if v not in spans:
            raise AnalysisError(f"canary_comparison: version {v!r} has no requests")
    start = max(spans[baseline]["first_seen"], spans[canary]["first_seen"])
    end = min(spans[baseline]["last_seen"], spans[canary]["last_seen"])
    if start > end:
        raise AnalysisError(f"canary_comparison: {baseline} and {canary} never served at the same time")
    win = requests.filter(pl.col("timestamp").is_between(start, end, closed="both"))
    ok = pl.col("status").cast(pl.String) == "ok"
    side = {v: win.filter(pl.col(_V) == v) for v in (baseline, canary)}
    lat = {v: side[v].filter(ok).get_column("latency_ms").cast(pl.Float64).to_numpy() for v in side}
    for v, arr in lat.items():
        if arr.size == 0:
            raise AnalysisError(f"canary_comparison: {v} has no successful request in the overlap")
    a, b = lat[baseline], lat[canary]
    rng = np.random.default_rng(seed)
    mwu_p = float(stats.mannwhitneyu(b, a, alternative="two-sided").pvalue)
    rows: list[dict[str, object]] = []

    def add(metric: str, x: float, y: float, lo: float | None, hi: float | None, p: float | None, test: str) -> None:
        rel = (y / x - 1.0) if x else None
        rows.append({"metric": metric, "baseline": x, "canary": y, "diff": y - x, "rel_diff": rel,
                     "ci_low": lo, "ci_high": hi, "p_value": p, "test": test,
                     "significant": None if p is None else bool(p < alpha)})

    cis: dict[str, tuple[float, float]] = {}
    for q, name in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        lo: float | None = None
        hi: float | None = None
        if q in (0.95, 0.99):
            lo, hi = _boot_quantile_diff(a, b, q, n_boot, rng, ci_level)
            cis[name] = (lo, hi)
        add(name, float(np.quantile(a, q)), float(np.quantile(b, q)), lo, hi, mwu_p, "mann-whitney u")
    add("mean_ms", float(a.mean()), float(b.mean()), None, None, mwu_p, "mann-whitney u")

    zq = float(stats.norm.ppf((1 + ci_level) / 2))

    def rate_row(metric: str, x1: int, n1: int, x2: int, n2: int) -> float | None:
        if n1 == 0 or n2 == 0:
            rows.append({"metric": metric, "baseline": None, "canary": None, "diff": None, "rel_diff": None,
                         "ci_low": None, "ci_high": None, "p_value": None, "test": "two-proportion z",
                         "significant": None})
            return None
        _, p = two_proportion_ztest(x1, n1, x2, n2)
        p1, p2 = x1 / n1, x2 / n2
        se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        add(metric, p1, p2, p2 - p1 - zq * se, p2 - p1 + zq * se, p, "two-proportion z")
        return p

    counts: dict[str, dict[str, Any]] = {}
    for v, df in side.items():
        is_ok = df.select(ok).to_series()
        c: dict[str, Any] = {"n": df.height, "err": int((~is_ok).sum())}
        if "confidence" in df.columns:
            conf = df.filter(ok & pl.col("confidence").is_not_null())
            confident = conf.filter(pl.col("confidence") >= confidence_threshold)
            c.update(answered=conf.height, confident=confident.height,
                     mean_conf=float(conf.get_column("confidence").mean() or math.nan) if conf.height  # type: ignore[arg-type]
                     else math.nan)
            if "corrected_label" in df.columns:
                c["fixed"] = int(confident.get_column("corrected_label").is_not_null().sum())
        counts[v] = c
    cb, cc = counts[baseline], counts[canary]
    err_p = rate_row("error_rate", cb["err"], cb["n"], cc["err"], cc["n"])
    if "answered" in cb:
        conf_b = side[baseline].filter(ok).get_column("confidence").drop_nulls().to_numpy()
        conf_c = side[canary].filter(ok).get_column("confidence").drop_nulls().to_numpy()
        p_conf = (
            float(stats.mannwhitneyu(conf_c, conf_b, alternative="two-sided").pvalue)
            if conf_b.size and conf_c.size else None
        )
        add("mean_confidence", cb["mean_conf"], cc["mean_conf"], None, None, p_conf, "mann-whitney u")
        rate_row("confident_rate", cb["confident"], cb["answered"], cc["confident"], cc["answered"])
        if "fixed" in cb:
            rate_row("correction_rate", cb["fixed"], cb["confident"], cc["fixed"], cc["confident"])
    table = pl.DataFrame(
        rows,
        schema={"metric": pl.String, "baseline": pl.Float64, "canary": pl.Float64, "diff": pl.Float64,
                "rel_diff": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "p_value": pl.Float64,
                "test": pl.String, "significant": pl.Boolean},
    )

    rel: dict[str, Any] = {str(r["metric"]): r["rel_diff"] for r in rows}
    lo95, hi95 = cis["p95_ms"]
    lo99, hi99 = cis["p99_ms"]
    slower = mwu_p < alpha and lo95 > 0
    faster = mwu_p < alpha and hi95 < 0
    detail = (
        f"p95 {_pct(float(rel['p95_ms'] or 0.0))} [CI {_pct(lo95)}, {_pct(hi95)}], "
        f"p99 {_pct(float(rel['p99_ms'] or 0.0))} [CI {_pct(lo99)}, {_pct(hi99)}]"
    )
    if slower:
        verdict = f"{canary} is slower: {detail}"
    elif faster:
        verdict = f"{canary} is faster: {detail}"
    else:
        verdict = f"{canary} latency is not clearly different from {baseline}: {detail}"
    e1, e2 = cb["err"] / cb["n"], cc["err"] / cc["n"]
    more_errors = err_p is not None and err_p < alpha and e2 > e1
    if more_errors:
        verdict += f"; error rate higher: {e2:.2%} vs {e1:.2%} (p={err_p:.2g})"
    elif err_p is not None and err_p < alpha:
        verdict += f"; error rate lower: {e2:.2%} vs {e1:.2%} (p={err_p:.2g})"
    else:
        verdict += f"; error rate {e2:.2%} vs {e1:.2%} (no significant difference)"
    return CanaryComparison(baseline, canary, start, end, table, verdict, slower, faster, more_errors)
