"""Request ids seen twice, found over a lazy scan in bounded memory: the loader's duplicate check at scale.

The in-memory loader keeps the first occurrence in time of each ``request_id`` and rejects
the others (:data:`DUPLICATE_REASON`). :func:`duplicate_rows` applies the same rule to a
scan that is never held: an exact answer needs every id of the day, so it works on 64-bit
hashes of the ids, in parts that fit in memory:

1. one streaming pass writes the hash of every id to a temporary parquet file (8 bytes a
   row); for up to :data:`PART_ROWS` rows the hashes are counted directly instead;
2. each part (``hash % parts``) is sorted on its own and compared with its neighbours:
   memory holds at most about :data:`PART_ROWS` hashes at a time, whatever the day's size;
3. the rows whose hash repeats (usually none) are read with their id, time and row number,
   and the rule is applied to them **on the ids themselves**, so a hash collision never
   rejects a row.

Examples
--------
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> lf = pl.LazyFrame({"request_id": ["a", "b", "a", "c", "b"],
...                    "timestamp": [t0 + timedelta(seconds=s) for s in (5, 1, 2, 3, 0)]}).with_row_index("row")
>>> duplicate_rows(lf, row="row").to_list()  # "a" first at row 2 (2 s), "b" first at row 4 (0 s)
[0, 1]
>>> duplicate_rows(lf, row="row", part_rows=2).to_list()  # in parts: the same rows
[0, 1]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

__all__ = ["DUPLICATE_REASON", "PART_ROWS", "duplicate_rows"]

#: The reason a repeated request id is rejected with (in memory and at scale).
DUPLICATE_REASON = "request_id: duplicate (kept its first occurrence)"
#: Hashes sorted at once: 64 MB, twice while sorting.
PART_ROWS = 8_000_000
_SEED = 0x0B5C17
_H = "__obskit_id_hash"


def _repeated(lf: pl.LazyFrame) -> pl.DataFrame:
    """The hashes seen more than once: sorted, then compared with their neighbour (no hash table)."""
    hashes = lf.collect(engine="streaming").get_column(_H).sort()
    return hashes.filter(hashes == hashes.shift(1)).unique().to_frame()


def duplicate_rows(lf: pl.LazyFrame, *, row: str, id_column: str = "request_id", time_column: str = "timestamp",
                   rows: int | None = None, part_rows: int = PART_ROWS) -> pl.Series:
    """The ``row`` values of the rows whose id occurred before (earlier in time, then lower ``row``).

    Parameters
    ----------
    lf
        The scan: ``id_column``, ``time_column`` and a unique, ordered row number ``row``.
        Rows with a null id are never duplicates (the loader rejects them for that).
    rows
        How many rows ``lf`` holds at most (read when None); it sets the number of parts.
    part_rows
        Hashes counted at once.

    Returns
    -------
    polars.Series
        The row numbers to reject, sorted (empty when every id is distinct).
    """
    ids = lf.filter(pl.col(id_column).is_not_null())
    hashed = pl.col(id_column).cast(pl.String).hash(_SEED).alias(_H)
    if rows is None:
        rows = int(ids.select(pl.len()).collect(engine="streaming").item())
    parts = max(1, -(-rows // max(part_rows, 1)))
    if parts == 1:
        repeated = _repeated(ids.select(hashed))
    else:
        with tempfile.TemporaryDirectory(prefix="obskit-ids-") as folder:
            path = Path(folder) / "hashes.parquet"
            ids.select(hashed).sink_parquet(path, compression="uncompressed")
            scan = pl.scan_parquet(path)
            repeated = pl.concat([_repeated(scan.filter(pl.col(_H) % parts == k)) for k in range(parts)])
    if not repeated.height:
        return pl.Series(row, [], dtype=pl.UInt32)
    found = (ids.filter(hashed.is_in(repeated.get_column(_H).implode()))
             .select(row, pl.col(id_column).cast(pl.String), time_column).collect(engine="streaming"))
    later = (found.sort(time_column, row, nulls_last=True)
             .filter(~pl.col(id_column).is_first_distinct()).get_column(row))
    return later.sort()
