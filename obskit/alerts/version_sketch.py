"""A version's latency against the others' from per-minute latency sketches: the ``versions`` frame at scale.

:func:`~obskit.alerts.segment_signals.version_latency_tail` compares, per window and
version, the version's latency quantiles with the other versions' (the tail ones over the
last ``tail_minutes``, only the minutes both served, tested with Fisher's exact test above
the pooled quantile). It reads every successful request of those minutes. At scale the rows
are never loaded: :func:`version_latency_tail_scan` reads them once into one latency sketch
per minute and version (the relative-error buckets of :mod:`obskit.scale.sketches`, 0.5 %
by default) and answers the same questions from the merged sketches:

* ``requests`` is exact;
* each quantile is within the sketch's relative bound of the exact one, so the ratio is
  within about twice that bound;
* the tested counts (requests at or above the pooled quantile) are counted at bucket
  resolution, and the minutes both versions served are whole minutes.

A rule on ``version_latency_ratio`` therefore fires at the same windows unless the ratio
or the test sits within those bounds of its threshold.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> r = pl.LazyFrame({"timestamp": [t] * 400, "model_version": ["a", "b"] * 200,
...                   "latency_ms": [10.0 + i % 9 if i % 2 == 0 else 30.0 + i % 9 for i in range(400)],
...                   "status": ["ok"] * 400})
>>> f = version_latency_tail_scan(r)
>>> f.filter(pl.col("model_version") == "b").select("quantile", pl.col("ratio").round(1)).rows()
[('p50', 2.4), ('p95', 2.1), ('p99', 2.1)]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from obskit.alerts.baselines import MIN_US
from obskit.analyze._frames import every_us
from obskit.scale.sketches import DEFAULT_ALPHA, DEFAULT_MIN_VALUE, QuantileSketch, SketchTable

__all__ = ["version_latency_tail_scan"]

_SCHEMA: dict[str, Any] = {"window_start": pl.Datetime("us", "UTC"), "model_version": pl.String,
                           "quantile": pl.String, "requests": pl.Int64, "latency_ms": pl.Float64,
                           "others_ms": pl.Float64, "ratio": pl.Float64, "p_value": pl.Float64}


class _Minutes:
    """Dense per-(version, minute) bucket counts with each cell's min and max, cumulated over minutes."""

    def __init__(self, lf: pl.LazyFrame, alpha: float) -> None:
        names = set(lf.collect_schema().names())
        version = (pl.col("model_version").cast(pl.String).fill_null("") if "model_version" in names
                   else pl.lit("")).alias("_v")
        lat = pl.col("latency_ms").cast(pl.Float64)
        ok = (lf.filter((pl.col("status").cast(pl.String) == "ok") & pl.col("timestamp").is_not_null()
                        & lat.is_finite())
              .select((pl.col("timestamp").dt.epoch("us") // MIN_US).alias("_m"), version, lat.alias("_x")))
        sign, bucket = SketchTable.bucket_exprs(pl.col("_x"), alpha, DEFAULT_MIN_VALUE)
        key = pl.when(sign == 1).then(bucket).otherwise(None).alias("_b")  # below min_value: the zero bin
        # one pass (two queries over one scan would be cached whole): buckets with their extremes
        counts = (ok.group_by("_m", "_v", key)
                  .agg(pl.len().alias("n"), pl.col("_x").min().alias("lo"), pl.col("_x").max().alias("hi"))
                  .collect(engine="streaming"))
        extremes = counts.group_by("_m", "_v").agg(pl.col("lo").min(), pl.col("hi").max())
        self.alpha = alpha
        self.versions: list[str] = sorted(counts["_v"].unique().to_list()) if counts.height else []
        if not counts.height:
            return
        minutes = counts["_m"].to_numpy()
        self.m0 = int(minutes.min())
        n_min = int(minutes.max()) - self.m0 + 1
        b = counts["_b"]
        known = b.drop_nulls().to_numpy()
        self.b0 = int(known.min()) if known.size else 0
        n_b = (int(known.max()) - self.b0 + 2) if known.size else 1
        vi = {v: i for i, v in enumerate(self.versions)}
        hist = np.zeros((len(self.versions), n_min, n_b), dtype=np.int64)
        col = np.where(b.is_null().to_numpy(), 0, b.fill_null(self.b0).to_numpy() - self.b0 + 1)
        np.add.at(hist, (np.array([vi[v] for v in counts["_v"].to_list()]),
                         counts["_m"].to_numpy() - self.m0, col), counts["n"].to_numpy())
        self.cum = np.concatenate([np.zeros((len(self.versions), 1, n_b), np.int64), np.cumsum(hist, axis=1)], 1)
        self.served = hist.sum(axis=2) > 0  # (version, minute)
        lo = np.full((len(self.versions), n_min), np.inf)
        hi = np.full((len(self.versions), n_min), -np.inf)
        rows = (np.array([vi[v] for v in extremes["_v"].to_list()]), extremes["_m"].to_numpy() - self.m0)
        lo[rows], hi[rows] = extremes["lo"].to_numpy(), extremes["hi"].to_numpy()
        self.lo, self.hi = lo, hi

    def sketch(self, mine: np.ndarray, a: int, b: int) -> QuantileSketch:
        """The latency sketch of the versions ``mine`` (mask) over minutes ``[a, b)``."""
        h = (self.cum[mine, b] - self.cum[mine, a]).sum(axis=0)
        n = int(h.sum())
        return QuantileSketch.from_dict({
            "alpha": self.alpha, "min_value": DEFAULT_MIN_VALUE, "count": n, "zero_count": int(h[0]), "sum": 0.0,
            "min": float(self.lo[mine, a:b].min(initial=np.inf)) if n else None,
            "max": float(self.hi[mine, a:b].max(initial=-np.inf)) if n else None,
            "pos_offset": self.b0, "pos_counts": h[1:], "neg_offset": 0, "neg_counts": []})


def version_latency_tail_scan(lf: pl.LazyFrame, *, every: str = "5m", quantiles: tuple[float, ...] = (0.5, 0.95, 0.99),
                              alpha: float = 1e-3, tail_minutes: int = 30, min_requests: int = 100,
                              sketch_alpha: float = DEFAULT_ALPHA) -> pl.DataFrame:
    """:func:`~obskit.alerts.segment_signals.version_latency_tail` of a lazy scan, from per-minute sketches.

    Same columns and windows; the bounds are in the module doc. Memory: versions x minutes x
    occupied bucket range, never rows.
    """
    from scipy.stats import fisher_exact

    if not {"timestamp", "latency_ms", "status"} <= set(lf.collect_schema().names()):
        return pl.DataFrame(schema=_SCHEMA)
    d = _Minutes(lf, sketch_alpha)
    if not d.versions:
        return pl.DataFrame(schema=_SCHEMA)
    step = every_us(every) // MIN_US
    n_min = d.served.shape[1]
    any_served = d.served.any(axis=0)
    first_w = (d.m0 // step) * step
    windows = [w for w in range(first_w, d.m0 + n_min, step)
               if any_served[max(w - d.m0, 0):max(w + step - d.m0, 0)].any()]
    rows: list[tuple[object, ...]] = []
    for i, version in enumerate(d.versions):
        mine = np.arange(len(d.versions)) == i
        for w in windows:
            when = pl.Series([w * MIN_US]).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")[0]
            for q in quantiles:
                a = max((w if q <= 0.5 else w + step - tail_minutes) - d.m0, 0)
                b = min(w + step - d.m0, n_min)
                if q > 0.5:
                    mine_at = np.flatnonzero(d.served[mine, a:b].any(axis=0))
                    other_at = np.flatnonzero(d.served[~mine, a:b].any(axis=0))
                    if mine_at.size and other_at.size:  # only the minutes both sides served
                        a, b = a + max(mine_at[0], other_at[0]), a + min(mine_at[-1], other_at[-1]) + 1
                if b <= a:
                    continue
                sm, so = d.sketch(mine, a, b), d.sketch(~mine, a, b)
                n_m, n_o = sm.count, so.count
                if n_m == 0 or n_o == 0 or (q > 0.5 and min(n_m, n_o) < min_requests):
                    continue
                mine_q, other_q = sm.quantile(q), so.quantile(q)
                ratio = mine_q / other_q if other_q > 0 else float("nan")
                p_value = 1.0
                if q > 0.5:
                    cut = sm.merge(so).quantile(q)
                    up_m, up_o = sm.count_from(cut), so.count_from(cut)
                    p_value = float(fisher_exact([[up_m, n_m - up_m], [up_o, n_o - up_o]],
                                                 alternative="greater").pvalue)
                    ratio = ratio if p_value < alpha else 1.0
                rows.append((when, version, f"p{round(q * 100)}", n_m, mine_q, other_q, ratio, p_value))
    if not rows:
        return pl.DataFrame(schema=_SCHEMA)
    return pl.DataFrame(rows, schema=_SCHEMA, orient="row").sort("window_start", "model_version", "quantile")
