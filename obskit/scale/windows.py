"""One time window of a large scan at a time: rows spilled to disk by window in one pass, then read back.

Some analyses need every row of a window together (a drift test per hour, with its
bootstrap). :func:`by_window` reads a lazy scan once, a batch at a time, writes each
batch's rows under their window in a temporary folder, then yields each window's rows in
the scan's order. Memory holds one batch, then one window, never the period: a day of
100M requests tested per hour holds about an hour's rows of the columns asked for.

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

__all__ = ["by_window", "drift_by_window"]


def by_window(lf: pl.LazyFrame, *, every: str, columns: Sequence[str], timestamp: str = "timestamp",
              batch_rows: int = 250_000) -> Iterator[tuple[datetime, pl.DataFrame]]:
    """Each ``every`` window (epoch-aligned, as ``dt.truncate``) with its rows of ``timestamp`` and ``columns``.

    Windows come in time order; rows within a window in the scan's order. Rows without a
    timestamp belong to no window.
    """
    step = every_us(every)
    wanted = list(dict.fromkeys([timestamp, *columns]))
    window = (pl.col(timestamp).dt.epoch("us") // step * step).alias("__w")
    with tempfile.TemporaryDirectory(prefix="obskit-windows-") as tmp:
        root = Path(tmp)
        seen: set[int] = set()
        batches = lf.select(wanted).collect_batches(chunk_size=batch_rows, engine="streaming")
        for k, batch in enumerate(batches):
            parts = batch.with_columns(window).filter(pl.col("__w").is_not_null()).partition_by(
                "__w", as_dict=True, maintain_order=True)
            for (key,), part in parts.items():
                folder = root / str(key)
                folder.mkdir(exist_ok=True)
                part.drop("__w").write_parquet(folder / f"{k:08d}.parquet", compression="lz4")
                seen.add(int(key))
        for key in sorted(seen):
            files = sorted((root / str(key)).glob("*.parquet"))
            yield datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=key), pl.read_parquet(files)


def drift_by_window(reference: pl.DataFrame, lf: pl.LazyFrame, *, every: str, columns: Sequence[str],
                    method: str = "kl_div", n_boot: int = 20,
                    test: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> pl.DataFrame:
    """:func:`~obskit.analyze.drift.drift_over_time` of a lazy scan of any size, one window in memory at a time.

    ``drift_over_time`` tests each window on its own (the same seed for each), so testing
    the windows one at a time gives the frame the rows give, bit for bit. ``test`` replaces
    the test of one window's rows (e.g. :func:`~obskit.analyze.drift.prediction_drift_over_time`).

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
    parts = [run(rows) for _, rows in by_window(lf, every=every, columns=columns)]
    return pl.concat(parts) if parts else run(lf.select("timestamp", *columns).head(0).collect())
