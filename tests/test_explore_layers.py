"""The explorer's data layer and tabs without widgets: any set of sources, gaps, UTC axis, named GPUs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from obskit.analyze.serving import window_stats
from obskit.explorer import ExplorerData, TabOptions, build
from obskit.sample import generate
from obskit.session import Session
from tests.specs import spec_values


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    out = tmp_path_factory.mktemp("day")
    generate(out, requests=8_000, seed=21, reference_rows=3_000)
    return Session.open(out / "obskit.toml")


def test_the_selection_is_exact(session: Session) -> None:
    req = session.requests
    assert req is not None
    data = ExplorerData(req, every="15m")
    data.set_range("2026-11-22T10:07:00Z", "2026-11-22T12:00:00Z")
    assert data.start == datetime(2026, 11, 22, 10, tzinfo=UTC) and data.end == datetime(2026, 11, 22, 12, tzinfo=UTC)
    version = data.versions_of(None)[0]
    data.set_versions([version])
    expected = req.filter(pl.col("timestamp").is_between(data.start, data.end, closed="left")
                          & (pl.col("model_version") == version))
    assert data.rows().height == expected.height
    assert data.windowed("stats").equals(
        window_stats(req.filter(pl.col("model_version") == version), every="15m").filter(
            pl.col("window_start").is_between(data.start, data.end, closed="left")))
    with pytest.raises(Exception, match="unknown version"):
        data.set_versions(["nope"])


@pytest.mark.parametrize("sources", ["requests", "requests+reference", "requests+gpu", "all"])
def test_every_tab_on_any_set_of_sources(session: Session, sources: str) -> None:
    req = session.requests
    assert req is not None
    if "all" not in sources:
        req = req.drop("corrected_label", "corrected_at", strict=False)
    data = ExplorerData(req, reference=session.reference if "reference" in sources or sources == "all" else None,
                        gpu=session.gpu if "gpu" in sources or sources == "all" else None, every="10m")
    results = {tab: build(tab, data, TabOptions(slo_ms=120.0)) for tab in
               ("traffic", "errors", "gpu", "drift", "business", "timeline")}
    assert results["traffic"].charts and results["errors"].charts and results["timeline"].charts
    has_gpu = "gpu" in sources or sources == "all"
    assert bool(results["gpu"].note) != has_gpu
    if not has_gpu:
        assert "add one to the config" in results["gpu"].note
    has_ref = "reference" in sources or sources == "all"
    assert bool(results["drift"].note) != has_ref
    assert ("No feedback source" in results["business"].note) == (sources != "all")
    for res in results.values():
        for markup in res.tables.values():
            assert "<script" not in markup


def test_an_outage_is_a_gap_and_the_axis_is_24h_utc(session: Session) -> None:
    req = session.requests
    assert req is not None
    hole = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    holed = req.filter(~pl.col("timestamp").is_between(hole, hole + timedelta(minutes=25), closed="left"))
    data = ExplorerData(holed, every="5m")
    res = build("traffic", data, TabOptions())
    spec = res.charts["rps"].to_dict()
    empty = sorted(r["window_start"] for r in spec_values(spec) if r.get("rps", 0) is None)
    assert [datetime.fromtimestamp(t / 1000, UTC) for t in empty] == [hole + timedelta(minutes=5 * i)
                                                                      for i in range(5)]
    text = json.dumps(spec)
    assert '"type": "utc"' in text and '"%H:%M"' in text and "%I" not in text


def test_gpu_lines_are_named_by_device(session: Session) -> None:
    gpu = session.gpu
    req = session.requests
    assert gpu is not None and req is not None
    two = pl.concat([gpu.with_columns(pl.lit(h).alias("host")) for h in ("node-a", "node-b")])
    res = build("gpu", ExplorerData(req, gpu=two, every="30m"), TabOptions())
    devices = {r["device"] for r in spec_values(res.charts["utilization"].to_dict()) if "device" in r}
    assert devices == {"node-a · gpu 0 · NVIDIA A10G", "node-b · gpu 0 · NVIDIA A10G"}


def test_the_timeline_tab_rings_the_reports_anomalies_whatever_the_range(session: Session) -> None:
    req = session.requests
    assert req is not None
    burst_at = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    burst = req.head(3000).with_columns(
        (pl.lit(burst_at) + pl.duration(milliseconds=pl.int_range(pl.len()) * 50)).dt.cast_time_unit(
            req.schema["timestamp"].time_unit).alias("timestamp"),  # type: ignore[union-attr]
        (pl.col("request_id") + "-burst").alias("request_id"))
    data = ExplorerData(pl.concat([req, burst]).sort("timestamp"), every="5m")
    res = build("timeline", data, TabOptions())
    assert "requests/s at 11-22 15:00" in res.note
    spec = json.dumps(res.charts["timeline"].to_dict())
    assert "(anomaly)" in spec  # the red rings' tooltip
    flagged = res.frames["timeline"].filter(pl.col("rps_anomaly"))["window_start"].to_list()
    assert burst_at in flagged
    # narrowing the range shows the same anomalies: they are scored over the whole period
    data.set_range("2026-11-22T14:00:00Z", "2026-11-22T16:00:00Z")
    narrow = build("timeline", data, TabOptions())
    assert narrow.frames["timeline"].filter(pl.col("rps_anomaly"))["window_start"].to_list() == [
        t for t in flagged if datetime(2026, 11, 22, 14, tzinfo=UTC) <= t < datetime(2026, 11, 22, 16, tzinfo=UTC)]
