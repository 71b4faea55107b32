"""Flywheel increment (corrected examples as training rows) and its atomic Parquet writer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from obskit.errors import AnalysisError
from obskit.flywheel import flywheel_increment, write_flywheel
from tests import analyze_days as days

FEATURES = ["brightness", "contrast", "file_size_kb", "jpeg_quality", "width", "height", "client", "region"]


def test_increment_deduplicates_and_keeps_the_latest_correction() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    r = pl.DataFrame({"request_id": ["a", "a", "b", "c"], "timestamp": [t] * 4, "model_version": "v1",
                      "x": [1.0, 1.0, 2.0, 3.0], "prediction": ["p", "p", "q", "r"],
                      "corrected_label": ["old", "new", "z", None],
                      "corrected_at": [datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC),
                                       datetime(2026, 1, 2, tzinfo=UTC), None]})
    out = flywheel_increment(r, ["x"])
    assert out.columns == ["x", "label", "prediction", "request_id", "timestamp", "model_version", "corrected_at"]
    assert out.select("request_id", "label").rows() == [("a", "new"), ("b", "z")]
    with pytest.raises(AnalysisError, match="missing"):
        flywheel_increment(r.drop("corrected_label"), ["x"])


def test_increment_of_the_sample_day_follows_the_reference_layout() -> None:
    df, ref = days.requests(), days.reference()
    out = flywheel_increment(df, FEATURES, reference=ref)
    assert out.columns[: ref.width] == ref.columns
    assert out.columns[ref.width:] == ["request_id", "timestamp", "model_version", "corrected_at"]
    assert all(out.schema[c] == ref.schema[c] for c in ref.columns)
    assert out.height == df.filter(pl.col("corrected_label").is_not_null())["request_id"].n_unique()
    assert out["request_id"].is_unique().all()
    # the label is the user's correction, not the prediction
    assert (out["label"] != out["prediction"]).mean() > 0.9  # type: ignore[operator]
    # training on reference + increment works without any renaming
    assert pl.concat([ref, out.select(ref.columns)]).height == ref.height + out.height


def test_write_is_atomic_and_merges(tmp_path: Path) -> None:
    dest = tmp_path / "flywheel" / "increment.parquet"
    first = pl.DataFrame({"request_id": ["a", "b"], "label": ["x", "y"]})
    write_flywheel(first, dest)
    write_flywheel(pl.DataFrame({"request_id": ["b", "c"], "label": ["y2", "z"]}), dest, merge=True)
    assert pl.read_parquet(dest).rows() == [("a", "x"), ("b", "y2"), ("c", "z")]
    write_flywheel(first, dest)  # replace
    assert pl.read_parquet(dest).height == 2
    assert [p.name for p in dest.parent.iterdir()] == ["increment.parquet"]


def test_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    dest = tmp_path / "f.parquet"
    bad = pl.DataFrame({"o": [object()]}, schema={"o": pl.Object})
    with pytest.raises(Exception):  # noqa: B017 - polars refuses Object columns in Parquet
        write_flywheel(bad, dest)
    assert list(tmp_path.iterdir()) == []
