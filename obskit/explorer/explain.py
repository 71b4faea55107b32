"""Explain this window: which segment holds the failures or the slow requests of the selected range.

The explorer's answer to "where is it?" for any range the user brushes: the same ranking
as an alert's hints (:func:`obskit.alerts.explain.explain_rows`), over the requests of the
range and selection against the three hours before it (slices of the held rows, or read from
the scan at scale).

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

from obskit.alerts.explain import explain_rows

__all__ = ["OUTCOMES", "explain_range"]

#: What the explorer can explain.
OUTCOMES = ("failures", "slow requests")
BEFORE = timedelta(hours=3)


def explain_range(data: Any, outcome: str = "failures", *, top: int = 3) -> pl.DataFrame:
    """The segments that explain ``outcome`` in ``data``'s selected range (one ``where`` line each).

    ``outcome`` is ``"failures"`` or ``"slow requests"``. One row saying no single segment
    explains it when none does. Over a lazy scan the range's rows are read from the scan
    (a uniform sample beyond 2M, as an alert at scale is explained).
    """
    during = data.full_rows_between(data.start, data.end)
    before = data.full_rows_between(data.start - BEFORE, data.start)
    numeric = [f for f in getattr(data, "features", []) if f in during.columns]
    ex = explain_rows(during, before, outcome, numeric=numeric, top=top)
    if not ex.hints:
        return pl.DataFrame({"where": [ex.explained]})
    return pl.DataFrame([{k: h[k] for k in ("text", "support", "effect", "effect_low", "effect_high")}
                         for h in ex.hints]).rename({"text": "where"})
