"""A configured source with no row in the report's period degrades the run, as a missing file does."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from obskit.report import health
from obskit.report.section import open_report
from obskit.report.status import run_status
from obskit.sample import generate

SECTIONS = [health.alerts, health.summary, health.traffic, health.latency, health.errors, health.gpu, health.drift,
            health.business, health.versions, health.metrics, health.timeline]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate(out, requests=2000, seed=1, reference_rows=500)
    return out


def _shift_gpu(day: Path, days: int) -> None:
    """Move every nvidia-smi timestamp (``2026/11/22 00:00:00.000``) by ``days``."""
    path = day / "gpu" / "nvidia-smi.csv"
    lines = path.read_text(encoding="utf-8").splitlines()

    def shift(line: str) -> str:
        if not line[:1].isdigit():  # a repeated header (nvidia-smi restarted)
            return line
        stamp, sep, rest = line.partition(", ")
        moved = datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S.%f") + timedelta(days=days)
        return f"{moved:%Y/%m/%d %H:%M:%S}.{moved.microsecond // 1000:03d}{sep}{rest}"

    path.write_text("\n".join(map(shift, lines)) + "\n", encoding="utf-8")


def _run(cfg: Path, out: Path, **kw: str) -> tuple[object, dict[str, object]]:
    rep = open_report(str(cfg), output_dir=str(out), **kw)
    for fn in SECTIONS:
        fn(rep)
    rep.finish()
    return rep, json.loads((out / "summary.json").read_text())


def _copy(day: Path, tmp_path: Path) -> Path:
    import shutil

    dest = tmp_path / "day"
    shutil.copytree(day, dest)
    return dest


def test_a_gpu_trace_of_another_day_degrades_the_run(day: Path, tmp_path: Path) -> None:
    dest = _copy(day, tmp_path)
    _shift_gpu(dest, -2)
    rep, summary = _run(dest / "obskit.toml", tmp_path / "out",
                        start="2026-11-22T00:00:00Z", end="2026-11-23T00:00:00Z")
    assert summary["status"] == "degraded"
    problems = summary["problems"]
    assert isinstance(problems, list)
    gpu = [p for p in problems if p["source"] == "gpu"]
    assert len(gpu) == 1, problems
    reason = gpu[0]["reason"]
    assert reason.startswith("no rows in the period 2026-11-22 00:00 – 2026-11-23 00:00 UTC "
                             "(the file covers 2026-11-20 00:00 – 2026-11-20 23:"), reason
    assert "nvidia-smi.csv" in reason
    assert any(str(r).startswith("gpu: no rows in the period") for r in summary["reasons"])  # type: ignore[union-attr]
    assert run_status(rep).status == "degraded"  # type: ignore[arg-type]
    assert [p["source"] for p in problems] == ["gpu"]  # the other sources cover the day: no other problem


def test_an_open_period_is_the_requests_span(day: Path, tmp_path: Path) -> None:
    dest = _copy(day, tmp_path)
    _shift_gpu(dest, 2)
    _rep, summary = _run(dest / "obskit.toml", tmp_path / "out")
    assert summary["status"] == "degraded"
    (gpu,) = [p for p in summary["problems"] if p["source"] == "gpu"]  # type: ignore[union-attr]
    assert re.match(r"no rows in the period 2026-11-22 00:\d\d – 2026-11-2[23] \d\d:\d\d UTC "
                    r"\(the file covers 2026-11-24 00:00 – 2026-11-24 23:\d\d UTC\)", gpu["reason"]), gpu


def test_sources_that_cover_the_period_are_ok(day: Path, tmp_path: Path) -> None:
    _rep, summary = _run(_copy(day, tmp_path) / "obskit.toml", tmp_path / "out",
                         start="2026-11-22T00:00:00Z", end="2026-11-23T00:00:00Z")
    assert summary["problems"] == []
    assert summary["status"] != "degraded"


def test_a_part_of_the_day_with_gpu_rows_is_not_a_problem(day: Path, tmp_path: Path) -> None:
    rep = open_report(str(_copy(day, tmp_path) / "obskit.toml"), start="2026-11-22T10:00:00Z",
                      end="2026-11-22T11:00:00Z")
    rep.session.load_all()
    assert rep.session.check_periods() == []
