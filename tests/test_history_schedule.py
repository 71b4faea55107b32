"""Report history index and nightly scheduling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from obskit.cli import main
from obskit.history import load_runs, write_index
from obskit.schedule import crontab_line, systemd_units


def _run(root: Path, day: str, p99: float, errors: float, status: str = "ok", model: str = "m") -> None:
    folder = root / day
    folder.mkdir(parents=True)
    (folder / "health.html").write_text("<html></html>")
    summary = {"day": day, "status": status, "model": model, "html": "health.html",
               "figures": {"requests": 1000, "error_rate": errors, "p50_ms": 10.0, "p99_ms": p99}}
    (folder / "summary.json").write_text(json.dumps(summary))


def test_index_lists_runs_newest_first_with_trends(tmp_path: Path) -> None:
    _run(tmp_path, "2026-11-21", 100.0, 0.01)
    _run(tmp_path, "2026-11-22", 118.0, 0.005, status="degraded")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "summary.json").write_text("{not json")
    page = write_index(tmp_path).read_text()
    assert [r.day for r in load_runs(tmp_path)] == ["2026-11-21", "2026-11-22"]
    assert page.index("2026-11-22") < page.index("2026-11-21")
    assert "+18% vs previous" in page and "-50% vs previous" in page
    assert 'href="2026-11-22/health.html"' in page
    assert page.count("<svg") >= 3 and "<script" not in page


def test_index_escapes_hostile_summaries(tmp_path: Path) -> None:
    _run(tmp_path, "<script>alert(1)</script>", 1.0, 0.0, status="<b>x</b>")
    page = write_index(tmp_path, title="<img src=x onerror=alert(1)>").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>x</b>" not in page


def test_crontab_line_quotes_paths(tmp_path: Path) -> None:
    cfg = tmp_path / "my config; rm -rf ~.toml"
    line = crontab_line(cfg, tmp_path / "reports", at="05:45")
    assert line.startswith("45 5 * * * ")
    assert f"'{cfg}'" in line and "--last 24h" in line
    units = systemd_units(cfg, tmp_path, at="23:05")
    assert "OnCalendar=*-*-* 23:05:00" in units["obskit-report.timer"]


@pytest.mark.parametrize("args", [["schedule", "--at", "25:00"], ["schedule", "--install"]])
def test_schedule_refuses_bad_time_and_install_without_consent(args: list[str]) -> None:
    assert main(args) == 2


def test_last_conflicts_with_start() -> None:
    assert main(["report", "--last", "24h", "--start", "2026-11-22"]) == 2
