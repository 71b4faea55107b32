"""The streaming path against the exact in-memory path on the sample day (hive-partitioned parquet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from obskit.analyze.drift import column_drift
from obskit.analyze.serving import window_stats
from obskit.errors import AnalysisError, SourceError
from obskit.load.logs import load_requests
from obskit.scale.sketches import DEFAULT_ALPHA
from obskit.scale.streaming import parquet_files, stream_drift, stream_window_stats

MAPPING = {"timestamp": "ts", "status_code": "http_status", "prediction": "pred_label"}
PCTS = ["p50_ms", "p90_ms", "p95_ms", "p99_ms"]
KEYS = ["window_start", "model_version"]


def load_day(samples: Path) -> pl.DataFrame:
    return load_requests(samples / "requests.jsonl.gz", columns=MAPPING)


def write_hive(df: pl.DataFrame, out: Path) -> Path:
    """``out/day=YYYY-MM-DD/hour=HH/part.parquet``, one file per hour."""
    day = df["timestamp"][0].date().isoformat()
    hours = df.with_columns(pl.col("timestamp").dt.hour().alias("__h"))
    for (h,), part in hours.partition_by("__h", as_dict=True).items():
        d = out / f"day={day}" / f"hour={h:02d}"
        d.mkdir(parents=True, exist_ok=True)
        part.drop("__h").write_parquet(d / "part.parquet")
    return out


@pytest.fixture(scope="module")
def day(samples_dir: Path) -> pl.DataFrame:
    return load_day(samples_dir)


@pytest.fixture(scope="module")
def reference(samples_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(samples_dir / "reference.parquet")


@pytest.fixture(scope="module")
def hive(day: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hive(day, tmp_path_factory.mktemp("requests"))


def assert_window_stats_close(stream: pl.DataFrame, exact: pl.DataFrame, alpha: float = DEFAULT_ALPHA) -> None:
    assert stream.height == exact.height
    j = exact.join(stream, on=KEYS, suffix="_s", how="full", coalesce=True)
    assert j.height == exact.height
    for c in ("requests", "errors"):
        assert (j[c].cast(pl.Int64) == j[f"{c}_s"]).all()
    assert ((j["error_rate"] - j["error_rate_s"]).abs() < 1e-12).all()
    assert ((j["rps"] - j["rps_s"]).abs() < 1e-12).all()
    assert ((j["mean_ms"] - j["mean_ms_s"]).abs() <= 1e-9 * j["mean_ms"]).all()
    for c in PCTS:
        err = (j[f"{c}_s"] - j[c]).abs() / j[c]
        assert (err <= alpha * (1 + 1e-9)).all(), c


def test_parquet_files_lists_hive_folders(hive: Path) -> None:
    files = parquet_files(hive)
    assert len(files) == 24 and all("hour=" in f for f in files)
    assert parquet_files(str(hive / "**" / "*.parquet")) == files
    with pytest.raises(SourceError):
        parquet_files(hive / "nope")


def test_window_stats_within_sketch_error(day: pl.DataFrame, hive: Path) -> None:
    exact = window_stats(day, by=("model_version",))
    stream = stream_window_stats(hive)
    assert stream.columns[: len(exact.columns)] == exact.columns
    assert_window_stats_close(stream, exact)
    win = day.with_columns(pl.col("timestamp").dt.truncate("5m").alias("window_start"))
    conf = win.group_by(KEYS).agg((pl.col("confidence") >= 0.8).sum().alias("c")).join(stream, on=KEYS)
    assert conf.height == stream.height
    assert (conf["c"].cast(pl.Int64) == conf["confident"]).all()
    assert stream["corrected"].null_count() == stream.height  # no corrected_label column


def test_window_stats_options(day: pl.DataFrame, hive: Path) -> None:
    exact = window_stats(day, every="1h", by=(), quantiles=(0.5, 0.999))
    stream = stream_window_stats(hive, every="1h", by=(), quantiles=(0.5, 0.999), alpha=0.001, files_per_step=5)
    j = exact.join(stream, on="window_start", suffix="_s")
    assert j.height == 24 and (j["requests"].cast(pl.Int64) == j["requests_s"]).all()
    for c in ("p50_ms", "p99.9_ms"):
        assert ((j[f"{c}_s"] - j[c]).abs() <= 0.001 * j[c] * (1 + 1e-9)).all()
    with pytest.raises(AnalysisError):
        stream_window_stats(hive, quantiles=(1.0,))
    with pytest.raises(AnalysisError, match="grouping"):
        stream_window_stats(hive, by=("nope",))


def test_window_stats_column_map_and_status_code(day: pl.DataFrame, tmp_path: Path) -> None:
    raw = day.head(20_000).drop("status").rename({"timestamp": "ts", "latency_ms": "lat"})
    raw.write_parquet(tmp_path / "a.parquet")
    stream = stream_window_stats(tmp_path, column_map={"timestamp": "ts", "latency_ms": "lat"})
    exact = window_stats(day.head(20_000), by=("model_version",))
    assert_window_stats_close(stream.select(exact.columns), exact)


def test_drift_same_verdicts_and_bounds(day: pl.DataFrame, reference: pl.DataFrame, hive: Path) -> None:
    exact = column_drift(reference, day)
    stream = stream_drift(reference, hive)
    j = exact.join(stream, on="column", suffix="_s")
    assert j.height == exact.height == stream.height
    assert (j["method"] == j["method_s"]).all()
    assert (j["drifted"] == j["drifted_s"]).all()
    assert (j["n_current"] == j["n_current_s"]).all()
    assert stream["verdict_certain"].all()
    assert set(j.filter(pl.col("drifted"))["column"]) == {"brightness", "confidence"}
    for row in j.iter_rows(named=True):
        if row["exact"]:
            assert row["statistic_s"] == pytest.approx(row["statistic"], rel=1e-9, abs=1e-12)
        else:
            assert row["statistic_low"] - 1e-9 <= row["statistic"] <= row["statistic_high"] + 1e-9
            assert row["statistic_high"] - row["statistic_low"] < 0.05


@pytest.mark.parametrize("method", ["psi", "kl_div", "jensenshannon", "hellinger", "chisquare"])
def test_binned_tests_are_exact(day: pl.DataFrame, reference: pl.DataFrame, hive: Path, method: str) -> None:
    cols = (
        ["client", "region", "prediction", "width"]
        if method in ("hellinger", "chisquare")
        else ["brightness", "contrast", "client", "width", "confidence"]
    )
    kinds = {"width": "categorical"}
    exact = column_drift(reference, day, columns=cols, kinds=kinds, method=method)
    stream = stream_drift(reference, hive, columns=cols, kinds=kinds, method=method)
    assert stream["exact"].all()
    assert np.allclose(stream["statistic"].to_numpy(), exact["statistic"].to_numpy(), rtol=1e-9, atol=1e-300)
    assert stream["drifted"].to_list() == exact["drifted"].to_list()


def test_ks_and_small_reference(day: pl.DataFrame, reference: pl.DataFrame, hive: Path) -> None:
    small = reference.head(800)
    cols = ["contrast", "brightness", "client", "jpeg_quality"]
    exact = column_drift(small, day, columns=cols)
    stream = stream_drift(small, hive, columns=cols)
    assert stream["method"].to_list() == exact["method"].to_list() == ["ks", "ks", "chisquare", "chisquare"]
    assert stream["drifted"].to_list() == exact["drifted"].to_list()
    for s, e in zip(stream.iter_rows(named=True), exact.iter_rows(named=True), strict=True):
        assert s["statistic_low"] * (1 - 1e-9) <= e["statistic"] <= s["statistic_high"] * (1 + 1e-9) + 1e-300


def test_drift_refuses_tests_that_need_values(reference: pl.DataFrame, hive: Path) -> None:
    with pytest.raises(AnalysisError, match="every value"):
        stream_drift(reference, hive, columns=["contrast"], method="anderson")
    with pytest.raises(AnalysisError, match="missing"):
        stream_drift(reference, hive, columns=["label"])


def test_drift_of_a_lazy_query_equals_the_filtered_frame(day: pl.DataFrame, reference: pl.DataFrame,
                                                         hive: Path) -> None:
    cols = ["brightness", "client", "region", "width"]
    afternoon = pl.col("timestamp").dt.hour() >= 15
    lazy = pl.scan_parquet(parquet_files(hive), hive_partitioning=True).filter(afternoon)
    stream = stream_drift(reference, lazy, columns=cols, method="psi", batch_rows=7_000)
    exact = column_drift(reference, day.filter(afternoon), columns=cols, method="psi")
    assert stream["exact"].all() and stream["n_current"].to_list() == exact["n_current"].to_list()
    assert np.allclose(stream["statistic"].to_numpy(), exact["statistic"].to_numpy(), rtol=1e-9)
    assert stream["drifted"].to_list() == exact["drifted"].to_list()
