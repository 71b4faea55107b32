"""One time window of a large scan at a time: rows kept by window in one pass, then handed out in order.

Some analyses need every row of a window together (a drift test per hour, with its
bootstrap). :func:`by_window` yields each window's rows in the scan's order. A scan in
time order (a request log, its staged parts) is read one window at a time, each window by
its own query that the parquet statistics narrow to its row groups; memory is one window.
Any other scan is read once, a batch at a time, each batch's rows kept under their window;
up to :data:`HELD_BYTES` of rows stay in memory, beyond that whole windows go to a
temporary folder and come back when their turn comes. Memory is that bound plus one
window, never the period.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> lf = pl.LazyFrame({"timestamp": [t0 + timedelta(minutes=20 * i) for i in range(7)], "x": list(range(7))})
>>> [(w.hour, part["x"].to_list()) for w, part in by_window(lf, every="1h", columns=["x"])]
[(0, [0, 1, 2]), (1, [3, 4, 5]), (2, [6])]
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from obskit.analyze._frames import every_us
from obskit.errors import AnalysisError

__all__ = ["HELD_BYTES", "by_window", "drift_by_window"]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Rows held in memory by :func:`by_window` before the largest window is spilled to disk (bytes).
HELD_BYTES = 512 << 20


def by_window(lf: pl.LazyFrame, *, every: str, columns: Sequence[str], timestamp: str = "timestamp",
              batch_rows: int = 250_000, each_batch: Callable[[pl.DataFrame], None] | None = None,
              held_bytes: int = HELD_BYTES) -> Iterator[tuple[datetime, pl.DataFrame]]:
    """Each ``every`` window (epoch-aligned, as ``dt.truncate``) with its rows of ``timestamp`` and ``columns``.

    Windows come in time order; rows within a window in the scan's order. Rows without a
    timestamp belong to no window. ``each_batch`` sees every batch read (the rows without a
    timestamp too), so a caller can fold the whole scan into a state in the same pass.

    A scan in time order (each window one block of rows, every row in a window, UTC
    timestamps: checked by a cheap first pass over the timestamps) is read one window at a
    time, each by its own query, which a parquet scan's statistics narrow to that window's
    row groups: memory is one window. Any other scan is read once: its rows are held in
    memory up to ``held_bytes``; beyond, the window holding the most is written to disk
    (Arrow IPC, read back as written) and read back when its turn comes.
    """
    step = every_us(every)
    wanted = list(dict.fromkeys([timestamp, *columns]))
    window = (pl.col(timestamp).dt.epoch("us") // step * step).alias("__w")
    blocks = _blocks_in_time_order(lf, window, timestamp)
    if blocks is not None:  # one query per window, the scan's statistics skipping the rest
        yield from _window_by_window(lf.select(wanted), blocks, step, timestamp, batch_rows, each_batch)
        return
    with tempfile.TemporaryDirectory(prefix="obskit-windows-") as tmp:
        held: dict[int, list[pl.DataFrame]] = {}
        sizes: dict[int, int] = {}
        spilled: dict[int, list[Path]] = {}

        def spill(key: int) -> None:
            path = Path(tmp) / f"{key}-{len(spilled.get(key, ())):06d}.arrow"
            pl.concat(held.pop(key), rechunk=False).write_ipc(path, compression="uncompressed")
            sizes.pop(key)
            spilled.setdefault(key, []).append(path)

        batches = lf.select(wanted).collect_batches(chunk_size=batch_rows, engine="streaming")
        for batch in batches:
            if each_batch is not None:
                each_batch(batch)
            keyed = batch.with_columns(window).filter(pl.col("__w").is_not_null())
            if keyed.height == 0:
                continue
            w = keyed.get_column("__w")
            first, last = w.min(), w.max()
            parts = ({(first,): keyed} if first == last  # logs in time order: mostly one window per batch
                     else keyed.partition_by("__w", as_dict=True, maintain_order=True))
            for (key,), part in parts.items():
                at = int(key)
                held.setdefault(at, []).append(part.drop("__w"))
                sizes[at] = sizes.get(at, 0) + int(held[at][-1].estimated_size())
            while sum(sizes.values()) > held_bytes:
                spill(max(sizes, key=sizes.__getitem__))
        for at in sorted(held.keys() | spilled.keys()):
            frames = [pl.read_ipc(path) for path in spilled.pop(at, [])] + held.pop(at, [])
            sizes.pop(at, None)
            yield _EPOCH + timedelta(microseconds=at), pl.concat(frames)


def _blocks_in_time_order(lf: pl.LazyFrame, window: pl.Expr, timestamp: str) -> list[tuple[int, int]] | None:
    """``(window start in µs, rows)`` of each window when the scan lists them one after the other, else None.

    One cheap pass over the timestamps: each window's rows, first and last row number. A
    scan in time order (a log, staged parts of one) holds each window as one contiguous
    block, with no row outside a window; then each window can be read on its own.
    """
    dtype = lf.collect_schema().get(timestamp)
    if not (isinstance(dtype, pl.Datetime) and dtype.time_zone == "UTC"):
        return None
    found = (lf.select(window).with_row_index("__i").group_by("__w")
             .agg(pl.len().alias("n"), pl.col("__i").min().alias("lo"), pl.col("__i").max().alias("hi"))
             .sort("__w", nulls_last=True).collect(engine="streaming"))
    if found.height == 0 or found["__w"].null_count():
        return None
    lo, hi, n = (found[c].cast(pl.Int64).to_numpy() for c in ("lo", "hi", "n"))
    if lo[0] != 0 or (hi - lo + 1 != n).any() or (lo[1:] != hi[:-1] + 1).any():
        return None
    return [(int(w), int(k)) for w, k in zip(found["__w"], n, strict=True)]


def _window_by_window(lf: pl.LazyFrame, blocks: list[tuple[int, int]], step: int, timestamp: str,
                      batch_rows: int, each_batch: Callable[[pl.DataFrame], None] | None
                      ) -> Iterator[tuple[datetime, pl.DataFrame]]:
    """Each window read by its own query (a filter on the timestamp that parquet statistics prune)."""
    for at, n in blocks:
        start = _EPOCH + timedelta(microseconds=at)
        rows = lf.filter((pl.col(timestamp) >= start) & (pl.col(timestamp) < start + timedelta(microseconds=step))
                         ).collect(engine="in-memory")
        if rows.height != n:
            when = f"{start:%Y-%m-%d %H:%M}"
            raise AnalysisError(f"the request files changed while they were read (the window at {when} UTC had "
                                f"{n:,} rows, now {rows.height:,}); run it again")
        if each_batch is not None:
            for offset in range(0, rows.height, batch_rows):
                each_batch(rows.slice(offset, batch_rows))
        yield start, rows


def drift_by_window(reference: pl.DataFrame, lf: pl.LazyFrame, *, every: str, columns: Sequence[str],
                    method: str = "kl_div", n_boot: int = 20,
                    test: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
                    each_batch: Callable[[pl.DataFrame], None] | None = None) -> pl.DataFrame:
    """:func:`~obskit.analyze.drift.drift_over_time` of a lazy scan of any size, one window in memory at a time.

    ``drift_over_time`` tests each window on its own (the same seed for each), so testing
    the windows one at a time gives the frame the rows give, bit for bit. ``test`` replaces
    the test of one window's rows (e.g. :func:`~obskit.analyze.drift.prediction_drift_over_time`);
    ``each_batch`` sees every batch of the one pass (see :func:`by_window`).

    >>> import polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> cur = pl.LazyFrame({"timestamp": [t0 + timedelta(minutes=i) for i in range(120)],
    ...                     "x": [float(i % 10) for i in range(60)] + [float(i % 10) + 5 for i in range(60)]})
    >>> ref = pl.DataFrame({"x": [float(i % 10) for i in range(300)]})
    >>> drift_by_window(ref, cur, every="1h", columns=["x"])["drifted"].to_list()
    [False, True]
    """
    from obskit.analyze.drift import drift_over_time

    def default(rows: pl.DataFrame) -> pl.DataFrame:
        return drift_over_time(reference, rows, every=every, columns=columns, method=method, n_boot=n_boot)

    run = test or default
    parts = [run(rows) for _, rows in by_window(lf, every=every, columns=columns, each_batch=each_batch)]
    return pl.concat(parts) if parts else run(lf.select("timestamp", *columns).head(0).collect())
