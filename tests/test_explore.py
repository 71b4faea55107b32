"""The explorer driven through its Python API; every number is checked against the analysis
functions called directly on the same filtered rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.bench_explore import synthetic_reference, synthetic_requests
from obskit.analyze.business import business_metrics
from obskit.analyze.drift import column_drift
from obskit.analyze.errors import error_rate, sustained
from obskit.analyze.gpu import gpu_stats
from obskit.analyze.serving import window_stats
from obskit.analyze.timeline import one_timeline
from obskit.errors import AnalysisError
from obskit.explorer import TABS, Explorer, explore, table_html
from obskit.session import Session

T0 = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def session(samples_dir: Path) -> Session:
    return Session.open(samples_dir / "obskit.toml")


@pytest.fixture(scope="module")
def ex(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Explorer:
    path = tmp_path_factory.mktemp("flywheel") / "increment.parquet"
    return explore(samples_dir / "obskit.toml", chart_backend="output", flywheel_path=path)


def _filtered(requests: pl.DataFrame, start: datetime, end: datetime, versions: list[str] | None) -> pl.DataFrame:
    out = requests.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < end))
    return out if versions is None else out.filter(pl.col("model_version").is_in(versions))


def test_full_range_equals_window_stats(ex: Explorer, session: Session) -> None:
    ex.reset()
    assert session.requests is not None
    assert_frame_equal(ex.frames["traffic"]["stats"], window_stats(session.requests, every="5m"))
    assert set(ex.frames) == set(TABS)
    # every tab has data: the only note is the timeline's list of anomalies, which names the
    # sample day's p99 incident (above the SLO from 19:10) where the report's timeline does
    assert set(ex.notes) == {"timeline"}
    assert "p99 ms at" in ex.notes["timeline"] and "11-22 19:10" in ex.notes["timeline"]


def test_range_and_version_match_analyses(ex: Explorer, session: Session) -> None:
    req = session.requests
    assert req is not None
    ex.reset()
    ex.set_range(T0, T1)
    ex.set_versions(["v1.4.0"])
    assert (ex.start, ex.end) == (T0, T1)
    cur = _filtered(req, T0, T1, ["v1.4.0"])
    frames = ex.frames
    stats = frames["traffic"]["stats"]
    assert_frame_equal(stats, window_stats(cur, every="5m"))
    # the 19:10 incident: p99 above the 120 ms SLO from 19:10 to 19:50
    p99 = dict(zip(stats["window_start"].dt.strftime("%H:%M").to_list(), stats["p99_ms"].to_list(), strict=True))
    assert p99["19:05"] < 120 < p99["19:10"]
    errs = frames["errors"]["errors"]
    assert_frame_equal(errs, error_rate(cur, "5m"), check_dtypes=False)  # counts from the window state: Int64
    assert_frame_equal(frames["errors"]["episodes"],
                       sustained(error_rate(cur, "5m"), "error_rate", ">", 0.01, for_="5m", every="5m"),
                       check_dtypes=False)
    n_failed = cur.filter(pl.col("status") == "error").height
    assert frames["errors"]["failed"].height == n_failed == int(errs["errors"].sum())
    assert int(frames["errors"]["messages"]["requests"].sum()) == n_failed
    assert_frame_equal(frames["business"]["metrics"], business_metrics(cur, "5m", confidence_threshold=0.8),
                       check_dtypes=False)
    feats = [f for f in session.config.features.all]
    ref = session.reference
    assert ref is not None
    assert_frame_equal(frames["drift"]["drift"], column_drift(ref, cur.select(feats), columns=feats))
    tl = one_timeline(cur, ex._gpu, None, "5m")
    got = frames["timeline"]["timeline"].select(tl.columns)
    assert_frame_equal(got.filter(pl.col("requests") > 0), tl.filter(pl.col("requests") > 0))
    # summary label shows the filtered request count
    assert f"data-requests='{cur.height}'" in ex.summary.value


def test_drilldowns_are_exact(ex: Explorer, session: Session) -> None:
    req = session.requests
    assert req is not None
    ex.reset()
    ex.set_range("2026-11-22T19:12:00Z", "2026-11-22T19:53:00Z")  # snaps outwards to 19:10-19:55
    assert (ex.start.strftime("%H:%M"), ex.end.strftime("%H:%M")) == ("19:10", "19:55")
    cur = _filtered(req, ex.start, ex.end, None)
    frames = ex.frames
    slow = frames["traffic"]["slowest"]["latency_ms"].to_list()
    assert slow == cur.top_k(20, by="latency_ms")["latency_ms"].to_list()
    answered = cur.filter((pl.col("status") == "ok") & pl.col("confidence").is_not_null())
    low = frames["business"]["low_confidence"]["confidence"].to_list()
    assert low == answered.sort("confidence")["confidence"].head(20).to_list()
    corrected = frames["business"]["corrected"]
    assert corrected.height == cur.filter(pl.col("corrected_label").is_not_null()).height
    gpu = ex._gpu
    assert gpu is not None
    g = gpu_stats(gpu, "5m")
    assert_frame_equal(frames["gpu"]["stats"],
                       g.filter((pl.col("window_start") >= ex.start) & (pl.col("window_start") < ex.end)))
    # GPU memory pressure during the incident
    assert frames["gpu"]["stats"]["memory_share_max"].max() > 0.95  # type: ignore[operator]
    assert frames["gpu"]["pressure"].height >= 1


def test_brush_sets_the_range(ex: Explorer) -> None:
    ex.reset()
    ms = [datetime(2026, 11, 22, 8, 21, tzinfo=UTC).timestamp() * 1000,
          datetime(2026, 11, 22, 8, 31, tzinfo=UTC).timestamp() * 1000]
    ex.brush({"window_start": ms})
    assert (ex.start.strftime("%H:%M"), ex.end.strftime("%H:%M")) == ("08:20", "08:35")
    assert ex.range_slider.index == (ex.windows.index(ex.start), ex.windows.index(ex.end))
    stats = ex.frames["traffic"]["stats"]
    assert stats.height == 3 and stats["window_start"].min() == ex.start
    # the 08:20 error burst is in every tab's window
    assert ex.frames["errors"]["errors"]["error_rate"].max() > 0.03  # type: ignore[operator]


def test_slider_and_widgets_drive_the_same_state(ex: Explorer) -> None:
    ex.reset()
    ex.range_slider.index = (10, 20)
    assert ex.start == ex.windows[10] and ex.end == ex.windows[20]
    assert ex.frames["traffic"]["stats"].height == 10
    ex.version_select.value = ("v1.5.0",)
    assert ex.versions == ["v1.5.0"]
    assert ex.frames["traffic"]["stats"].height == 0  # the canary starts at 10:00
    ex.set_range("2026-11-22T10:00:00Z", "2026-11-22T12:00:00Z")
    assert ex.frames["traffic"]["stats"]["requests"].sum() > 0
    ex.select_tab("drift")
    ex.set_feature("contrast")
    assert ex.charts["drift"]["histogram"].to_dict()["title"].startswith("contrast")
    with pytest.raises(AnalysisError):
        ex.set_versions(["v9"])
    ex.reset()
    assert ex.versions == ["v1.4.0", "v1.5.0"]


def test_charts_hold_aggregates_not_rows(ex: Explorer, session: Session) -> None:
    ex.reset()
    charts = ex.charts
    assert session.requests is not None
    windows = ex.frames["traffic"]["stats"].height
    for tab, built in charts.items():
        for name, chart in built.items():
            spec = chart.to_dict()
            n = _data_rows(spec)
            assert n <= 10 * windows, (tab, name, n)
    spec = charts["traffic"]["latency"].to_dict()
    assert any(p.get("name") == "brush" for p in spec.get("params", []))


def _data_rows(spec: object) -> int:
    if isinstance(spec, dict):
        vals = spec.get("values")
        own = len(vals) if isinstance(vals, list) else 0
        return own + sum(_data_rows(v) for k, v in spec.items() if k != "values")
    if isinstance(spec, list):
        return sum(_data_rows(v) for v in spec)
    return 0


def test_subset_of_versions_computed_from_rows() -> None:
    req = synthetic_requests(30_000, versions=("a", "b", "c"), shares=(0.5, 0.3, 0.2))
    ref = synthetic_reference(2_000)
    ex = Explorer(req, reference=ref, chart_backend="output")
    ex.set_versions(["a", "c"])
    ex.set_range("2026-11-22T06:00:00Z", "2026-11-22T09:00:00Z")
    cur = _filtered(req, ex.start, ex.end, ["a", "c"])
    assert_frame_equal(ex.frames["traffic"]["stats"], window_stats(cur, every="5m"))
    assert ex.frames["traffic"]["slowest"]["latency_ms"].to_list() == cur.top_k(20, by="latency_ms")[
        "latency_ms"].to_list()
    assert "gpu" in ex.notes  # no GPU frame: the tab says so
    assert ex.frames["gpu"] == {}


def test_flywheel_appends_selected_corrections(ex: Explorer) -> None:
    ex.reset()
    ex.set_range(datetime(2026, 11, 22, 15, tzinfo=UTC), datetime(2026, 11, 22, 18, tzinfo=UTC))
    corrected = ex.frames["business"]["corrected"]
    ids = corrected["request_id"].head(3).to_list()
    path = ex.append_corrections(ids)
    first = pl.read_parquet(path)
    assert sorted(first["request_id"].to_list()) == sorted(ids)
    assert "label" in first.columns and "brightness" in first.columns
    ex.corrected_pick.value = tuple(corrected["request_id"].slice(2, 3).to_list())
    ex.flywheel_button.click()
    assert "Appended 3" in ex.flywheel_result.value
    assert pl.read_parquet(path).height == 5  # merged, deduplicated by request_id


def test_user_strings_are_escaped() -> None:
    req = synthetic_requests(5_000, versions=("<b>v1</b>", "v2"), shares=(0.5, 0.5)).with_columns(
        pl.when(pl.col("status") == "error").then(pl.lit("<img src=x onerror=alert(1)>")).alias("error"))
    ex = Explorer(req, chart_backend="output", title="<script>t</script>")
    ex.select_tab("errors")
    html_out = ex._tables["errors"]["failed"].value + ex._tables["errors"]["messages"].value
    assert "<img" not in html_out and "&lt;img src=x onerror=alert(1)&gt;" in html_out
    assert "<b>v1</b>" not in ex.summary.value and "&lt;b&gt;v1&lt;/b&gt;" in ex.summary.value
    assert "<script>t" not in ex.widget.children[0].value
    assert "&lt;td&gt;" in table_html(pl.DataFrame({"<td>": ["x"]}))


def test_refilter_reads_precomputed_windows() -> None:
    """A re-filter (range, version) reads the windows computed at load: no per-window analysis runs again.

    How fast that is, is measured by ``benchmarks/bench_explore.py``, not asserted here: a
    loaded CI machine would make any wall-clock bound flaky.
    """
    req = synthetic_requests(300_000)
    ex = Explorer(req, chart_backend="output")
    recomputed: list[str] = []
    compute = ex.data._compute
    ex.data._compute = lambda name, key: recomputed.append(name) or compute(name, key)  # type: ignore[method-assign]
    times = []
    for i in range(6):
        ex.set_range(f"2026-11-22T{8 + i % 2:02d}:00:00Z", "2026-11-22T20:00:00Z")
        times.append(ex.last_refresh_s)
        ex.set_versions(["v1.5.0"] if i % 2 else ["v1.4.0"])
        times.append(ex.last_refresh_s)
    assert recomputed == []  # every selection was precomputed: a re-filter is a sum of small tables
    assert len(times) == 12 and all(t > 0 for t in times)


def test_jupyter_chart_brush_reaches_python(samples_dir: Path) -> None:
    pytest.importorskip("anywidget")
    import altair as alt

    req = synthetic_requests(20_000)
    ex = Explorer(req, chart_backend="jupyterchart")
    view = ex._views["traffic"]["latency"]
    jc = view.widget.children[0]
    assert isinstance(jc, alt.JupyterChart)
    lo = datetime(2026, 11, 22, 10, 2, tzinfo=UTC).timestamp() * 1000
    hi = datetime(2026, 11, 22, 11, 58, tzinfo=UTC).timestamp() * 1000
    # what the browser sends when a range is brushed on the chart
    jc._vl_selections = {"brush": {"value": {"window_start": [lo, hi]}, "store": []}}
    assert (ex.start.strftime("%H:%M"), ex.end.strftime("%H:%M")) == ("10:00", "12:00")
    assert ex.frames["traffic"]["stats"].height == 24
