"""Tests of obskit.analyze.quality: baseline inference and data-quality violations."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from obskit.analyze.quality import CHECKS, Baseline, check_quality, infer_baseline
from obskit.errors import AnalysisError

N = 2000


def _frame(seed: int, n: int = N) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.normal(100.0, 10.0, n)
    score[rng.random(n) < 0.02] = np.nan  # 2 % missing in the baseline
    return pl.DataFrame(
        {
            "score": score,
            "size_kb": rng.gamma(4.0, 50.0, n),
            "width": rng.choice([224, 640, 1280], n),
            "client": rng.choice(["ios", "android", "web"], n),
            "flag": rng.random(n) < 0.3,
            "request_id": [f"r{seed}-{i}" for i in range(n)],
        }
    )


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return infer_baseline(_frame(0))


def _nth(frame: pl.DataFrame, column: str, every: int, value: object) -> pl.DataFrame:
    idx = pl.int_range(pl.len())
    return frame.with_columns(pl.when(idx % every == 0).then(pl.lit(value)).otherwise(pl.col(column)).alias(column))


CASES: dict[str, tuple[Callable[[pl.DataFrame], pl.DataFrame], str, str, str, int | None]] = {
    # name: (mutation, column, check, severity, rows_affected)
    "missing column": (lambda f: f.drop("client"), "client", "missing_column_check", "error", N),
    "extra column": (lambda f: f.with_columns(pl.lit(1).alias("new")), "new", "extra_column_check", "warning", N),
    "type family change": (
        lambda f: f.with_columns(pl.col("width").cast(pl.String)),
        "width",
        "data_type_check",
        "error",
        N,
    ),
    "type width change": (
        lambda f: f.with_columns(pl.col("width").cast(pl.Int32)),
        "width",
        "data_type_check",
        "warning",
        N,
    ),
    "missing share up": (lambda f: _nth(f, "client", 5, None), "client", "completeness_check", "error", N // 5),
    "nulls in a never-null column": (
        lambda f: _nth(f, "size_kb", 200, None),
        "size_kb",
        "nullability_check",
        "warning",
        N // 200,
    ),
    "out of range (few)": (lambda f: _nth(f, "score", 1000, 1e6), "score", "range_check", "warning", 2),
    "out of range (many)": (lambda f: _nth(f, "size_kb", 10, -5.0), "size_kb", "range_check", "error", N // 10),
    "infinite values": (lambda f: _nth(f, "score", 500, float("inf")), "score", "range_check", "warning", 4),
    "unseen category": (
        lambda f: _nth(f, "client", 4, "smart-tv"),
        "client",
        "categorical_values_check",
        "error",
        N // 4,
    ),
    "unseen integer category": (
        lambda f: _nth(f, "width", 1000, 333),
        "width",
        "categorical_values_check",
        "warning",
        2,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_violation_kind(baseline: Baseline, case: str) -> None:
    mutate, column, check, severity, affected = CASES[case]
    out = check_quality(baseline, mutate(_frame(1)))
    assert out.select("column", "check").rows() == [(column, check)], out
    row = out.row(0, named=True)
    assert row["severity"] == severity
    assert row["rows_affected"] == affected
    assert check in CHECKS


def test_unseen_categories_are_listed_with_counts(baseline: Baseline) -> None:
    cur = _nth(_nth(_frame(1), "client", 4, "smart-tv"), "client", 7, "car")
    row = check_quality(baseline, cur).row(0, named=True)
    assert "'smart-tv': " in row["observed"] and "'car': " in row["observed"]
    assert row["expected"] == "one of {android, ios, web}"


def test_clean_frame_has_no_violation(baseline: Baseline) -> None:
    out = check_quality(baseline, _frame(1))
    assert out.height == 0
    assert out.columns == ["column", "check", "severity", "expected", "observed", "rows_affected", "share"]


def test_small_missing_rise_in_small_frame_is_not_an_error() -> None:
    # 2 % missing in the baseline; 3 of 20 rows missing is +13 pp but not significant at alpha=0.001.
    base = infer_baseline(_frame(0))
    cur = _nth(_frame(1, n=20), "score", 7, None).with_columns(pl.col("score").fill_nan(1.0))
    assert check_quality(base, cur).filter(pl.col("check") == "completeness_check").height == 0


def test_empty_frame(baseline: Baseline) -> None:
    out = check_quality(baseline, _frame(1).head(0))
    assert out.select("column", "check").rows() == [(None, "empty_frame")]


def test_baseline_round_trips_through_json(baseline: Baseline) -> None:
    text = json.dumps(baseline.to_dict())
    again = Baseline.from_dict(json.loads(text))
    assert again == baseline
    assert check_quality(again, _frame(1)).height == 0
    assert baseline.column("request_id").kind == "text"
    assert baseline.column("width").categories == ("1280", "224", "640")
    assert baseline.column("flag").categories == ("false", "true")
    assert baseline.column("score").nullable and not baseline.column("size_kb").nullable


def test_bad_input() -> None:
    with pytest.raises(AnalysisError, match="version"):
        Baseline.from_dict({"version": 99})
    with pytest.raises(AnalysisError, match="empty"):
        infer_baseline(_frame(0).head(0))
    with pytest.raises(AnalysisError, match="quantiles"):
        infer_baseline(_frame(0), quantiles=(0.9, 0.1))


@pytest.mark.parametrize("case", list(CASES))
def test_a_scan_of_files_gives_the_frames_violations(baseline: Baseline, case: str, tmp_path: object) -> None:
    """A lazy scan (the drift report at scale) is checked by one streaming pass: the same table."""
    frame = CASES[case][0](_frame(1))
    path = f"{tmp_path}/current.parquet"
    frame.write_parquet(path)
    expected = check_quality(baseline, frame)
    assert check_quality(baseline, pl.scan_parquet(path)).equals(expected)
    assert check_quality(baseline, frame.lazy()).equals(expected)


def test_unseen_categories_are_counted_over_every_row(baseline: Baseline) -> None:
    frame = _frame(2)
    col = next(c for c in baseline.columns if c.categories is not None and c.family == "string")
    odd = frame.with_columns(pl.when(pl.int_range(pl.len()) % 7 == 0).then(pl.lit("zz"))
                             .when(pl.int_range(pl.len()) % 11 == 0).then(pl.lit("yy"))
                             .otherwise(pl.col(col.name)).alias(col.name))
    row = check_quality(baseline, odd.lazy()).filter(pl.col("check") == "categorical_values_check").row(0, named=True)
    n = odd.height
    zz = len(range(0, n, 7))
    yy = len([i for i in range(n) if i % 11 == 0 and i % 7 != 0])
    assert row["rows_affected"] == zz + yy
    assert row["observed"] == f"'zz': {zz}, 'yy': {yy}"


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_long_tail_as_long_as_the_references_is_no_finding(seed: int) -> None:
    """A lognormal size: a normal day puts a row or two past the band, as the reference does; a day
    where 0.5 % of the rows sit just past it, or one absurd value, is a finding."""
    rng = np.random.default_rng(seed)
    base = infer_baseline(pl.DataFrame({"file_kb": rng.lognormal(5.0, 0.4, 50_000)}))
    assert (base.column("file_kb").beyond or 0) > 0  # the reference's own tail reaches past the band
    calm = pl.DataFrame({"file_kb": rng.lognormal(5.0, 0.4, 20_000)})
    assert check_quality(base, calm).is_empty()
    _, hi = _band_of(base)
    heavier = calm.with_columns(pl.when(pl.int_range(pl.len()) % 200 == 0).then(hi * 1.2)
                                .otherwise(pl.col("file_kb")).alias("file_kb"))
    found = check_quality(base, heavier)
    assert found.select("check", "severity").rows() == [("range_check", "warning")]
    absurd = calm.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(1e9).otherwise(pl.col("file_kb"))
                               .alias("file_kb"))
    assert check_quality(base, absurd).select("check").rows() == [("range_check",)]


def _band_of(base: Baseline) -> tuple[float, float]:
    col = base.column("file_kb")
    assert col.low is not None and col.high is not None
    span = col.high - col.low
    return col.low - 0.25 * span, col.high + 0.25 * span
