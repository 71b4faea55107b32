"""Small helpers shared by the analysis modules (private: not part of the public API).

>>> every_us("5m")
300000000
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

from obskit.errors import AnalysisError
from obskit.schemas import TIMESTAMP
from obskit.timeutil import parse_duration

__all__ = ["every_us", "require", "runs", "window_expr"]


def require(frame: pl.DataFrame | pl.LazyFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`AnalysisError` naming every column of ``columns`` that ``frame`` lacks.

    >>> require(pl.DataFrame({"a": [1]}), ["a", "b"], "demo")
    Traceback (most recent call last):
    ...
    obskit.errors.AnalysisError: demo: missing column(s) b
    """
    names = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    missing = [c for c in columns if c not in names]
    if missing:
        raise AnalysisError(f"{what}: missing column(s) {', '.join(missing)}")


def every_us(text: str) -> int:
    """A duration (``"5m"``) in whole microseconds; at least one second."""
    try:
        us = round(parse_duration(text).total_seconds() * 1_000_000)
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None
    if us < 1_000_000:
        raise AnalysisError(f"duration {text!r} is shorter than one second")
    return us


def window_expr(every: str, column: str = "timestamp") -> pl.Expr:
    """``column`` truncated to multiples of ``every`` since the epoch, as ``window_start``."""
    step = every_us(every)
    us = pl.col(column).dt.epoch("us")
    return ((us // step) * step).cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("window_start")


def runs(
    frame: pl.DataFrame,
    condition: pl.Expr,
    *,
    time: str,
    by: Sequence[str] = (),
    max_gap_us: int,
) -> pl.DataFrame:
    """Number consecutive rows where ``condition`` holds (``_run`` id, null outside runs).

    Rows are taken in ``time`` order within each ``by`` group; a run breaks where the
    condition is false or null, or where two rows are more than ``max_gap_us`` apart.

    >>> from datetime import datetime, UTC
    >>> f = pl.DataFrame({"t": [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in (0, 1, 2, 5)],
    ...                   "x": [1, 1, 0, 1]})
    >>> runs(f, pl.col("x") == 1, time="t", max_gap_us=60_000_000)["_run"].to_list()
    [0, 0, None, 1]
    """
    keys = list(by)
    df = frame.sort([*keys, time]).with_columns(condition.fill_null(False).alias("_hit"))
    t = pl.col(time).dt.epoch("us")
    gap = (t - t.shift(1)).over(keys) if keys else t - t.shift(1)
    prev_hit = pl.col("_hit").shift(1).over(keys) if keys else pl.col("_hit").shift(1)
    starts = pl.col("_hit") & (prev_hit.is_null() | ~prev_hit.fill_null(False) | (gap > max_gap_us))
    df = df.with_columns(starts.alias("_start"))
    run_id = pl.col("_start").cast(pl.Int64).cum_sum() - 1
    return df.with_columns(pl.when(pl.col("_hit")).then(run_id).otherwise(None).alias("_run")).drop("_hit", "_start")


def empty_like(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with ``schema``."""
    return pl.DataFrame(schema=schema)


def utc(values: np.ndarray) -> pl.Series:
    """Epoch microseconds (int64) as a UTC ``Datetime`` series."""
    return pl.Series(values.astype(np.int64)).cast(pl.Datetime("us")).dt.replace_time_zone("UTC").cast(TIMESTAMP)
