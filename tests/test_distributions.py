"""Chart distributions: the current side counted from a frame or streamed from a scan, the same shares."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.analyze.distributions import distributions

FLOATS = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(FLOATS, min_size=20, max_size=200),
       st.lists(st.one_of(FLOATS, st.none(), st.just(float("nan")), st.just(float("inf"))), max_size=200))
def test_numeric_bins_are_numpys_and_a_scan_counts_the_same(ref: list[float], cur: list[float | None]) -> None:
    reference = pl.DataFrame({"x": ref}, schema={"x": pl.Float64})
    current = pl.DataFrame({"x": cur}, schema={"x": pl.Float64})
    out = distributions(reference, current, "x")
    assert out.equals(distributions(reference, current.lazy(), "x"))
    r = np.asarray(ref)
    if np.unique(r).size <= 15:
        return  # few distinct values: categories (below)
    c = np.asarray([v for v in cur if v is not None and np.isfinite(v)])
    edges = np.unique(np.quantile(r, np.linspace(0, 1, 21)))[1:-1]
    expected = np.bincount(np.searchsorted(edges, c, side="right"), minlength=edges.size + 1) / max(c.size, 1)
    assert np.array_equal(out["current"].to_numpy(), expected)


@pytest.mark.parametrize("values", [["a", "b", None, "c", "a"], [1, 2, 2, 3, None]])
def test_categories_from_a_parquet_scan(values: list[object], tmp_path: object) -> None:
    reference = pl.DataFrame({"c": values * 10})
    current = pl.DataFrame({"c": values[::-1] * 7 + values[:2]})
    path = f"{tmp_path}/cur.parquet"
    current.write_parquet(path)
    assert distributions(reference, pl.scan_parquet(path), "c").equals(distributions(reference, current, "c"))
