"""Plausible timestamps, shared by every loader: the years a record may carry, and outliers.

Two rules, both about a clock that is wrong rather than a record that is malformed:

* :data:`PLAUSIBLE_YEARS`: a timestamp outside 1990–2200 is a bug (year 1, 9999, int64 max,
  an epoch in the wrong unit), never a measurement; the record is rejected on its own.
* :func:`far_from_bulk`: with :data:`OUTLIER_MIN_ROWS` records or more, a timestamp more than
  :data:`OUTLIER_MARGIN` (or the source's own 1%–99% spread, if larger) outside the span of
  the bulk is a clock jump or a year typo; kept, it would stretch the period every later step
  covers (an evaluation grid from 2024 to 9999 at one minute is 4 billion points, a 4-year
  gap invents a 4-year "telemetry absent" alert).

>>> from datetime import datetime, UTC
>>> implausible_us(0), implausible_us(1_700_000_000_000_000)
('outside the years 1990–2200', None)
>>> ts = pl.Series([datetime(2024, 1, 1, 0, i % 60, tzinfo=UTC) for i in range(200)]
...                + [datetime(2028, 1, 1, tzinfo=UTC)])
>>> far_from_bulk(ts).sum()
1
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl

from obskit.limits import PLAUSIBLE_YEARS

__all__ = [
    "FAR_REQUEST_REASON",
    "OUTLIER_MARGIN",
    "OUTLIER_MIN_ROWS",
    "OUTLIER_REASON",
    "PLAUSIBLE_US",
    "PLAUSIBLE_YEARS",
    "YEARS_REASON",
    "far_bounds",
    "far_from_bulk",
    "implausible",
    "implausible_us",
]

#: The same as epoch microseconds, ``[lo, hi)``.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PLAUSIBLE_US = (
    (datetime(PLAUSIBLE_YEARS[0], 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1),
    (datetime(PLAUSIBLE_YEARS[1] + 1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1),
)
YEARS_REASON = f"outside the years {PLAUSIBLE_YEARS[0]}–{PLAUSIBLE_YEARS[1]}"
#: How far a timestamp may lie from the bulk of its source before it is an outlier.
OUTLIER_MARGIN = timedelta(days=7)
#: Fewer records than this: no outlier rule (too few to know where the bulk is).
OUTLIER_MIN_ROWS = 100
OUTLIER_REASON = "far outside the rest of the data (clock jump or typo?)"
#: The request loader's reason for the same (at every size).
FAR_REQUEST_REASON = "timestamp: far outside the rest of the log (clock jump or typo?)"


def implausible_us(us: int | float | None) -> str | None:
    """The reason epoch microseconds ``us`` cannot be a real time, or None (None passes)."""
    if us is None:
        return None
    if not PLAUSIBLE_US[0] <= us < PLAUSIBLE_US[1]:  # NaN fails too
        return YEARS_REASON
    return None


def implausible(column: str | pl.Expr) -> pl.Expr:
    """True where a Datetime column lies outside :data:`PLAUSIBLE_YEARS` (null stays null)."""
    col = pl.col(column) if isinstance(column, str) else column
    us = col.dt.epoch("us")  # no calendar per row
    return (us < PLAUSIBLE_US[0]) | (us >= PLAUSIBLE_US[1])


def far_from_bulk(ts: pl.Series, *, margin: timedelta = OUTLIER_MARGIN,
                  min_rows: int = OUTLIER_MIN_ROWS) -> pl.Series:
    """Boolean mask of ``ts`` (Datetime) values far outside the bulk of the others (see module doc)."""
    out = pl.Series(ts.name, [False] * ts.len(), dtype=pl.Boolean)
    if ts.len() - ts.null_count() < min_rows:
        return out
    lo, hi = ts.quantile(0.01, "nearest"), ts.quantile(0.99, "nearest")
    if not isinstance(lo, datetime) or not isinstance(hi, datetime):
        return out
    first, last = _kept(lo, hi, margin)
    return ((ts < first) | (ts > last)).fill_null(False)


def _kept(lo: datetime, hi: datetime, margin: timedelta) -> tuple[datetime, datetime]:
    wide = max(margin, hi - lo)
    return lo - wide, hi + wide


def far_bounds(lf: pl.LazyFrame, column: str = "timestamp", *, margin: timedelta = OUTLIER_MARGIN,
               min_rows: int = OUTLIER_MIN_ROWS) -> tuple[datetime, datetime] | None:
    """The earliest and latest times :func:`far_from_bulk` keeps, from a lazy frame in bounded memory.

    The same 1 % and 99 % quantiles (polars' ``nearest``: rank ``floor((n - 1) q + 0.5)``),
    found without holding the column: one streaming pass counts the rows per minute, a second
    reads the one or two minutes that hold those ranks. None with fewer than ``min_rows`` times.

    Examples
    --------
    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> times = [t0 + timedelta(seconds=37 * i) for i in range(500)] + [datetime(2031, 1, 1, tzinfo=UTC)]
    >>> lf = pl.LazyFrame({"timestamp": times})
    >>> first, last = far_bounds(lf)
    >>> lf.filter(~pl.col("timestamp").is_between(first, last)).collect()["timestamp"].dt.year().to_list()
    [2031]
    >>> far_from_bulk(pl.Series(times)).arg_true().to_list()
    [500]
    """
    minutes = (lf.select(pl.col(column).dt.truncate("1m").alias("m")).drop_nulls().group_by("m").len()
               .collect(engine="streaming").sort("m"))
    n = int(minutes["len"].sum()) if minutes.height else 0
    if n < min_rows:
        return None
    ranks = [math.floor((n - 1) * q + 0.5) for q in (0.01, 0.99)]
    ends = minutes["len"].cum_sum().to_list()
    starts = minutes["m"].to_list()
    picks: list[tuple[datetime, int]] = []  # (minute, rank within the minute)
    for rank in ranks:
        i = next(j for j, e in enumerate(ends) if e > rank)
        picks.append((starts[i], rank - (ends[i - 1] if i else 0)))
    wanted = sorted({m for m, _ in picks})
    rows = (lf.select(pl.col(column)).filter(pl.col(column).dt.truncate("1m").is_in(wanted))
            .collect(engine="streaming"))
    by_minute = {m: rows.filter(pl.col(column).dt.truncate("1m") == m)[column].sort().to_list() for m in wanted}
    lo, hi = (by_minute[m][r] for m, r in picks)
    return _kept(lo, hi, margin)
