"""Rollups: exact counts and bounded percentiles against the in-memory path, merge, save/load, overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from obskit.analyze.serving import window_stats
from obskit.errors import AnalysisError, SourceError
from obskit.sample.generate import generate
from obskit.scale.rollup import ROLLUP_DIR, Rollup, build_rollup, combine, find_rollups
from obskit.scale.sketches import DEFAULT_ALPHA
from tests.test_scale_streaming import load_day, write_hive

PCTS = ["p50_ms", "p90_ms", "p95_ms", "p99_ms"]


@pytest.fixture(scope="module")
def day(samples_dir: Path) -> pl.DataFrame:
    return load_day(samples_dir)


@pytest.fixture(scope="module")
def other_day(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """A day of another seed, scenario and size than the bundled sample."""
    out = tmp_path_factory.mktemp("outage_day")
    generate(out, requests=30_000, seed=7, scenario="outage", reference_rows=500)
    return load_day(out)


def assert_matches(r: Rollup, frame: pl.DataFrame, every: str, by: tuple[str, ...], slo_ms: float) -> None:
    exact = window_stats(frame, every=every, by=by)
    got = r.coarsen(every, by=by).table()
    keys = ["window_start", *by]
    j = exact.join(got, on=keys, suffix="_r", how="full", coalesce=True)
    assert j.height == exact.height == got.height
    assert (j["requests"].cast(pl.Int64) == j["requests_r"]).all()
    assert (j["errors"].cast(pl.Int64) == j["errors_r"]).all()
    for c in PCTS:
        assert ((j[f"{c}_r"] - j[c]).abs() <= DEFAULT_ALPHA * j[c].abs() * (1 + 1e-9)).all(), c
    within = (
        frame.with_columns(pl.col("timestamp").dt.truncate(every).alias("window_start"))
        .group_by(keys)
        .agg((pl.col("latency_ms") <= slo_ms).sum().alias("w"))
        .join(got, on=keys)
    )
    assert (within["w"].cast(pl.Int64) == within["within_slo"]).all()


@pytest.mark.parametrize("every,by", [("5m", ("model_version",)), ("1h", ()), ("1d", ("model_version",))])
def test_rollup_equals_in_memory_stats(day: pl.DataFrame, every: str, by: tuple[str, ...]) -> None:
    assert_matches(build_rollup(day, slo_ms=200.0), day, every, by, 200.0)


def test_rollup_on_another_day_and_from_parquet(other_day: pl.DataFrame, tmp_path: Path) -> None:
    from_frame = build_rollup(other_day, slo_ms=150.0)
    assert_matches(from_frame, other_day, "1h", ("model_version",), 150.0)
    from_files = build_rollup(write_hive(other_day, tmp_path), slo_ms=150.0)
    a, b = from_frame.table(), from_files.table()
    assert a.drop("mean_ms").equals(b.drop("mean_ms"))
    assert from_frame.messages.sort(pl.all()).equals(from_files.messages.sort(pl.all()))
    failed = other_day.filter(pl.col("status") == "error")
    assert from_frame.messages["count"].sum() == failed.height


def test_halves_merge_to_the_whole(day: pl.DataFrame) -> None:
    cut = day["timestamp"].min() + timedelta(hours=9, minutes=2, seconds=7)  # mid-window: windows are split
    a = build_rollup(day.filter(pl.col("timestamp") < cut), slo_ms=200.0)
    b = build_rollup(day.filter(pl.col("timestamp") >= cut), slo_ms=200.0)
    whole = build_rollup(day, slo_ms=200.0)
    merged = Rollup(a.state.merge(b.state), pl.concat([a.messages, b.messages]), 200.0)
    x, y = merged.coarsen("1h").table(), whole.coarsen("1h").table()
    assert x.drop("mean_ms").equals(y.drop("mean_ms"))


def test_save_load_round_trip_and_bad_files(day: pl.DataFrame, tmp_path: Path) -> None:
    r = build_rollup(day.head(20_000), slo_ms=100.0)
    folder = r.save(tmp_path / "2026-11-22" / ROLLUP_DIR)
    back = Rollup.load(folder)
    assert back.table().equals(r.table()) and back.messages.equals(r.messages)
    assert (back.slo_ms, back.generated_at, back.state.present) == (100.0, r.generated_at, r.state.present)
    r.save(folder)  # replacing leaves one complete rollup, no temp folder
    assert sorted(p.name for p in folder.parent.iterdir()) == [ROLLUP_DIR]
    (folder / "counts.parquet").write_bytes(b"not parquet")
    with pytest.raises(SourceError, match="unreadable rollup"):
        Rollup.load(folder)


def test_overlapping_rollups_count_once(day: pl.DataFrame) -> None:
    old = build_rollup(day, slo_ms=200.0)
    old = Rollup(old.state, old.messages, 200.0, generated_at=datetime(2026, 1, 1, tzinfo=UTC))
    rerun = build_rollup(day.filter(pl.col("timestamp").dt.hour() < 12), slo_ms=200.0)
    total = combine([rerun, old])
    assert total.requests == day.height
    assert total.messages["count"].sum() == day.filter(pl.col("status") == "error").height
    with pytest.raises(AnalysisError):
        combine([])


def test_find_rollups_reports_missing_and_unreadable_days(day: pl.DataFrame, tmp_path: Path) -> None:
    build_rollup(day, slo_ms=200.0).save(tmp_path / "2026-11-22" / ROLLUP_DIR)
    (tmp_path / "2026-11-20" / ROLLUP_DIR).mkdir(parents=True)
    (tmp_path / "2026-11-20" / ROLLUP_DIR / "meta.json").write_text("{")
    found = find_rollups(tmp_path, datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC))
    assert [str(d) for d in found.days] == ["2026-11-22"]
    assert [str(d) for d in found.missing] == ["2026-11-20", "2026-11-21", "2026-11-23"]
    assert len(found.unreadable) == 1 and "2026-11-20" in found.unreadable[0][0]
    assert sum(r.requests for r in found.rollups) == day.height
    part = find_rollups(tmp_path, datetime(2026, 11, 22, 6, tzinfo=UTC), datetime(2026, 11, 22, 7, tzinfo=UTC))
    hour = day.filter(pl.col("timestamp").dt.hour() == 6).height
    assert sum(r.requests for r in part.rollups) == hour


def test_coarsen_refuses_finer_windows_and_unknown_groups(day: pl.DataFrame) -> None:
    r = build_rollup(day.head(1000))
    with pytest.raises(AnalysisError, match="multiple"):
        r.coarsen("7m")
    with pytest.raises(AnalysisError, match="cannot group"):
        r.coarsen("1h", by=("region",))
    assert r.table()["within_slo"].null_count() == r.table().height  # no SLO given: not counted


def test_rollups_of_different_windows_combine(day: pl.DataFrame) -> None:
    a = build_rollup(day.filter(pl.col("timestamp").dt.hour() < 6), every="2m")
    b = build_rollup(day.filter(pl.col("timestamp").dt.hour() >= 6))
    total = combine([a, b])
    assert total.state.every_s == 600 and total.requests == day.height


def _with_corrections(frame: pl.DataFrame) -> pl.DataFrame:
    """Some requests corrected (every 7th), so the correction counts have something to count."""
    fixed = pl.when(pl.int_range(pl.len()) % 7 == 0).then(pl.lit("cat")).otherwise(None)
    return frame.with_columns(fixed.alias("corrected_label"))


@pytest.mark.parametrize("corrected", [False, True])
@pytest.mark.parametrize("every,by", [("5m", ()), ("1h", ("model_version",)), ("15m", ("model_version",))])
def test_the_state_answers_business_and_slo_as_the_rows_do(day: pl.DataFrame, other_day: pl.DataFrame,
                                                           corrected: bool, every: str, by: tuple[str, ...]) -> None:
    from obskit.analyze.business import business_metrics
    from obskit.analyze.slo import availability_slo, latency_slo

    for frame in (day, other_day):
        rows = _with_corrections(frame) if corrected else frame.drop("corrected_label", strict=False)
        r = build_rollup(rows, slo_ms=180.0, confidence_threshold=0.7, every="1m").coarsen(every, by=by)
        assert_frame_equal(r.business(), business_metrics(rows, every, confidence_threshold=0.7, by=by))
        assert_frame_equal(r.slo("latency", 0.95), latency_slo(rows, 180.0, 0.95, every=every, by=by))
        assert_frame_equal(r.slo("availability", 0.999), availability_slo(rows, 0.999, every=every, by=by))


def test_without_confidence_the_state_has_no_business(day: pl.DataFrame) -> None:
    r = build_rollup(day.drop("confidence"), slo_ms=180.0)
    with pytest.raises(AnalysisError, match="confidence"):
        r.business()
    with pytest.raises(AnalysisError, match="latency SLO"):
        build_rollup(day).slo("latency", 0.99)


@pytest.mark.parametrize("corrected", [False, True])
def test_a_minute_state_holds_the_alerts_count_state(day: pl.DataFrame, other_day: pl.DataFrame,
                                                     corrected: bool) -> None:
    """The alerts at scale read the report's one-minute state instead of their own passes: the same counts."""
    from obskit.alerts.count_state import count_signal_frames, count_state, count_state_of

    for frame in (day, other_day):
        rows = _with_corrections(frame) if corrected else frame.drop("corrected_label", strict=False)
        own = count_state(rows.lazy(), slo_ms=150.0, confidence_threshold=0.8)
        got = count_state_of(build_rollup(rows, slo_ms=150.0, confidence_threshold=0.8, every="1m"))
        assert got is not None
        assert_frame_equal(got.minutes, own.minutes.sort("_m", "model_version"))
        assert got.corrections == own.corrections == corrected
        assert own.business is not None and got.business is not None
        assert_frame_equal(got.business, own.business, check_column_order=False)
        a, b = count_signal_frames(got, slo_ms=150.0), count_signal_frames(own, slo_ms=150.0)
        assert a.keys() == b.keys()
        for name in a:
            assert_frame_equal(a[name], b[name], check_column_order=False, check_dtypes=False)
    assert count_state_of(build_rollup(day, every="5m")) is None  # not one-minute windows
