"""Adding a drift test is one registration: a toy test then runs through every drift path.

The toy test (total variation distance on counts, binned like ``psi``) exists nowhere in
obskit; it is registered here, then asked for by name from the in-memory, over-time,
streaming and Dask paths, whose values must agree with a direct numpy computation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from obskit.analyze import stattests
from obskit.analyze.drift import column_drift, drift_over_time
from obskit.analyze.stattests import DriftOptions, StatTest, get_test, register, unregister
from obskit.errors import AnalysisError
from obskit.scale.streaming import stream_drift
from tests.test_scale_streaming import load_day, write_hive

TOY = "toy_total_variation"
COLUMNS = ["brightness", "contrast", "client", "region"]


def total_variation(reference: np.ndarray, current: np.ndarray) -> float:
    """Half the L1 distance between the two count vectors' shares (module level: picklable)."""
    return float(0.5 * np.abs(reference / reference.sum() - current / current.sum()).sum())


@pytest.fixture
def toy() -> Iterator[StatTest]:
    test = register(
        StatTest(TOY, frozenset({"numeric", "categorical"}), 0.05, False, on_counts=total_variation, binned=True)
    )
    try:
        yield test
    finally:
        unregister(TOY)


@pytest.fixture(scope="module")
def day(samples_dir: Path) -> pl.DataFrame:
    return load_day(samples_dir)


@pytest.fixture(scope="module")
def reference(samples_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(samples_dir / "reference.parquet")


@pytest.fixture(scope="module")
def hive(day: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hive(day, tmp_path_factory.mktemp("toy_requests"))


def expected(reference: pl.DataFrame, current: pl.DataFrame, column: str) -> float:
    """The toy statistic computed from scratch: Sturges bins for many numeric values, else per value."""
    r, c = reference[column].drop_nulls(), current[column].drop_nulls()
    if r.dtype.is_numeric() and r.n_unique() > stattests.BINNING_UNIQUE:
        both = np.concatenate([r.to_numpy(), c.to_numpy()]).astype(float)
        edges = np.histogram_bin_edges(both, "sturges")
        rc, cc = np.histogram(r.to_numpy(), edges)[0], np.histogram(c.to_numpy(), edges)[0]
    else:
        values = sorted(set(r.to_list()) | set(c.to_list()))
        rv, cv = r.value_counts(), c.value_counts()
        rd = dict(zip(rv[column].to_list(), rv["count"].to_list(), strict=True))
        cd = dict(zip(cv[column].to_list(), cv["count"].to_list(), strict=True))
        rc = np.array([rd.get(v, 0) for v in values])
        cc = np.array([cd.get(v, 0) for v in values])
    return total_variation(rc.astype(float), cc.astype(float))


def check(result: pl.DataFrame, reference: pl.DataFrame, current: pl.DataFrame) -> None:
    assert result["method"].to_list() == [TOY] * len(COLUMNS)
    assert result["column"].to_list() == COLUMNS
    for row in result.iter_rows(named=True):
        want = expected(reference, current, row["column"])
        assert row["statistic"] == pytest.approx(want, rel=1e-9, abs=1e-12), row["column"]
        assert row["drifted"] == (want >= 0.05)


def test_toy_test_is_known_by_name(toy: StatTest) -> None:
    assert get_test(TOY) is toy and TOY in stattests.STAT_TESTS
    assert toy.func(["a", "b"], ["a", "a"], "categorical") == 0.5
    with pytest.raises(AnalysisError, match="already registered"):
        register(toy)


def test_toy_test_in_memory_and_over_time(toy: StatTest, day: pl.DataFrame, reference: pl.DataFrame) -> None:
    options = DriftOptions(columns=COLUMNS, method=TOY)
    check(column_drift(reference, day, options=options), reference, day)
    over = drift_over_time(reference, day, every="6h", options=options)
    assert set(over["method"]) == {TOY}
    first = over["window_start"].min()
    window = day.filter(pl.col("timestamp").dt.truncate("6h") == first)
    rows = over.filter(pl.col("window_start") == first)
    for row in rows.iter_rows(named=True):
        assert row["statistic"] == pytest.approx(expected(reference, window, row["column"]), rel=1e-9, abs=1e-12)


def test_toy_test_streaming(toy: StatTest, day: pl.DataFrame, reference: pl.DataFrame, hive: Path) -> None:
    result = stream_drift(reference, hive, options=DriftOptions(columns=COLUMNS, method=TOY))
    assert result["exact"].all()
    check(result, reference, day)


def test_toy_test_dask(
    toy: StatTest, dask_client: object, day: pl.DataFrame, reference: pl.DataFrame, hive: Path
) -> None:
    pytest.importorskip("dask.distributed")
    from obskit.scale.distributed import dask_drift

    result = dask_drift(dask_client, reference, hive, options=DriftOptions(columns=COLUMNS, method=TOY))
    assert result["exact"].all()
    check(result, reference, day)


def test_unregistered_test_is_refused_everywhere(reference: pl.DataFrame, day: pl.DataFrame, hive: Path) -> None:
    with pytest.raises(AnalysisError, match="unknown drift test"):
        column_drift(reference, day, method=TOY)
    with pytest.raises(AnalysisError, match="unknown drift test"):
        stream_drift(reference, hive, method=TOY)
