"""The explorer at scale (a lazy scan) answers as the explorer in memory, selection by selection.

Each case builds the one data layer, :class:`ExplorerData`, twice on the same requests: on
the rows, and on a lazy scan of them (parquet files, so the streaming engine really scans).
Counts, error and business windows, drill-down tables, failure counts and the timeline must
be equal, and equal to the analyses run directly on the rows; latency percentiles exact on
the rows and within the sketch's bound on the scan.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from benchmarks.bench_explore import synthetic_reference, synthetic_requests
from obskit.explorer import Explorer
from obskit.explorer.data import ExplorerData
from obskit.explorer.explain import OUTCOMES, explain_range
from obskit.scale.sketches import DEFAULT_ALPHA

SELECTIONS = (
    (None, None, None, None),
    ("2026-11-22T10:00:00Z", "2026-11-22T14:00:00Z", "resnet50", ("v1.5.0",)),
    ("2026-11-22T03:07:00Z", "2026-11-22T03:40:00Z", None, ("v1.4.0",)),
    ("2026-11-22T20:00:00Z", None, "other", None),
)


def _shape(frame: pl.DataFrame, shape: str) -> pl.DataFrame:
    """The quirk of each case: two models, no confidence, no feedback, no error columns, a burst of failures."""
    two_models = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 5 == 0).then(pl.lit("other")).otherwise(pl.col("model")).alias("model"))
    if shape == "full":
        return two_models
    if shape == "no_confidence":
        return two_models.drop("confidence", "corrected_label", "corrected_at")
    if shape == "no_feedback":
        return two_models.drop("corrected_label", "corrected_at")
    if shape == "no_error_columns":
        return two_models.drop("error", "status_code")
    assert shape == "outage"  # every request of one hour fails: more failures than any table keeps
    hour = pl.col("timestamp").dt.hour() == 12
    return two_models.with_columns(
        pl.when(hour).then(pl.lit("error")).otherwise(pl.col("status").cast(pl.String)).alias("status"),
        pl.when(hour).then(pl.lit(None, pl.Float64)).otherwise(pl.col("confidence")).alias("confidence"),
        pl.when(hour).then(pl.lit("connection refused")).otherwise(pl.col("error")).alias("error"))


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    return synthetic_reference(5_000)


def _layers(tmp_path: Path, frame: pl.DataFrame, reference: pl.DataFrame,
            **kw: object) -> tuple[ExplorerData, ExplorerData]:
    path = tmp_path / "requests.parquet"
    frame.write_parquet(path, row_group_size=7_000)
    return (ExplorerData(frame, reference=reference, top=5),
            ExplorerData(pl.scan_parquet(path), reference=reference, top=5, **kw))  # type: ignore[arg-type]


def _select(data: ExplorerData, start: str | None, end: str | None, model: str | None,
            versions: tuple[str, ...] | None) -> None:
    data.reset()
    data.set_range(start, end)
    data.set_model(model)
    data.set_versions(versions)


def _by_time(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("timestamp", "request_id")


@pytest.mark.parametrize(("seed", "shape"), [(1, "full"), (2, "no_confidence"), (3, "no_feedback"),
                                             (4, "no_error_columns"), (5, "outage")])
def test_scaled_layer_answers_as_in_memory(tmp_path: Path, reference: pl.DataFrame, seed: int, shape: str) -> None:
    frame = _shape(synthetic_requests(20_000, seed=seed), shape)
    mem, big = _layers(tmp_path, frame, reference)
    assert big.pairs == mem.pairs and big.bounds == mem.bounds and big.columns == mem.columns
    assert big.latency_method.startswith("sketch") and mem.latency_method == "exact"
    # the failed-requests table says it holds only some failures exactly when it does (held rows: all)
    assert mem.failed_note == "" and bool(big.failed_note) == (shape == "outage")
    assert mem.failed.height == int(mem.failure_counts()["requests"].sum())
    for i, selection in enumerate(SELECTIONS):
        for data in (mem, big):
            _select(data, *selection)
        names = ["errors", "business"] if mem.has_confidence else ["errors"]
        for name in names:
            assert big.windowed(name).equals(mem.windowed(name)), (name, selection)
        ours, exact = big.windowed("stats"), mem.windowed("stats")
        assert ours.select("window_start", "requests", "errors", "error_rate", "rps").equals(
            exact.select("window_start", pl.col("requests").cast(pl.Int64), "errors", "error_rate", "rps"))
        for q in ("p50_ms", "p95_ms", "p99_ms"):
            rel = (ours.get_column(q) / exact.get_column(q) - 1).abs().max()
            assert isinstance(rel, float) and rel <= DEFAULT_ALPHA + 1e-9, (q, selection)
        assert big.totals()[:2] == mem.totals()[:2]
        assert _by_time(big.in_selection(big.slow)).equals(_by_time(mem.in_selection(mem.slow)))
        assert _by_time(big.in_selection(big.lowconf)).equals(_by_time(mem.in_selection(mem.lowconf)))
        first = mem.in_selection(mem.failed).head(mem.top)
        assert big.in_selection(big.failed).head(big.top).equals(first), selection
        assert big.failure_counts().equals(mem.failure_counts()), selection
        corrected = mem.corrected_rows()
        assert _by_time(big.corrected_rows().select(corrected.columns)).equals(_by_time(corrected))
        if i % 2:  # the timeline and drift (slower) on every other selection
            continue
        ours_tl, exact_tl = big.timeline(), mem.timeline()
        assert ours_tl.drop("p99_ms").equals(exact_tl.drop("p99_ms")), selection
        # The whole sample is every row here, so drift is the same test on the same rows.
        assert big.sample_note == "" and big.range_drift().equals(mem.range_drift())
        # "where is it?": the range's rows read from the scan give the held rows' answer
        for outcome in OUTCOMES:
            assert explain_range(big, outcome).equals(explain_range(mem, outcome)), (outcome, selection)


def test_a_sample_feeds_drift_when_the_scan_is_larger(tmp_path: Path, reference: pl.DataFrame) -> None:
    frame = synthetic_requests(20_000, seed=9)
    _, big = _layers(tmp_path, frame, reference, sample_rows=4_000)
    assert big.rows().height == 4_000 and "every 5th request (4,000 of 20,000)" in big.sample_note
    drift = big.range_drift()
    assert set(drift.get_column("column")) == {"brightness", "contrast", "client"}
    assert drift.get_column("n_current").unique().to_list() == [4_000]
    assert big.totals()[0] == 20_000  # counts are never sampled


def test_the_app_runs_on_a_lazy_scan(tmp_path: Path, reference: pl.DataFrame) -> None:
    frame = synthetic_requests(20_000, seed=3)
    frame.write_parquet(tmp_path / "r.parquet")
    app = Explorer(pl.scan_parquet(tmp_path / "r.parquet"), reference=reference, chart_backend="output",
                   flywheel_path=tmp_path / "fly.parquet", top=5)
    assert app.data.requests is None  # the rows are never held
    app.set_range("2026-11-22T10:00:00Z", "2026-11-22T12:00:00Z")
    app.set_versions(["v1.4.0"])
    for tab in ("traffic", "errors", "drift", "business", "timeline"):
        app.select_tab(tab)
    assert app.frames["traffic"]["stats"].height == 24
    assert "sketch, within 0.5%" in str(app.charts["traffic"]["latency"].to_dict()["title"])
    failed, counted = app.frames["errors"]["failed"], int(app.data.failure_counts()["requests"].sum())
    assert failed.height == counted > 0 and "errors" not in app.notes  # at most 5 a window: every failure kept
    written = pl.read_parquet(app.append_corrections())
    assert written.height == app.data.corrected_rows().height > 0
