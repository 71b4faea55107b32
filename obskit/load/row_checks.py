"""The row checks on canonical request columns: one list for the loader and the scan at scale.

A request row is rejected when its timestamp is missing or outside the plausible years, its
request id is missing, its latency is missing, not finite or negative, its status is unknown,
or its confidence lies outside [0, 1]. :func:`obskit.load.logs.load_requests` applies these
checks (with the ones that need the raw text: unparseable timestamps, DST gaps, values that
are not numbers) and rejects each row with its file, line and reason;
:func:`obskit.load.request_source.canonical_scan` applies the same expressions to a lazy
scan of parquet files at scale, so a day has the same rows at every size.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> f = pl.DataFrame({"timestamp": [t, t, None], "latency_ms": [5.0, -1.0, 5.0], "status": ["ok"] * 3})
>>> f.select(reason_expr(value_checks(f.columns)))["reason"].to_list()
[None, 'latency_ms: negative', 'timestamp: missing']
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import polars as pl

from obskit.load._plausible import YEARS_REASON, implausible

__all__ = ["Check", "reason_expr", "value_checks"]

Check = tuple[pl.Expr, str]


def value_checks(columns: Collection[str]) -> list[Check]:
    """``(condition, reason)`` of each check on canonical columns, the first to report first.

    ``columns`` are the frame's columns: a check of a column the frame lacks is left out
    (``request_id`` and ``confidence`` are optional at scale).
    """
    checks: list[Check] = [(pl.col("timestamp").is_null(), "timestamp: missing")]
    if "request_id" in columns:
        checks.append((pl.col("request_id").is_null(), "request_id: missing"))
    checks += [
        (implausible("timestamp"), f"timestamp: {YEARS_REASON}"),
        (pl.col("latency_ms").is_null(), "latency_ms: missing or not a number"),
        (pl.col("latency_ms").is_finite().not_(), "latency_ms: not a finite number (NaN or infinity)"),
        (pl.col("latency_ms") < 0, "latency_ms: negative"),
        (pl.col("status").is_null(), "status: unknown value"),
    ]
    if "confidence" in columns:
        checks.append((pl.col("confidence").is_finite().not_() | (pl.col("confidence") < 0)
                       | (pl.col("confidence") > 1), "confidence: outside [0, 1] or not a number"))
    return checks


def reason_expr(checks: Sequence[Check], name: str = "reason") -> pl.Expr:
    """The reason of the first check a row fails (a null check passes), or null: one expression."""
    reason = pl.lit(None, pl.String)
    for cond, msg in reversed(checks):
        reason = pl.when(cond.fill_null(False)).then(pl.lit(msg)).otherwise(reason)
    return reason.alias(name)
