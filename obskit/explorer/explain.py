"""Explain this window: which segment holds the failures or the slow requests of the selected range.

The explorer's answer to "where is it?" for any range the user brushes: the same ranking
as an alert's hints (:mod:`obskit.analyze.segments`), over the requests of the range
against the three hours before it.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> from obskit.explorer.data import ExplorerData
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> n = 8000
>>> req = pl.DataFrame({
...     "timestamp": [t0 + timedelta(seconds=2 * i) for i in range(n)],
...     "model_version": ["v1"] * n, "latency_ms": [10.0] * n,
...     "client": ["ios", "web"] * (n // 2),
...     "status": ["error" if i > 6000 and i % 2 == 0 and i % 6 else "ok" for i in range(n)],
... }).with_columns(pl.col("status").cast(pl.Enum(["ok", "error"])))
>>> data = ExplorerData(req)
>>> data.set_range(t0 + timedelta(hours=3, minutes=20), t0 + timedelta(hours=4, minutes=30))
>>> explain_range(data, "failures")["where"].to_list()[0].startswith("client=ios")
True
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from obskit.analyze.segments import NONE_EXPLAINS, auto_dimensions, rank_segments, segment_counts, segment_text

__all__ = ["OUTCOMES", "explain_range"]

#: What the explorer can explain: outcome name -> what it counts.
OUTCOMES = ("failures", "slow requests")
BEFORE = timedelta(hours=3)
_OK = pl.col("status").cast(pl.String) == "ok"


def explain_range(data: Any, outcome: str = "failures", *, top: int = 3) -> pl.DataFrame:
    """The segments that explain ``outcome`` in ``data``'s selected range (one ``where`` line each).

    ``outcome`` is ``"failures"`` or ``"slow requests"`` (slower than the 90th percentile of
    the three hours before the range, else of the range). One row saying no single segment
    explains it when none does; one row saying why when the data layer keeps no rows.
    """
    requests = getattr(data, "requests", None)
    if not isinstance(requests, pl.DataFrame):
        return pl.DataFrame({"where": ["the rows of this range are not kept at this volume"]})
    during = data.rows()
    before = requests.filter((pl.col("timestamp") >= data.start - BEFORE) & (pl.col("timestamp") < data.start))
    exclude: tuple[str, ...] = ()
    if outcome == "failures":
        population, flag, exclude = pl.lit(True), ~_OK, ("error", "status_code", "prediction")
    else:
        base = before.filter(_OK) if before.filter(_OK).height >= 100 else during.filter(_OK)
        cut = base.get_column("latency_ms").quantile(0.9, "linear") if base.height else None
        if cut is None:
            return pl.DataFrame({"where": ["no successful requests in the range"]})
        population, flag = _OK, pl.col("latency_ms") > float(cut)
    dims = auto_dimensions(during, numeric=[f for f in getattr(data, "features", []) if f in during.columns],
                           exclude=exclude, bins_from=before if before.height else None)
    counts = segment_counts(during.filter(population), flag, dims)
    if counts.is_empty() or int(counts["outcomes"].sum()) == 0:
        return pl.DataFrame({"where": [f"no {outcome} in the range"]})
    ranked = rank_segments(counts, segment_counts(before.filter(population), flag, dims), top=top)
    if ranked.is_empty():
        return pl.DataFrame({"where": [NONE_EXPLAINS]})
    return ranked.select(pl.Series("where", [segment_text(r, outcome) for r in ranked.iter_rows(named=True)]),
                         "support", "effect", "effect_low", "effect_high")
