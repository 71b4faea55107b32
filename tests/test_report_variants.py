"""Reports for deployments other than the sample's: a representative few run end to end in papermill.

The matrix of every source subset runs in-process (tests/test_report_sections.py); here a few
variants go through papermill, nbconvert and headless Chromium, and the charts are checked
for honesty (gaps, windows, UTC axis).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from obskit.report import health, run_report
from obskit.report.section import open_report
from obskit.sample import generate
from tests.browser import render
from tests.specs import spec_values
from tests.test_report_sections import OPTIONAL, drop_tables

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


def _rendered(page_path: Path, screenshot: str) -> list[str]:
    page = render(page_path, screenshot=ARTIFACTS / screenshot)
    charts = re.findall(r'<div class="obskit-chart[ "][^>]*>', page.dom)
    assert charts and all('data-rendered="ok"' in c for c in charts), charts
    assert [c for c in page.console if "error" in c.lower()] == []
    return charts


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate(out, requests=15_000, seed=5)
    return out


def test_requests_only_health_report(day: Path, tmp_path: Path) -> None:
    """No GPU, no Prometheus, no feedback, no reference: a page, exit 0 or 3, every section says why."""
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(drop_tables((day / "obskit.toml").read_text(), (*OPTIONAL, "features")).replace(
        'path = "', f'path = "{day}/'))
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "report", "--config", str(cfg), "--out",
                        str(tmp_path / "r")], capture_output=True, text=True, timeout=600)
    assert r.returncode in (0, 3), r.stderr[-2000:]
    page_path = next((tmp_path / "r").glob("*/health.html"))
    html = page_path.read_text()
    for why in ("No GPU section: no GPU trace configured", "No drift check: no [features] in the config",
                "No correction rate: no feedback source"):
        assert why in html
    summary = json.loads((page_path.parent / "summary.json").read_text())
    assert summary["problems"] == [] and summary["figures"]["correction_rate"] is None
    skipped = {s["title"] for s in summary["figures"]["sections"] if s["status"] == "skipped"}
    assert {"GPU", "Drift against the training set", "Metrics"} <= skipped
    assert "Traffic" not in skipped
    _rendered(page_path, "health_requests_only.png")


def test_gpu_only_report_on_a_real_15_second_capture(real_dir: Path, tmp_path: Path) -> None:
    capture = real_dir / "nvidia-smi" / "linux-x86_64__nvidia-l40s__595.80.txt"
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(f'[project]\nname = "l40s bench"\n[sources.l40s]\nkind = "nvidia_smi"\npath = "{capture}"\n')
    res = run_report(cfg, notebook="gpu_report", out=tmp_path / "r")
    assert res.html == tmp_path / "r" / "2026-07-03" / "gpu.html"  # the capture's day, not today
    summary = json.loads(res.summary.read_text())
    assert summary["day"] == "2026-07-03" and summary["period"].startswith("2026-07-03 08:33")
    assert res.status == "ok" and summary["problems"] == []
    html = res.html.read_text()
    specs = [json.loads(m.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&"))
             for m in re.findall(r'class="obskit-chart-spec"[^>]*>(.*?)</script>', html, re.S)]
    util = [s for s in specs if '"GPU utilization"' in json.dumps(s)]
    assert util, "no utilization chart"
    points = [v for v in spec_values(util[0]) if v.get("util_mean_pct") is not None]
    assert len(points) >= 2  # the idle and the load sample, not one 5-minute window
    _rendered(res.html, "gpu_report_real_capture.png")


def test_an_outage_is_a_gap_in_the_traffic_chart(day: Path, tmp_path: Path) -> None:
    rep = open_report(str(day / "obskit.toml"))
    requests = rep.requests
    assert requests is not None
    hole_start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    holed = requests.filter(~pl.col("timestamp").is_between(hole_start, hole_start + timedelta(minutes=25),
                                                            closed="left"))
    holed.drop("corrected_label", "corrected_at", strict=False).write_parquet(tmp_path / "requests.parquet")
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(f'[project]\nmodel = "resnet50"\n[sources.requests]\npath = "{tmp_path}/requests.parquet"\n')
    rep = open_report(str(cfg))
    assert rep.window == "5m"
    sec = health.traffic(rep)
    rows = spec_values(sec.charts[0].to_dict())
    missing = [r for r in rows if r["rps"] is None]
    starts = sorted(datetime.fromtimestamp(r["window_start"] / 1000, UTC) for r in missing)
    assert starts == [hole_start + timedelta(minutes=5 * i) for i in range(5)]  # 25 minutes: five empty windows
    spec = json.dumps(sec.charts[0].to_dict())
    assert '"type": "utc"' in spec and '"format": "%H:%M"' in spec  # a 24-hour UTC axis


def test_kl_heatmap_cells_span_their_hour_and_brightness_is_dark_only_from_15h(samples_dir: Path) -> None:
    rep = open_report(str(samples_dir / "obskit.toml"))
    sec = health.drift(rep)
    heat = next(c for c in sec.charts if "KL divergence" in json.dumps(c.to_dict()))
    rows = spec_values(heat.to_dict())
    bright = sorted((r for r in rows if r["column"] == "brightness"), key=lambda r: r["window_start"])
    assert all(r["_end"] - r["window_start"] == 3_600_000 for r in rows)  # each cell is its own hour
    before = [r["statistic"] for r in bright if r["window_start"] < datetime(2026, 11, 22, 15, tzinfo=UTC)
              .timestamp() * 1000]
    after = [r["statistic"] for r in bright if r["window_start"] >= datetime(2026, 11, 22, 16, tzinfo=UTC)
             .timestamp() * 1000]
    assert max(before) < 0.05 < min(after)
