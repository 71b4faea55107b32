"""Serving signals from the live Prometheus, for a service watched without request logs.

A config whose ``[promql]`` mapping (:mod:`obskit.promql_map`) gives PromQL for the serving
signals can be watched from Prometheus alone: every interval the watcher asks for each mapped
signal over its horizon at a one-minute step and one-minute rate window, and builds the
``window_stats`` frame the rules read. The value at time *t* covers the minute before it,
so it is the row of the window starting at *t* − 1 min:

``rps`` from ``request_rate``; ``requests`` = ``rps`` × 60 (so ``min_samples`` counts
requests); ``error_rate`` and ``errors`` = ``error_rate`` × ``requests``; ``p50_ms`` …
``p99_ms`` from ``latency_p50_ms`` … ``latency_p99_ms``.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> t = [datetime(2026, 1, 1, 0, 1, tzinfo=UTC)]
>>> answers = {"request_rate": pl.DataFrame({"timestamp": t, "value": [10.0]}),
...            "error_rate": pl.DataFrame({"timestamp": t, "value": [0.02]})}
>>> window_stats_from(answers).select("window_start", "requests", "errors", "error_rate").rows()
[(datetime.datetime(2026, 1, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 600.0, 12.0, 0.02)]
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import polars as pl

__all__ = ["MAPPED", "mapped_window_stats", "window_stats_from"]

#: Mapped serving signal -> ``window_stats`` column.
MAPPED = {"request_rate": "rps", "error_rate": "error_rate", "latency_p50_ms": "p50_ms",
          "latency_p90_ms": "p90_ms", "latency_p95_ms": "p95_ms", "latency_p99_ms": "p99_ms"}


def window_stats_from(answers: Mapping[str, pl.DataFrame]) -> pl.DataFrame | None:
    """``window_stats`` from each mapped signal's answer (``timestamp``, ``value``; see the module doc)."""
    parts = []
    for signal, col in MAPPED.items():
        frame = answers.get(signal)
        if frame is None or frame.height == 0:
            continue
        parts.append(frame.group_by("timestamp").agg(pl.col("value").cast(pl.Float64).sum().alias(col))
                     if signal == "request_rate" else
                     frame.group_by("timestamp").agg(pl.col("value").cast(pl.Float64).mean().alias(col)))
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.join(p, on="timestamp", how="full", coalesce=True)
    out = out.with_columns((pl.col("timestamp") - timedelta(minutes=1)).alias("window_start")).drop("timestamp")
    if "rps" in out.columns:
        out = out.with_columns((pl.col("rps") * 60).alias("requests"))
        if "error_rate" in out.columns:
            out = out.with_columns((pl.col("error_rate") * pl.col("requests")).alias("errors"))
    return out.sort("window_start").select("window_start", *[c for c in out.columns if c != "window_start"])


def mapped_window_stats(client: Any, mapping: Any, start: datetime, end: datetime) -> pl.DataFrame | None:
    """Ask ``client`` (a Prometheus client) for every mapped serving signal over ``[start, end]``."""
    answers = {}
    for signal in MAPPED:
        if mapping.query(signal) is None:
            continue
        expr = mapping.render(signal, by=(), window="1m")
        answers[signal] = client.query_range(expr, start, end, "60s").select("timestamp", "value")
    return window_stats_from(answers)
