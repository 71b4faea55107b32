"""Error rate, throughput, batch size and the sustained-episode helper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from obskit.analyze.errors import batch_size, error_rate, sustained, throughput
from obskit.errors import AnalysisError
from tests import analyze_days as days

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _series(values: list[float | None], minutes: list[int] | None = None) -> pl.DataFrame:
    mins = minutes if minutes is not None else list(range(len(values)))
    return pl.DataFrame({"window_start": [T0 + timedelta(minutes=m) for m in mins], "x": values},
                        schema_overrides={"x": pl.Float64})


@pytest.mark.parametrize(
    ("op", "threshold", "expected"),
    [
        (">", 1.0, [(2, 6, 4, 7.0)]),
        (">=", 2.0, [(2, 5, 3, 7.0)]),
        ("<", 1.0, [(6, 9, 3, 0.0)]),  # the lone 0.5 at minute 0 lasts less than 1m
        ("<=", 2.0, [(0, 3, 3, 0.5), (5, 9, 4, 0.0)]),
    ],
)
def test_sustained_episodes(op: str, threshold: float, expected: list[tuple[int, int, int, float]]) -> None:
    f = _series([0.5, 1.0, 2.0, 7.0, 3.0, 1.5, 0.0, 0.2, 0.1])
    ep = sustained(f, "x", op, threshold, for_="1m", every="1m")
    got = [(r["start"].minute, r["end"].minute, r["windows"], r["peak"]) for r in ep.iter_rows(named=True)]
    assert got == expected


def test_sustained_needs_the_full_duration_and_no_gap() -> None:
    f = _series([5.0, 5.0, 5.0, 0.0, 5.0, 5.0], minutes=[0, 1, 2, 3, 10, 11])
    assert sustained(f, "x", ">", 1, for_="2m").select("windows").to_series().to_list() == [3]
    assert sustained(f, "x", ">", 1, for_="3m").height == 0
    ep = sustained(f, "x", ">", 1, for_="1m")
    assert ep["start"].dt.minute().to_list() == [0, 10]
    assert ep["fired_at"].dt.minute().to_list() == [1, 11]
    assert ep["duration_s"].to_list() == [180.0, 120.0]
    nulls = _series([5.0, None, 5.0, 5.0])
    assert sustained(nulls, "x", ">", 1, for_="1m")["start"].dt.minute().to_list() == [2]


def test_sustained_per_group_and_errors() -> None:
    f = pl.concat([_series([5.0, 5.0]).with_columns(pl.lit("a").alias("g")),
                   _series([5.0, 0.0]).with_columns(pl.lit("b").alias("g"))])
    assert sustained(f, "x", ">", 1, by=("g",))["g"].to_list() == ["a"]
    with pytest.raises(AnalysisError, match="unknown op"):
        sustained(f, "x", "!=", 1)


def test_error_rate_tumbling_and_sliding() -> None:
    ts = [T0] * 4 + [T0 + timedelta(minutes=1)] * 6 + [T0 + timedelta(minutes=3)] * 2
    st = ["error"] + ["ok"] * 3 + ["error"] * 3 + ["ok"] * 3 + ["ok", "ok"]
    r = pl.DataFrame({"timestamp": ts, "status": st})
    tumbling = error_rate(r, "1m")
    assert tumbling.select(pl.col("window_start").dt.minute(), "requests", "errors").rows() == [
        (0, 4, 1), (1, 6, 3), (3, 2, 0)]
    sliding = error_rate(r, "1m", window="2m")
    assert sliding.select(pl.col("window_start").dt.minute(), "requests", "errors").rows() == [
        (0, 4, 1), (1, 10, 4), (2, 6, 3), (3, 2, 0), (4, 2, 0)]
    assert sliding["error_rate"][1] == pytest.approx(0.4)
    with pytest.raises(AnalysisError, match="multiple"):
        error_rate(r, "2m", window="3m")


def test_throughput() -> None:
    r = pl.DataFrame({"timestamp": [T0 + timedelta(seconds=s) for s in range(90)],
                      "status": ["ok"] * 80 + ["error"] * 10})
    assert throughput(r, "1m").select("requests", "rps").rows() == [(60, 1.0), (30, 0.5)]
    assert throughput(r, "1m", status="ok")["requests"].to_list() == [60, 20]


def test_batch_size_on_the_sample_day() -> None:
    out = batch_size(days.metrics())
    stable = out.filter(pl.col("version") == "v1.4.0").drop_nulls("batch_size")
    # batches of 1, 2, 4 with probabilities .5/.3/.2 per request: 1 / E[1/b] = 1 / 0.7
    assert stable["batch_size"].median() == pytest.approx(1 / 0.7, rel=0.03)
    assert (stable["batch_size"] >= 1).all()


# ------------------------------------------------------------------ sample day


def _episodes(df: pl.DataFrame) -> pl.DataFrame:
    return sustained(error_rate(df, "1m", window="5m"), "error_rate", ">", 0.01, for_="1m", every="1m")


def test_error_burst_found_within_five_minutes() -> None:
    ep = _episodes(days.requests())
    start, end = days.window("error_burst")
    assert ep.height == 1
    row = ep.row(0, named=True)
    assert abs((row["start"] - start).total_seconds()) <= 300
    assert row["fired_at"] - start <= timedelta(minutes=5)
    assert row["end"] >= end
    assert row["peak"] > 0.05


def test_clean_day_has_no_sustained_error_episode() -> None:
    assert _episodes(days.requests(clean=True)).height == 0
