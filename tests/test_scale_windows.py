"""by_window: every row once, in its window and the scan's order, whether windows stay in memory or are spilled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.scale.sketches import NumericHistogram, reference_edges
from obskit.scale.windows import by_window

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _frame(minutes: list[int | None]) -> pl.DataFrame:
    ts = [None if m is None else T0 + timedelta(minutes=m) for m in minutes]
    return pl.DataFrame({"timestamp": ts, "x": np.arange(len(minutes), dtype=np.float64),
                         "c": [f"k{i % 3}" for i in range(len(minutes))]},
                        schema={"timestamp": pl.Datetime("us", "UTC"), "x": pl.Float64, "c": pl.String})


@settings(max_examples=40, deadline=None)
@given(minutes=st.lists(st.one_of(st.none(), st.integers(0, 6 * 60)), min_size=0, max_size=300),
       held=st.sampled_from([0, 200, 1 << 30]), batch=st.sampled_from([1, 7, 1000]))
def test_every_row_once_in_its_window_in_scan_order(minutes: list[int | None], held: int, batch: int) -> None:
    frame = _frame(minutes)
    seen: list[pl.DataFrame] = []
    got = list(by_window(frame.lazy(), every="1h", columns=["x", "c"], batch_rows=batch, held_bytes=held,
                         each_batch=seen.append))
    expected = (frame.filter(pl.col("timestamp").is_not_null())
                .with_columns(pl.col("timestamp").dt.truncate("1h").alias("w")))
    starts = sorted(expected["w"].unique().to_list())
    assert [w for w, _ in got] == starts
    for start, rows in got:
        assert rows.columns == ["timestamp", "x", "c"]
        assert rows.equals(expected.filter(pl.col("w") == start).drop("w"))  # the scan's order kept
    whole = pl.concat(seen) if seen else frame.head(0)
    assert whole.equals(frame.select("timestamp", "x", "c"))  # each_batch saw every row, the null timestamps too


def test_a_window_spilled_in_parts_comes_back_whole_and_in_order() -> None:
    # rows out of time order: window 0 is written to disk in several parts between others
    minutes = [0, 70, 5, 130, 10, 75, 15, 140, 20] * 50
    frame = _frame(minutes)
    got = dict(by_window(frame.lazy(), every="1h", columns=["x"], batch_rows=9, held_bytes=1))
    first = got[T0]
    assert first["x"].to_list() == frame.filter(pl.col("timestamp") < T0 + timedelta(hours=1))["x"].to_list()
    assert sum(r.height for r in got.values()) == frame.height


def test_a_scan_in_time_order_is_read_one_window_at_a_time(tmp_path) -> None:
    # six hours in time order in a parquet file of small row groups: each window is read by its own
    # query and handed out before the next one is read (each_batch sees it just before), rows as the scan has them
    frame = _frame(list(range(0, 6 * 60, 3)))
    path = tmp_path / "rows.parquet"
    frame.write_parquet(path, row_group_size=16)
    read: list[int] = []
    out = [(start, rows, sum(read)) for start, rows in
           by_window(pl.scan_parquet(path), every="1h", columns=["x", "c"], batch_rows=7,
                     each_batch=lambda b: read.append(b.height))]
    assert [(w, rows.height) for w, rows, _ in out] == [(T0 + timedelta(hours=h), 20) for h in range(6)]
    assert [r for _, _, r in out] == [20, 40, 60, 80, 100, 120]  # nothing of a later window read yet
    assert pl.concat([rows for _, rows, _ in out]).equals(frame)
    assert max(read) == 7


@pytest.mark.parametrize("track", [True, False])
def test_histogram_of_batches_equals_the_histogram_of_all(track: bool) -> None:
    rng = np.random.default_rng(5)
    ref = np.sort(rng.normal(size=2000))
    edges = reference_edges(ref, 64)
    x = np.concatenate([rng.normal(0.3, 1.2, 5000), edges[[0, -1, -1, 10]], [np.nan, np.inf, -np.inf]])
    x = np.round(x, 2) if track else x
    whole = NumericHistogram(edges, track_values=track).add(x)
    parts = NumericHistogram(edges, track_values=track)
    for chunk in np.array_split(x, 7):
        parts.add(chunk)
    finite = x[np.isfinite(x)]
    idx = np.searchsorted(edges, finite, side="right")
    assert whole.counts.tolist() == parts.counts.tolist() == np.bincount(idx, minlength=edges.size + 1).tolist()
    assert np.allclose(whole.sums, np.bincount(idx, weights=finite, minlength=edges.size + 1), rtol=1e-12)
    assert np.allclose(parts.sums, whole.sums, rtol=1e-12)
    assert whole.at_max == parts.at_max == int(np.count_nonzero(finite == edges[-1]))
    assert (whole.min, whole.max, whole.n) == (parts.min, parts.max, parts.n) == (finite.min(), finite.max(),
                                                                                   finite.size)
    if track:
        values, counts = np.unique(finite, return_counts=True)
        assert whole.values_overflow == parts.values_overflow == (values.size > whole.max_values)
        if not whole.values_overflow:
            assert whole.values.tolist() == parts.values.tolist() == values.tolist()
            assert whole.value_counts.tolist() == parts.value_counts.tolist() == counts.tolist()
