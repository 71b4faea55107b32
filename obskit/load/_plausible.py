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

from datetime import UTC, datetime, timedelta

import polars as pl

from obskit.limits import PLAUSIBLE_YEARS

__all__ = [
    "OUTLIER_MARGIN",
    "OUTLIER_MIN_ROWS",
    "OUTLIER_REASON",
    "PLAUSIBLE_US",
    "PLAUSIBLE_YEARS",
    "YEARS_REASON",
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
    wide = max(margin, hi - lo)
    return ((ts < lo - wide) | (ts > hi + wide)).fill_null(False)
