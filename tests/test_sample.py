"""The sample day: deterministic bytes, and the injected incidents really are in the data."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from obskit.analyze.serving import window_stats
from obskit.config import load_config
from obskit.load.logs import attach_feedback, load_feedback, load_requests
from obskit.sample import generate
from obskit.schemas import validate


def _digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file but Parquet, whose bytes carry the writer's version."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".parquet"
    }


def _parquet(folder: Path) -> dict[str, pl.DataFrame]:
    """Every Parquet file's rows: ``created_by: Polars ... version X`` changes its bytes only."""
    return {str(p.relative_to(folder)): pl.read_parquet(p) for p in sorted(folder.rglob("*.parquet"))}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", requests=3000, seed=7, reference_rows=500)
    generate(tmp_path / "b", requests=3000, seed=7, reference_rows=500)
    generate(tmp_path / "c", requests=3000, seed=8, reference_rows=500)
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert a == b
    assert (tmp_path / "a" / "reference.parquet").read_bytes() == (tmp_path / "b" / "reference.parquet").read_bytes()
    assert a["requests.jsonl.gz"] != c["requests.jsonl.gz"]


def test_committed_samples_are_reproducible(tmp_path: Path, samples_dir: Path) -> None:
    """`make sample` regenerates data/samples byte for byte (seed 42, default size); Parquet row for row."""
    generate(tmp_path, seed=42)
    assert _digest(tmp_path) == _digest(samples_dir)
    made, committed = _parquet(tmp_path), _parquet(samples_dir)
    assert made.keys() == committed.keys() == {"reference.parquet"}
    for name, frame in made.items():
        assert frame.equals(committed[name]), name


def _day(folder: Path) -> tuple[pl.DataFrame, dict[str, dict[str, object]]]:
    cfg = load_config(folder / "obskit.toml")
    assert cfg.requests is not None and cfg.feedback is not None
    df = load_requests(cfg.requests.path, columns=cfg.requests.columns)
    df = attach_feedback(df, load_feedback(cfg.feedback.path, columns=cfg.feedback.columns))
    inc = json.loads((folder / "incidents.json").read_text())
    return df, {i["kind"]: i for i in inc["incidents"]}


def _t(text: object) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def day(samples_dir: Path) -> tuple[pl.DataFrame, dict[str, dict[str, object]]]:
    return _day(samples_dir)


@pytest.fixture(scope="module")
def clean_day(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    out = tmp_path_factory.mktemp("clean")
    generate(out, seed=42, clean=True, reference_rows=1000)
    df, inc = _day(out)
    assert inc == {}
    return df


def test_sample_is_a_valid_requests_frame(day: tuple[pl.DataFrame, dict[str, dict[str, object]]]) -> None:
    df, _ = day
    assert df.height == 150_000
    assert validate(df, "requests") == []


def test_error_burst_above_one_percent_only_in_its_window(day: tuple[pl.DataFrame, dict]) -> None:
    df, inc = day
    burst = inc["error_burst"]
    start, end = _t(burst["start"]), _t(burst["end"])
    inside = df.filter(pl.col("timestamp").is_between(start, end, closed="left"))
    outside = df.filter(~pl.col("timestamp").is_between(start, end, closed="left"))
    assert (inside["status"] == "error").mean() > 0.03
    hourly = window_stats(outside, every="1h")
    assert hourly["error_rate"].max() < 0.01


def test_latency_regression_breaks_the_p99_slo(day: tuple[pl.DataFrame, dict]) -> None:
    df, inc = day
    reg = inc["latency_regression"]
    stats = window_stats(df, every="5m", quantiles=(0.99,))
    inside = stats.filter(pl.col("window_start").is_between(_t(reg["start"]), _t(reg["end"]), closed="left"))
    outside = stats.filter(~pl.col("window_start").is_between(_t(reg["start"]), _t(reg["end"]), closed="left"))
    assert inside["p99_ms"].median() > 120  # type: ignore[operator]
    assert outside["p99_ms"].quantile(0.95) < 120  # type: ignore[operator]


def test_brightness_shift_moves_predictions_and_confidence(day: tuple[pl.DataFrame, dict]) -> None:
    df, inc = day
    t0 = _t(inc["feature_shift"]["start"])
    before = df.filter((pl.col("timestamp") < t0) & (pl.col("status") == "ok"))
    after = df.filter((pl.col("timestamp") >= t0) & (pl.col("status") == "ok"))
    assert before["brightness"].mean() - after["brightness"].mean() > 20  # type: ignore[operator]
    dark = ["boots", "jacket", "wallet"]
    assert after["prediction"].is_in(dark).mean() > before["prediction"].is_in(dark).mean() + 0.05  # type: ignore[operator]
    assert (after["confidence"] >= 0.8).mean() < (before["confidence"] >= 0.8).mean() - 0.1  # type: ignore[operator]
    # stable features do not move
    for col in ("contrast", "file_size_kb"):
        assert abs(before[col].mean() / after[col].mean() - 1) < 0.02  # type: ignore[operator]


def _correction_rate(df: pl.DataFrame) -> float:
    conf = df.filter((pl.col("status") == "ok") & (pl.col("confidence") >= 0.8))
    return float(conf["corrected_label"].is_not_null().mean() or 0.0)


def test_correction_rate_rises_above_one_percent(day: tuple[pl.DataFrame, dict]) -> None:
    df, inc = day
    t0 = _t(inc["correction_rate"]["start"])
    assert _correction_rate(df.filter(pl.col("timestamp") < t0)) < 0.01
    assert _correction_rate(df.filter(pl.col("timestamp") >= t0)) > 0.015


def test_canary_is_slower(day: tuple[pl.DataFrame, dict]) -> None:
    df, inc = day
    canary = inc["canary_slower"]
    win = df.filter(pl.col("timestamp").is_between(_t(canary["start"]), _t(canary["end"]), closed="left")
                    & (pl.col("status") == "ok"))
    med = win.group_by("model_version").agg(pl.col("latency_ms").median()).sort("model_version")
    stable, can = med["latency_ms"].to_list()
    assert can > stable * 1.15
    assert set(df.filter(pl.col("timestamp") >= _t(canary["end"]))["model_version"].unique()) == {"v1.4.0"}


def test_clean_day_has_no_incident(clean_day: pl.DataFrame) -> None:
    df = clean_day
    stats = window_stats(df, every="1h")
    assert stats["error_rate"].max() < 0.01  # type: ignore[operator]
    assert stats["p99_ms"].max() < 120  # type: ignore[operator]
    assert df["model_version"].unique().to_list() == ["v1.4.0"]
    hourly = df.group_by_dynamic("timestamp", every="1h").agg(pl.col("brightness").mean())
    assert hourly["brightness"].min() > 110  # type: ignore[operator]
    assert _correction_rate(df) < 0.01


def test_traffic_has_a_daily_cycle_and_noise(day: tuple[pl.DataFrame, dict]) -> None:
    df, _ = day
    hourly = df.group_by_dynamic("timestamp", every="1h").agg(pl.len().alias("n"))["n"]
    assert hourly.max() > 3 * hourly.min()  # type: ignore[operator]
    diffs = hourly.diff().drop_nulls()
    assert (diffs > 0).any() and (diffs < 0).any()


def test_large_day_reports_progress(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate(tmp_path, requests=20_000, seed=1, reference_rows=200, on_progress=lambda d, t: calls.append((d, t)))
    assert len(calls) == 24 and calls[-1] == (20_000, 20_000)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
