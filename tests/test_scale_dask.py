"""The Dask prototype gives the local streaming results (and the exact verdicts) on the sample day."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from obskit.analyze.drift import column_drift
from obskit.analyze.serving import window_stats
from obskit.scale.streaming import stream_drift, stream_window_stats
from tests.test_scale_streaming import KEYS, assert_window_stats_close, load_day, write_hive

pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def day(samples_dir: Path) -> pl.DataFrame:
    return load_day(samples_dir)


@pytest.fixture(scope="module")
def hive(day: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hive(day, tmp_path_factory.mktemp("dask_requests"))


def test_dask_window_stats_equal_local_and_within_sketch_error(
    dask_client: object, day: pl.DataFrame, hive: Path
) -> None:
    from obskit.scale.distributed import dask_window_stats

    dist = dask_window_stats(dask_client, hive)
    local = stream_window_stats(hive)
    assert dist.schema == local.schema and dist.height == local.height
    # identical except the float sum behind mean_ms, whose addition order differs
    assert dist.drop("mean_ms").equals(local.drop("mean_ms"))
    assert ((dist["mean_ms"] - local["mean_ms"]).abs() <= 1e-12 * local["mean_ms"]).all()
    assert_window_stats_close(dist, window_stats(day, by=("model_version",)))
    grouped = dask_window_stats(dask_client, hive, every="1h", by=(), files_per_task=5)
    assert grouped.height == 24 and grouped["requests"].sum() == day.height
    assert grouped.columns[0] == "window_start" and KEYS[1] not in grouped.columns


def test_dask_drift_same_verdicts_as_local_and_exact(dask_client: object, day: pl.DataFrame, hive: Path) -> None:
    from obskit.scale.distributed import dask_drift

    reference = pl.read_parquet(Path(__file__).resolve().parents[1] / "data" / "samples" / "reference.parquet")
    dist = dask_drift(dask_client, reference, hive)
    local = stream_drift(reference, hive)
    exact = column_drift(reference, day)
    assert dist.schema == local.schema
    assert dist.select("column", "method", "drifted", "exact", "n_current").equals(
        local.select("column", "method", "drifted", "exact", "n_current")
    )
    for a, b in zip(dist.iter_rows(named=True), local.iter_rows(named=True), strict=True):
        for c in ("statistic", "statistic_low", "statistic_high"):
            assert a[c] == pytest.approx(b[c], rel=1e-9, abs=1e-12)
    j = exact.join(dist, on="column", suffix="_d")
    assert j.height == exact.height
    assert (j["method"] == j["method_d"]).all() and (j["drifted"] == j["drifted_d"]).all()
    assert dist["verdict_certain"].all()
    # a two-pass test (Sturges bins) through the cluster is exact
    psi = dask_drift(dask_client, reference, hive, method="psi", columns=["brightness", "client"])
    ex = column_drift(reference, day, method="psi", columns=["brightness", "client"])
    assert psi["statistic"].to_list() == pytest.approx(ex["statistic"].to_list(), rel=1e-9)
    assert psi["drifted"].to_list() == ex["drifted"].to_list()


def test_dask_rollup_equals_local(dask_client: object, day: pl.DataFrame, hive: Path) -> None:
    from obskit.scale.distributed import dask_rollup
    from obskit.scale.rollup import build_rollup

    dist = dask_rollup(dask_client, hive, slo_ms=200.0, files_per_task=3)
    local = build_rollup(hive, slo_ms=200.0)
    a, b = dist.table(), local.table()
    assert a.drop("mean_ms").equals(b.drop("mean_ms"))
    assert ((a["mean_ms"] - b["mean_ms"]).abs() <= 1e-12 * b["mean_ms"]).all()
    assert dist.messages.sort(pl.all()).equals(local.messages.sort(pl.all()))
    assert dist.requests == day.height and dist.slo_ms == 200.0


def test_object_storage_urls_are_listed_with_fsspec(dask_client: object, day: pl.DataFrame, hive: Path) -> None:
    from obskit.errors import SourceError
    from obskit.scale.distributed import dask_rollup, remote_files

    url = f"file://{hive}"  # the same code path as s3://, gs://, az:// (fsspec lists, polars reads)
    files = remote_files(url)
    assert len(files) == 24 and all(f.startswith("file://") for f in files)
    assert remote_files(f"{url}/day=*/hour=0*/*.parquet") == files[:10]
    assert dask_rollup(dask_client, url, files_per_task=6).requests == day.height
    with pytest.raises(SourceError, match="no parquet"):
        remote_files(f"file://{hive}/nothing-here")
    with pytest.raises(SourceError, match="cannot list"):
        remote_files("nosuchstore://bucket/requests")
