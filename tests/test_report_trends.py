"""The trends report in-process: a month of saved rollups, exact against the rows, and each kind of regression."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from obskit.report import trends
from obskit.scale.rollup import ROLLUP_DIR, build_rollup
from tests.test_scale_streaming import load_day

DAYS = 12
START = datetime(2026, 11, 11, tzinfo=UTC)
SLO_MS = 200.0


@pytest.fixture(scope="module")
def base(samples_dir: Path) -> pl.DataFrame:
    day = load_day(samples_dir)
    return day.sample(25_000, seed=3).sort("timestamp")


def shifted(base: pl.DataFrame, k: int, seed: int) -> pl.DataFrame:
    """The base day moved ``k`` days later, with a little day-to-day noise in latency."""
    t0 = base["timestamp"].min().replace(hour=0, minute=0, second=0, microsecond=0)  # type: ignore[union-attr]
    rng = np.random.default_rng(seed)
    factor = rng.uniform(0.97, 1.03)
    return base.with_columns(
        pl.col("timestamp") - t0 + START + timedelta(days=k),
        pl.col("latency_ms") * factor,
    )


def slower(d: pl.DataFrame) -> pl.DataFrame:
    return d.with_columns(pl.col("latency_ms") * 1.6)


def failing(d: pl.DataFrame) -> pl.DataFrame:
    n = d.height
    bad = pl.Series(np.arange(n) % 40 == 0)
    return d.with_columns(pl.when(bad).then(pl.lit("error")).otherwise(pl.col("status")).cast(d.schema["status"])
                          .alias("status"))


def outage(d: pl.DataFrame) -> pl.DataFrame:
    return d.filter(pl.col("timestamp").dt.hour() < 8)


def unconfident(d: pl.DataFrame) -> pl.DataFrame:
    return d.with_columns(pl.col("confidence") * 0.7)


def write_month(root: Path, base: pl.DataFrame, last: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
                ) -> pl.DataFrame:
    frames = []
    for k in range(DAYS):
        d = shifted(base, k, seed=k)
        if k == DAYS - 1 and last is not None:
            d = last(d)
        build_rollup(d, slo_ms=SLO_MS).save(root / f"{START + timedelta(days=k):%Y-%m-%d}" / ROLLUP_DIR)
        frames.append(d)
    return pl.concat(frames)


def open_month(root: Path, samples_dir: Path) -> trends.TrendsContext:
    end = START + timedelta(days=DAYS)
    return trends.open_trends(str(samples_dir / "obskit.toml"), start=START.isoformat(), end=end.isoformat(),
                              reports_dir=str(root), output_dir=str(root / "out"))


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory, base: pl.DataFrame, samples_dir: Path,
          ) -> tuple[trends.TrendsContext, pl.DataFrame]:
    root = tmp_path_factory.mktemp("month")
    rows = write_month(root, base)
    return open_month(root, samples_dir), rows


def test_daily_figures_equal_the_rows(month: tuple[trends.TrendsContext, pl.DataFrame]) -> None:
    tr, rows = month
    days = tr.days()
    assert days is not None and days.height == DAYS
    exact = (
        rows.group_by(pl.col("timestamp").dt.truncate("1d").alias("day"))
        .agg(pl.len().alias("n"), (pl.col("status") == "error").sum().alias("e"),
             pl.col("latency_ms").quantile(0.95, "linear").alias("p95"),
             (pl.col("latency_ms") <= SLO_MS).sum().alias("w"))
        .join(days, on="day")
    )
    assert exact.height == DAYS
    assert (exact["n"] == exact["requests"]).all() and (exact["e"] == exact["errors"]).all()
    assert (exact["w"] == exact["within_slo"]).all()
    assert ((exact["p95_ms"] - exact["p95"]).abs() <= tr.alpha * exact["p95"] * (1 + 1e-9)).all()
    # the confident and correction rates mean what the health page means by them
    from obskit.analyze.business import business_metrics

    health = business_metrics(rows, "1d").rename({"window_start": "day"}).join(days, on="day", suffix="_t")
    assert health.height == DAYS
    assert (health["confident_rate"] == health["confident_rate_t"]).all()
    assert health["correction_rate"].equals(health["correction_rate_t"], check_names=False)


def test_sections_and_status_of_a_steady_month(month: tuple[trends.TrendsContext, pl.DataFrame]) -> None:
    tr, _ = month
    shown = [f(tr) for f in (trends.coverage, trends.changes, trends.daily, trends.traffic, trends.latency,
                             trends.errors, trends.business)]
    assert [s.status for s in shown] == ["ok"] * 7, [(s.title, s.reason) for s in shown]
    assert shown[1].frames["flagged"].height == 0
    assert any("within 0.5%" in n for n in shown[2].notes)  # the page states the sketch bound
    assert tr.status()[0] == "ok"


@pytest.mark.parametrize(
    "kind,signal",
    [(slower, "latency p95"), (failing, "error rate"), (outage, "traffic drop"), (unconfident, "confident rate")],
)
def test_each_kind_of_regression_on_the_latest_day_is_flagged(
    kind: Callable[[pl.DataFrame], pl.DataFrame], signal: str, tmp_path: Path, base: pl.DataFrame,
    samples_dir: Path,
) -> None:
    write_month(tmp_path, base, last=kind)
    tr = open_month(tmp_path, samples_dir)
    section = trends.changes(tr)
    assert section.status == "warning"
    flagged = section.frames["flagged"]
    last = flagged.filter(pl.col("day") == flagged["day"].max())
    assert signal in last["signal"].to_list()
    assert flagged.filter(pl.col("day") < START + timedelta(days=DAYS - 1)).height == 0  # no false flag before
    _, flags, reasons = tr.status()
    assert "regression" in flags and any(signal in r for r in reasons)


def test_a_day_reported_twice_counts_once(tmp_path: Path, base: pl.DataFrame, samples_dir: Path) -> None:
    rows = write_month(tmp_path, base)
    last = rows.filter(pl.col("timestamp") >= START + timedelta(days=DAYS - 1))
    build_rollup(last, slo_ms=SLO_MS).save(tmp_path / "rerun" / ROLLUP_DIR)  # a second report of the last day
    tr = open_month(tmp_path, samples_dir)
    days = tr.days()
    assert days is not None and int(days["requests"].sum()) == rows.height


def test_missing_and_unreadable_days_are_never_ok(tmp_path: Path, base: pl.DataFrame, samples_dir: Path) -> None:
    write_month(tmp_path, base)
    import shutil

    shutil.rmtree(tmp_path / f"{START + timedelta(days=3):%Y-%m-%d}")
    (tmp_path / f"{START + timedelta(days=5):%Y-%m-%d}" / ROLLUP_DIR / "counts.parquet").write_text("x")
    tr = open_month(tmp_path, samples_dir)
    cov = trends.coverage(tr)
    assert cov.status == "warning" and len(tr.found.missing) == 2 and len(tr.found.unreadable) == 1
    status, flags, _ = tr.status()
    assert status == "degraded" and "incomplete" in flags
    tr.finish()
    assert (tmp_path / "out" / "summary.json").is_file()


def test_no_rollup_skips_every_section(tmp_path: Path, samples_dir: Path) -> None:
    tr = open_month(tmp_path, samples_dir)
    shown = [f(tr) for f in (trends.coverage, trends.changes, trends.daily, trends.traffic, trends.latency,
                             trends.errors, trends.business)]
    assert all(s.status == "skipped" and "no rollup" in s.reason for s in shown)
    assert tr.status()[:2] == ("no_data", ["no_data"])


def test_logs_without_confidence_or_messages(tmp_path: Path, base: pl.DataFrame, samples_dir: Path) -> None:
    bare = base.drop("confidence", "error", "corrected_label", strict=False)
    write_month(tmp_path, bare)
    tr = open_month(tmp_path, samples_dir)
    assert trends.business(tr).status == "skipped"
    assert trends.errors(tr).status == "ok"
    assert trends.changes(tr).status == "ok"


def test_a_changed_slo_is_kept_per_day_and_said(tmp_path: Path, base: pl.DataFrame, samples_dir: Path) -> None:
    """Rollups keep the SLO they counted at: older days are not relabelled with today's."""
    for k in range(DAYS):
        d = shifted(base, k, seed=k)
        slo = SLO_MS if k < DAYS - 3 else 20.0  # the SLO was tightened three days ago
        build_rollup(d, slo_ms=slo).save(tmp_path / f"{START + timedelta(days=k):%Y-%m-%d}" / ROLLUP_DIR)
    tr = open_month(tmp_path, samples_dir)
    assert tr.rollup is not None
    spans = tr.rollup.slo_spans
    assert [s for _, _, s in spans] == [SLO_MS, 20.0]
    days = tr.days()
    assert days is not None
    assert days["slo_ms"].to_list() == [SLO_MS] * (DAYS - 3) + [20.0] * 3
    share = days.filter(pl.col("slo_ms") == 20.0)["slo_share"].max()
    assert isinstance(share, float) and share < days.filter(pl.col("slo_ms") == SLO_MS)["slo_share"].min()  # type: ignore[operator]
    sec = trends.latency(tr)
    notes = " ".join(str(getattr(item, "text", "")) for item in sec.items)
    assert f"{SLO_MS:g} ms from" in notes and "20 ms from" in notes and "its own SLO" in notes
    daily = trends.daily(tr)
    assert "slo_ms" in daily.frames["daily"].columns


def test_one_slo_needs_no_spans(month: tuple[trends.TrendsContext, pl.DataFrame]) -> None:
    tr, _ = month
    assert tr.rollup is not None and tr.rollup.slo_spans == ()
    days = tr.days()
    assert days is not None and days["slo_ms"].unique().to_list() == [SLO_MS]
