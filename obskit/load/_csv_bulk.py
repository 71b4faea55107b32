"""nvidia-smi ``--query-*`` CSV rows converted a column at a time, the ordinary ones.

The GPU loader converts a CSV block row by row so that each bad field is rejected with its
line and reason. Almost every row is ordinary: this module converts a block's columns with
polars in one pass each, and any value it is not sure of (a field count that differs, a
value with its own unit, a hex index, a value out of its physical range, memory used above
the total, an impossible date...) marks its row as not ordinary. The loader converts those
rows one by one as before, so the reasons and the rows kept never depend on which path ran.

Examples
--------
>>> from datetime import UTC
>>> cols = [Column("timestamp", 0, "ts"), Column("utilization_pct", 1, "number", suffix=" %", bounds=(0.0, 100.0))]
>>> out, ordinary = convert_block(["2026/11/22 10:00:00.250, 42 %", "2026/11/22 10:00:01.250, [N/A]",
...                                 "2026/11/22 10:00:02.250, 142 %"], 2, cols, UTC)
>>> out["utilization_pct"][:2], out["timestamp"][0].isoformat()
([42.0, None], '2026-11-22T10:00:00.250000+00:00')
>>> ordinary  # 142 % is out of range: that row takes the row path, which rejects it
[True, True, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import polars as pl

from obskit.load._plausible import PLAUSIBLE_US

__all__ = ["Column", "convert_block"]

_NAIVE_EPOCH = datetime(1970, 1, 1)

_NUMBER = r"^\d+(?:\.\d*)?(?:[eE][-+]?\d+)?$"  # what the row path reads with float() alone
_INTEGER = r"^(?:0|[1-9]\d*)$"  # int(text, 0) refuses leading zeros
_STAMP = r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?$"


@dataclass(frozen=True)
class Column:
    """One output column: the field at ``index`` read as ``kind`` (``ts``, ``int``, ``str`` or ``number``).

    A number loses ``suffix`` (the header's unit) if present, is multiplied by ``factor``
    and must lie within ``bounds``.
    """

    name: str
    index: int
    kind: str
    suffix: str | None = None
    factor: float = 1.0
    bounds: tuple[float, float] | None = None


def _where(raw: pl.Series, keep: pl.Series) -> pl.Series:
    """``raw`` where ``keep``, else null."""
    return raw.zip_with(keep, pl.repeat(None, raw.len(), dtype=pl.String, eager=True))


def _without_nulls(raw: pl.Series) -> pl.Series:
    """The row path's empty values as null: '', N/A and anything in brackets ([N/A], [Not Supported])."""
    empty = (raw == "") | raw.is_in(["N/A", "n/a"]) | (raw.str.starts_with("[") & raw.str.ends_with("]"))
    return _where(raw, ~empty)


def _ok(mask: pl.Series) -> pl.Series:
    """A check's verdict per row; null (the value was empty) passes."""
    return mask.fill_null(True)


def _numbers(raw: pl.Series, col: Column) -> tuple[pl.Series, pl.Series]:
    body = raw
    if col.suffix:
        body = raw.zip_with(~raw.str.ends_with(col.suffix).fill_null(False), raw.str.strip_suffix(col.suffix))
    ok = _ok(body.str.contains(_NUMBER))
    values = _where(body, ok).cast(pl.Float64) * col.factor
    lo, hi = col.bounds if col.bounds is not None else (float("-inf"), float("inf"))
    return values, ok & _ok(values.is_finite() & (values >= lo) & (values <= hi))


def _stamps(raw: pl.Series, zone: tzinfo) -> tuple[pl.Series, pl.Series]:
    shaped = _ok(raw.str.contains(_STAMP))
    naive = _where(raw, shaped).str.strptime(pl.Datetime("us"), "%Y/%m/%d %H:%M:%S%.f", strict=False)
    ok = shaped & (naive.is_not_null() | raw.is_null())  # not null: a date that exists (no February 30th)
    # the zone's offset per wall-clock minute, as the row path computes it (fold 0)
    minutes = naive.dt.truncate("1m")
    keys: list[datetime] = minutes.drop_nulls().unique().to_list()
    offsets = [(k.replace(tzinfo=zone).utcoffset() or timedelta(0)) // timedelta(microseconds=1) for k in keys]
    shift = minutes.dt.epoch("us").replace_strict(
        [(k - _NAIVE_EPOCH) // timedelta(microseconds=1) for k in keys], offsets, return_dtype=pl.Int64)
    utc = naive.dt.epoch("us") - shift
    ok = ok & _ok((utc >= PLAUSIBLE_US[0]) & (utc < PLAUSIBLE_US[1]))
    return utc.cast(pl.Datetime("us")).dt.replace_time_zone("UTC"), ok


def convert_block(texts: Sequence[str], width: int, columns: Sequence[Column], zone: tzinfo,
                  memory: tuple[str, str, float] | None = None) -> tuple[dict[str, list[object]], list[bool]]:
    """Each column's values (Python objects, one per text) and whether each row is ordinary.

    A row that is not ordinary must be converted by the row path, which rejects it or reads
    what this one does not (a value with its own unit, a hex index, a name with commas); its
    values here mean nothing. ``memory`` is ``(used, total, tolerance)``: a row whose used
    memory exceeds its total by more than the tolerance is not ordinary (the row path
    rejects it).
    """
    parts = pl.Series("l", list(texts), dtype=pl.String).str.split(",")
    ordinary = parts.list.len() == width  # else a free-text field with commas, or a short or long row
    out: dict[str, pl.Series] = {}
    for col in columns:
        raw = _without_nulls(parts.list.get(col.index, null_on_oob=True).str.strip_chars())
        if col.kind == "str":
            values, ok = raw, pl.repeat(True, raw.len(), eager=True)
        elif col.kind == "int":
            ok = _ok(raw.str.contains(_INTEGER))
            values = _where(raw, ok).cast(pl.Int64)
            ok = ok & _ok((values >= 0) & (values < 2**31))
        elif col.kind == "ts":
            values, ok = _stamps(raw, zone)
        else:
            values, ok = _numbers(raw, col)
        ordinary = ordinary & ok
        out[col.name] = values
    if memory is not None and memory[0] in out and memory[1] in out:
        ordinary = ordinary & _ok(out[memory[0]] <= out[memory[1]] + memory[2])
    return {name: series.to_list() for name, series in out.items()}, ordinary.to_list()
