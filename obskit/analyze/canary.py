"""A canary against its baseline: the requests both versions served during their overlap.

:func:`canary_comparison` compares latency (Mann-Whitney U, bootstrap confidence intervals
of the p95 and p99 differences), error rate (two-proportion z-test), confidence and
correction rate, and ends with a one-line verdict.

It reads a frame in memory or a lazy scan of any size. A frame gives every figure from the
rows. A scan is never loaded: two streaming passes keep, per version, exact counts and sums
and the successful latencies as sketch buckets (:mod:`obskit.scale.sketches`, 0.5 %
relative). The rates, means, tests on rates and the overlap are then exact; the latency
quantiles are within the sketch bound; the rank test and the bootstrap intervals are
computed on the bucket counts (values in one bucket count as ties). ``CanaryComparison.bound``
says so.

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
>>> canary_comparison(r, "v1", "v2", n_boot=200).slower
True
>>> canary_comparison(r.lazy(), "v1", "v2", n_boot=200).slower  # streamed: the same verdict
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from obskit.analyze._frames import require
from obskit.errors import AnalysisError
from obskit.scale.sketches import DEFAULT_ALPHA, DEFAULT_MIN_VALUE, QuantileSketch, SketchTable

__all__ = ["CanaryComparison", "canary_comparison", "two_proportion_ztest"]

_V = "model_version"
_OK = pl.col("status").cast(pl.String) == "ok"
#: Confidence is ranked at this resolution when the rows are streamed.
CONFIDENCE_STEP = 1e-3


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


@dataclass(frozen=True)
class _Dist:
    """One side's values: ascending distinct values (or bucket values) with their counts, and their exact sum.

    Exact values are the case where every count is 1 (or a tie's multiplicity).
    """

    values: np.ndarray
    counts: np.ndarray
    total: float

    @classmethod
    def exact(cls, x: np.ndarray) -> _Dist:
        s = np.sort(np.asarray(x, dtype=np.float64))
        return cls(s, np.ones(s.size, dtype=np.int64), float(s.sum()))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def mean(self) -> float:
        return self.total / self.n

    def boot(self, q: float, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """Bootstrap replicates of the q-quantile (``inverted_cdf``), drawn without resampling rows.

        The q-quantile of a resample of size n is the smallest value v_j with at least
        m = ceil(q n) resampled values <= v_j; that count is Binomial(n, F_j) with F_j the
        share of values <= v_j, so P(quantile <= v_j) = P(Bin(n, F_j) >= m). Drawing from
        this distribution gives the same replicates as resampling, in O(n_boot + window)
        instead of O(n_boot * n); for bucket counts it is the bootstrap of the bucketed values.
        """
        n = self.n
        m = max(1, int(np.ceil(q * n)))
        sd = np.sqrt(n * q * (1 - q)) + 1.0
        cum = np.cumsum(self.counts)
        lo = int(np.searchsorted(cum, m - 10 * sd, side="left"))
        hi = int(np.searchsorted(cum, m + 10 * sd, side="right"))
        j = np.arange(lo, min(hi + 1, cum.size))
        cdf = stats.binom.sf(m - 1, n, cum[j] / n)
        idx = np.minimum(np.searchsorted(cdf, rng.random(n_boot), side="left"), j.size - 1)
        return np.asarray(self.values[j[idx]], dtype=np.float64)


def _boot_quantile_diff(a: _Dist, b: _Dist, q: float, n_boot: int, rng: np.random.Generator,
                        level: float) -> tuple[float, float]:
    """Percentile bootstrap CI of the relative difference ``quantile(b) / quantile(a) - 1``."""
    qa = a.boot(q, n_boot, rng)
    out = b.boot(q, n_boot, rng) / qa - 1.0
    lo, hi = np.quantile(out, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _ranked_p(x: _Dist, y: _Dist) -> float:
    """Two-sided Mann-Whitney U p-value of ``x`` against ``y`` on shared ordered bins (normal, tie-corrected).

    The same statistic as :func:`scipy.stats.mannwhitneyu`'s asymptotic method with its
    continuity correction, where values in one bin are ties.
    """
    grid = np.union1d(x.values, y.values)
    cx = np.zeros(grid.size)
    cy = np.zeros(grid.size)
    cx[np.searchsorted(grid, x.values)] += x.counts
    cy[np.searchsorted(grid, y.values)] += y.counts
    n1, n2 = cx.sum(), cy.sum()
    u = float((cx * (np.cumsum(cy) - cy + 0.5 * cy)).sum())
    n = n1 + n2
    t = cx + cy
    var = n1 * n2 / 12.0 * ((n + 1) - float((t ** 3 - t).sum()) / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2.0) - 0.5) / math.sqrt(var)
    return float(min(1.0, 2 * stats.norm.sf(max(z, 0.0))))


@dataclass(frozen=True)
class _Side:
    """What the comparison needs of one version in the overlap."""

    latency: _Dist  # successful requests
    n: int
    err: int
    answered: int | None = None  # None: no confidence column
    confident: int = 0
    confidence: _Dist | None = None
    fixed: int | None = None  # None: no corrections column


@dataclass(frozen=True)
class CanaryComparison:
    """Result of :func:`canary_comparison`: the metrics table and a one-line verdict.

    ``bound`` is None when every figure comes from the rows; for a streamed scan it says
    what is exact and what is within the sketch bound.
    """

    baseline: str
    canary: str
    start: datetime
    end: datetime
    table: pl.DataFrame
    verdict: str
    slower: bool
    faster: bool
    more_errors: bool
    bound: str | None = None


def _pct(x: float) -> str:
    return f"{x * 100:+.0f}%"


def _overlap(requests: pl.DataFrame | pl.LazyFrame, baseline: str, canary: str) -> tuple[datetime, datetime]:
    lf = requests.lazy().filter(pl.col(_V).is_in([baseline, canary]))
    spans = (lf.group_by(_V).agg(pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"))
             .collect(engine="streaming"))
    got = {row[_V]: row for row in spans.to_dicts()}
    for v in (baseline, canary):
        if v not in got:
            raise AnalysisError(f"canary_comparison: version {v!r} has no requests")
    start = max(got[baseline]["first"], got[canary]["first"])
    end = min(got[baseline]["last"], got[canary]["last"])
    if start > end:
        raise AnalysisError(f"canary_comparison: {baseline} and {canary} never served at the same time")
    return start, end


def _rows_side(df: pl.DataFrame, threshold: float) -> _Side:
    ok = df.filter(_OK)
    side: dict[str, Any] = {"latency": _Dist.exact(ok.get_column("latency_ms").cast(pl.Float64).to_numpy()),
                            "n": df.height, "err": df.height - ok.height}
    if "confidence" in df.columns:
        conf = ok.get_column("confidence").drop_nulls()
        confident = ok.filter(pl.col("confidence") >= threshold)
        side.update(answered=conf.len(), confident=confident.height, confidence=_Dist.exact(conf.to_numpy()))
        if "corrected_label" in df.columns:
            side["fixed"] = int(confident.get_column("corrected_label").is_not_null().sum())
    return _Side(**side)


def _scan_sides(win: pl.LazyFrame, names: set[str], threshold: float, sketch_alpha: float) -> dict[str, _Side]:
    """Both versions' sides from two streaming passes (counts, sums and buckets; never the rows)."""
    lat = pl.col("latency_ms").cast(pl.Float64)
    sign, bucket = SketchTable.bucket_exprs(lat, sketch_alpha, DEFAULT_MIN_VALUE)
    key = pl.when(_OK & (sign == 1)).then(bucket).otherwise(None).alias("_b")  # below min_value: the zero bin
    has_conf = "confidence" in names
    has_fix = has_conf and "corrected_label" in names
    conf = pl.col("confidence").cast(pl.Float64)
    answered = _OK & conf.is_not_null() if has_conf else pl.lit(False)
    confident = answered & (conf >= threshold) if has_conf else pl.lit(False)
    aggs = [pl.len().alias("n"), _OK.sum().alias("ok"), pl.when(_OK).then(lat).sum().alias("lat_sum"),
            answered.sum().alias("answered"), confident.sum().alias("confident")]
    if has_fix:
        aggs.append((confident & pl.col("corrected_label").is_not_null()).sum().alias("fixed"))
    cells = win.group_by(_V, key).agg(aggs).collect(engine="streaming")
    conf_bins = None
    if has_conf:
        step = pl.when(answered).then((conf / CONFIDENCE_STEP).round().cast(pl.Int64)).otherwise(None)
        conf_bins = (win.filter(answered).group_by(_V, step.alias("_c")).agg(pl.len().alias("k"),
                                                                             conf.sum().alias("s"))
                     .collect(engine="streaming"))
    sk = QuantileSketch(sketch_alpha)
    out: dict[str, _Side] = {}
    for (version,), part in cells.partition_by(_V, as_dict=True).items():
        buckets = part.filter(pl.col("ok") > 0).sort("_b", nulls_last=False)
        keys = buckets.get_column("_b")
        values = np.where(keys.is_null().to_numpy(), 0.0, sk.value(keys.fill_null(0).to_numpy()))
        side: dict[str, Any] = {
            "latency": _Dist(values, buckets.get_column("ok").to_numpy().astype(np.int64),
                             float(part.get_column("lat_sum").sum())),
            "n": int(part.get_column("n").sum()),
            "err": int(part.get_column("n").sum()) - int(part.get_column("ok").sum())}
        if has_conf and conf_bins is not None:
            mine = conf_bins.filter(pl.col(_V) == version).sort("_c")
            side.update(answered=int(part.get_column("answered").sum()),
                        confident=int(part.get_column("confident").sum()),
                        confidence=_Dist(mine.get_column("_c").to_numpy() * CONFIDENCE_STEP,
                                         mine.get_column("k").to_numpy().astype(np.int64),
                                         float(mine.get_column("s").sum())))
        if has_fix:
            side["fixed"] = int(part.get_column("fixed").sum())
        out[str(version)] = _Side(**side)
    return out


def canary_comparison(
    requests: pl.DataFrame | pl.LazyFrame,
    baseline: str,
    canary: str,
    *,
    confidence_threshold: float = 0.8,
    alpha: float = 0.05,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
    sketch_alpha: float = DEFAULT_ALPHA,
) -> CanaryComparison:
    """Compare ``canary`` with ``baseline`` on the requests both served during their overlap.

    Parameters
    ----------
    requests
        A ``requests`` frame (``timestamp``, ``model_version``, ``latency_ms``, ``status``;
        ``confidence`` and ``corrected_label`` when present), or a lazy scan of one of any
        size (streamed, see the module doc).
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
    sketch_alpha
        Relative accuracy of the latency buckets of a streamed scan.

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
    See the module doc.
    """
    require(requests.lazy(), ["timestamp", _V, "latency_ms", "status"], "canary_comparison")
    start, end = _overlap(requests, baseline, canary)
    in_window = pl.col("timestamp").is_between(start, end, closed="both") & pl.col(_V).is_in([baseline, canary])
    bound = None
    if isinstance(requests, pl.LazyFrame):
        names = set(requests.collect_schema().names())
        sides = _scan_sides(requests.filter(in_window), names, confidence_threshold, sketch_alpha)
        bound = (f"Streamed over every request of the overlap: counts, rates and means are exact; latency "
                 f"quantiles are within {sketch_alpha:.1%} (relative); the rank tests and the bootstrap "
                 "intervals use the latency sketch's buckets and confidence to "
                 f"{CONFIDENCE_STEP:g} (values in one bucket count as ties).")
    else:
        win = requests.filter(in_window)
        sides = {v: _rows_side(win.filter(pl.col(_V) == v), confidence_threshold) for v in (baseline, canary)}
    for v in (baseline, canary):
        if v not in sides or sides[v].latency.n == 0:
            raise AnalysisError(f"canary_comparison: {v} has no successful request in the overlap")
    return _compare(baseline, canary, start, end, sides[baseline], sides[canary], exact=bound is None,
                    alpha=alpha, n_boot=n_boot, ci_level=ci_level, seed=seed, sketch_alpha=sketch_alpha, bound=bound)


def _quantile(d: _Dist, q: float, exact: bool, sketch_alpha: float) -> float:
    if exact:
        return float(np.quantile(np.repeat(d.values, d.counts), q))
    sk = QuantileSketch(sketch_alpha)
    positive = d.values > 0
    keys = sk.key(d.values[positive])
    s = QuantileSketch.from_dict({"alpha": sketch_alpha, "min_value": DEFAULT_MIN_VALUE, "count": d.n,
                                  "zero_count": int(d.counts[~positive].sum()), "sum": d.total,
                                  "min": float(d.values[0]), "max": float(d.values[-1]),
                                  "pos_offset": int(keys.min()) if keys.size else 0,
                                  "pos_counts": np.bincount(keys - keys.min(), weights=d.counts[positive],
                                                            minlength=0).astype(np.int64).tolist()
                                  if keys.size else [],
                                  "neg_offset": 0, "neg_counts": []})
    return s.quantile(q)


def _compare(baseline: str, canary: str, start: datetime, end: datetime, sb: _Side, sc: _Side, *, exact: bool,
             alpha: float, n_boot: int, ci_level: float, seed: int, sketch_alpha: float,
             bound: str | None) -> CanaryComparison:
    a, b = sb.latency, sc.latency
    rng = np.random.default_rng(seed)
    if exact:
        mwu_p = float(stats.mannwhitneyu(np.repeat(b.values, b.counts), np.repeat(a.values, a.counts),
                                         alternative="two-sided").pvalue)
    else:
        mwu_p = _ranked_p(b, a)
    rank_test = "mann-whitney u" if exact else "mann-whitney u (buckets)"
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
        add(name, _quantile(a, q, exact, sketch_alpha), _quantile(b, q, exact, sketch_alpha), lo, hi, mwu_p,
            rank_test)
    add("mean_ms", a.mean(), b.mean(), None, None, mwu_p, rank_test)

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

    err_p = rate_row("error_rate", sb.err, sb.n, sc.err, sc.n)
    if sb.answered is not None and sc.answered is not None and sb.confidence is not None \
            and sc.confidence is not None:
        cb, cc = sb.confidence, sc.confidence
        p_conf: float | None = None
        if cb.n and cc.n:
            p_conf = (float(stats.mannwhitneyu(np.repeat(cc.values, cc.counts), np.repeat(cb.values, cb.counts),
                                               alternative="two-sided").pvalue) if exact else _ranked_p(cc, cb))
        add("mean_confidence", cb.mean() if cb.n else math.nan, cc.mean() if cc.n else math.nan, None, None, p_conf,
            rank_test)
        rate_row("confident_rate", sb.confident, sb.answered, sc.confident, sc.answered)
        if sb.fixed is not None and sc.fixed is not None:
            rate_row("correction_rate", sb.fixed, sb.confident, sc.fixed, sc.confident)
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
    e1, e2 = sb.err / sb.n, sc.err / sc.n
    more_errors = err_p is not None and err_p < alpha and e2 > e1
    if more_errors:
        verdict += f"; error rate higher: {e2:.2%} vs {e1:.2%} (p={err_p:.2g})"
    elif err_p is not None and err_p < alpha:
        verdict += f"; error rate lower: {e2:.2%} vs {e1:.2%} (p={err_p:.2g})"
    else:
        verdict += f"; error rate {e2:.2%} vs {e1:.2%} (no significant difference)"
    return CanaryComparison(baseline, canary, start, end, table, verdict, slower, faster, more_errors, bound)
