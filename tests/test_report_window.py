"""A 15-minute capture: every chart over time, drift over time included, follows the report window.

The capture is cut from the committed sample day (14:58:00 to 15:12:37 UTC, across the start
of its brightness shift) and ends inside a minute, like a capture stopped by hand.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from obskit.analyze.drift import drift_score
from obskit.analyze.stattests import STAT_TESTS
from obskit.explorer import explore
from obskit.report import drift, health
from obskit.report.section import open_report
from obskit.timeutil import drift_window, parse_duration, report_window

START = datetime(2026, 11, 22, 14, 58, tzinfo=UTC)
END = START + timedelta(minutes=14, seconds=37)  # the last minute holds 37 seconds of requests


def _values(spec: dict[str, object]) -> list[dict[str, object]]:
    """Every data row of a chart spec (inline data of the chart and of its layers)."""
    out: list[dict[str, object]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), list):
                out.extend(data["values"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return out


def _fields(spec: object, channel: str) -> list[str]:
    """The fields a chart spec encodes on ``channel`` (``y``, ``color``...)."""
    found: list[str] = []
    if isinstance(spec, dict):
        enc = spec.get("encoding")
        if isinstance(enc, dict) and isinstance(enc.get(channel), dict) and "field" in enc[channel]:
            found.append(str(enc[channel]["field"]))
        for v in spec.values():
            found += _fields(v, channel)
    elif isinstance(spec, list):
        for v in spec:
            found += _fields(v, channel)
    return found


def _find(spec: object, key: str) -> list[list[dict[str, object]]]:
    """Every value of ``key`` in a chart spec."""
    found: list[list[dict[str, object]]] = []
    if isinstance(spec, dict):
        if key in spec:
            found.append(spec[key])
        for v in spec.values():
            found += _find(v, key)
    elif isinstance(spec, list):
        for v in spec:
            found += _find(v, key)
    return found


def _write_capture(samples: Path, out: Path, report: str, reference_rows: int = 0) -> Path:
    """The sample day's requests between START and END as JSONL, and a config reading them."""
    lines = []
    with gzip.open(samples / "requests.jsonl.gz", "rt") as fh:
        for line in fh:
            ts = datetime.fromisoformat(json.loads(line)["ts"].replace("Z", "+00:00"))
            if START <= ts <= END:
                lines.append(line)
            elif ts > END:
                break
    (out / "requests.jsonl").write_text("".join(lines))
    text = (samples / "obskit.toml").read_text()
    text = re.sub(r"(?ms)^\[sources\.(prometheus|gpu)\].*?(?=^\[)", "", text)  # requests, feedback, reference
    text = re.sub(r'(?m)^\[report\]\nwindow = "5m".*$', f"[report]\n{report}", text)
    text = text.replace('path = "requests.jsonl.gz"', f'path = "{out}/requests.jsonl"')
    reference = samples / "reference.parquet"
    if reference_rows:  # a small training set: Evidently's choice is then a p-value test (KS, z)
        reference = out / "reference.parquet"
        pl.read_parquet(samples / "reference.parquet").head(reference_rows).write_parquet(reference)
    text = text.replace('path = "reference.parquet"', f'path = "{reference}"')
    text = text.replace('path = "feedback.jsonl"', f'path = "{samples / "feedback.jsonl"}"')
    cfg = out / "obskit.toml"
    cfg.write_text(text)
    return cfg


@pytest.fixture(scope="module")
def capture(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 15-minute capture whose config has no ``[report] window``: the period chooses it."""
    return _write_capture(samples_dir, tmp_path_factory.mktemp("capture"), "")


@pytest.fixture(scope="module")
def capture_1m(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same capture with ``[report] window = "1m"``."""
    return _write_capture(samples_dir, tmp_path_factory.mktemp("capture_1m"), 'window = "1m"')


def test_the_period_chooses_the_window_when_none_is_set() -> None:
    assert report_window(timedelta(minutes=15)) == "1m"
    assert report_window(timedelta(days=1)) == "5m"
    assert report_window(timedelta(days=7)) == "1h"
    assert report_window(timedelta(days=7), "5m") == "30m"  # an explicit window is kept to <= 400 windows
    assert report_window(timedelta(minutes=15), "1m") == "1m"
    assert drift_window(timedelta(minutes=15), "1m", rows=1500) == "1m"
    assert drift_window(timedelta(days=1), "5m", rows=150_000) == "1h"


def test_a_15_minute_capture_gets_minute_windows(capture: Path) -> None:
    rep = open_report(str(capture))
    assert rep.requests is not None and rep.requests.height > 15 * 50
    assert not rep.window_set
    assert rep.window == "1m" and rep.drift_window == "1m"


def test_when_did_it_start_and_prediction_drift_are_per_minute(capture: Path) -> None:
    rep = open_report(str(capture))
    frame = drift.over_time(rep).frames["over_time"]
    starts = frame["window_start"].unique().sort()
    assert starts.len() >= 14  # 14:58 .. 15:12, not one hourly cell
    assert set(starts.diff().drop_nulls().to_list()) == {timedelta(minutes=1)}
    sec = drift.prediction(rep)
    pred = sec.frames["prediction"]
    pstarts = pred["window_start"].unique().sort()
    assert pstarts.len() >= 14 and set(pstarts.diff().drop_nulls().to_list()) == {timedelta(minutes=1)}
    titles = json.dumps([c.to_dict() for c in sec.charts])
    assert "per 1m" in titles and "hour" not in titles
    # the health report's KL heatmap is the same frame, per minute too
    heat = health.drift(rep).charts[0].to_dict()
    cells = [r for r in _values(heat) if "_end" in r]
    assert cells and all(r["_end"] - r["window_start"] == 60_000 for r in cells)


def test_an_explicit_window_is_followed(capture_1m: Path) -> None:
    rep = open_report(str(capture_1m))
    assert rep.window_set and rep.window == "1m" and rep.drift_window == "1m"
    rep = open_report(str(capture_1m), window="30s")  # -p window=30s
    assert rep.window == "30s"
    assert rep.drift_window in ("30s", "1m")  # widened only for ~50 requests per window
    frame = drift.over_time(rep).frames["over_time"]
    step = parse_duration(rep.drift_window)
    assert set(frame["window_start"].unique().sort().diff().drop_nulls().to_list()) == {step}
    assert health.traffic(rep).frames["stats"]["window_start"].diff().drop_nulls().unique().to_list() == [
        timedelta(seconds=30)]


def test_the_last_partial_window_is_no_traffic_drop(capture: Path) -> None:
    rep = open_report(str(capture))
    sec = health.traffic(rep)
    shown = sec.frames["traffic"]
    last = shown.row(-1, named=True)
    assert last["window_start"] == datetime(2026, 11, 22, 15, 12, tzinfo=UTC)
    assert last["partial"] and last["covered_s"] == pytest.approx(37, abs=1)
    assert not shown["partial"][:-1].any()
    # its rate is requests over the 37 covered seconds: in line with the full minutes, not a third of them
    full = shown.filter(~pl.col("partial"))["rps"]
    assert full.min() * 0.6 < last["rps"] < full.max() * 1.4  # type: ignore[operator]
    assert sec.frames["stats"]["rps"][-1] < full.min()  # the raw per-minute figure would read as a drop
    spec = sec.charts[0].to_dict()
    marked = [r for r in _values(spec) if r.get("partial") is True]
    assert [r["window_start"] for r in marked] == [int(last["window_start"].timestamp() * 1000)]
    assert "only in part" in json.dumps(spec)
    assert any("Partial window" in n for n in sec.notes)


def test_business_signals_follow_the_window(capture: Path) -> None:
    rep = open_report(str(capture))
    biz = health.business(rep).frames["business"]
    assert biz.height >= 14  # a point per minute, not one hourly dot


def test_the_explorer_takes_the_report_window(capture: Path, capture_1m: Path, tmp_path: Path) -> None:
    ex = explore(capture_1m, chart_backend="output", flywheel_path=tmp_path / "f.parquet")
    assert ex.every == ex.data.every == "1m"  # [report] window
    assert ex.drift_every == "1m"
    ex = explore(capture, chart_backend="output", flywheel_path=tmp_path / "g.parquet")
    assert ex.every == open_report(str(capture)).window == "1m"  # chosen from the period, as the report does


@pytest.fixture(scope="module")
def capture_ks(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The capture against 800 training rows: drift of the confidence is a KS p-value."""
    return _write_capture(samples_dir, tmp_path_factory.mktemp("capture_ks"), "", reference_rows=800)


def test_drift_over_time_reads_up_as_more_drift(capture_ks: Path, tmp_path: Path) -> None:
    # the score: larger = more drift, for p-value tests (KS) and distances alike; 1 = the threshold
    ks = pl.DataFrame({"method": ["ks"] * 3, "statistic": [0.9, 0.04, 1e-9], "threshold": [0.05] * 3})
    score = drift_score(ks)["drift_score"].to_list()
    assert score == sorted(score) and score[0] < 1 < score[1]
    rep = open_report(str(capture_ks))
    pred = drift.prediction(rep)
    pvalue = [m for m, t in STAT_TESTS.items() if t.is_pvalue]
    assert pred.frames["prediction"]["method"].is_in(pvalue).all()
    for row in pred.frames["prediction"].iter_rows(named=True):
        if row["drift_score"] is not None:
            assert (row["drift_score"] >= 1) == row["drifted"], row
    heat = pred.charts[0].to_dict()
    assert _fields(heat, "color") == ["drift_score"]
    assert "higher = more drift" in json.dumps(heat)
    # the explorer's drift-over-time chart
    ex = explore(capture_ks, chart_backend="output", flywheel_path=tmp_path / "f.parquet")
    chart = ex.charts["drift"]["over_time"].to_dict()
    folded = [t["fold"] for t in _find(chart, "transform") for t in t if "fold" in t]
    assert folded == [["drift_score"]]  # the y of the line is the score
    assert "higher = more drift" in json.dumps(chart)
    over = ex.frames["drift"]["over_time"]
    assert {"statistic", "drift_score"} <= set(over.columns) and over["method"].is_in(pvalue).any()
