"""A report's status tells the truth: "ok" means checked and fine, never "nothing was there to check"."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from obskit.report import drift, health
from obskit.report.section import ReportContext, open_report
from obskit.report.status import run_status
from obskit.sample import generate

HEALTH = [health.alerts, health.summary, health.traffic, health.latency, health.errors, health.gpu, health.drift,
          health.business, health.versions, health.metrics, health.timeline]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate(out, requests=10_000, seed=9, reference_rows=5_000)
    return out


def _copy(day: Path, tmp_path: Path, edit: object = None) -> Path:
    dest = tmp_path / "day"
    shutil.copytree(day, dest)
    cfg = dest / "obskit.toml"
    if edit is not None:
        cfg.write_text(edit(cfg.read_text()))  # type: ignore[operator]
    return cfg


def _summary(cfg: Path, tmp_path: Path, **kw: str) -> tuple[ReportContext, dict[str, object]]:
    out = tmp_path / "out"
    rep = open_report(str(cfg), output_dir=str(out), **kw)
    for fn in HEALTH:
        fn(rep)
    rep.finish()
    return rep, json.loads((out / "summary.json").read_text())


def test_a_missing_configured_prometheus_file_is_degraded(day: Path, tmp_path: Path) -> None:
    cfg = _copy(day, tmp_path, lambda t: t.replace("prometheus/query_range.json", "prometheus/gone.json"))
    text = cfg.read_text()
    cfg.write_text(text.replace('[sources.prometheus]', '[sources.prometheus]\n# the saved responses moved'))
    rep, summary = _summary(cfg, tmp_path)  # no section reads the metrics: finishing loads every source
    assert summary["status"] == "degraded"
    assert any("gone.json" in str(r) for r in summary["reasons"])  # type: ignore[union-attr]
    assert run_status(rep).status == "degraded"


def test_every_row_rejected_is_no_data_with_the_count(day: Path, tmp_path: Path) -> None:
    cfg = _copy(day, tmp_path, lambda t: t.replace('timestamp_format = "iso8601"', 'timestamp_format = "ms"'))
    _rep, summary = _summary(cfg, tmp_path)
    assert summary["status"] == "no_data"
    assert summary["rejected_records"] == 10_000
    assert any("10,000 rows rejected" in str(r) for r in summary["reasons"])  # type: ignore[union-attr]


def test_an_slo_breach_without_alert_rules_is_not_ok(day: Path, tmp_path: Path) -> None:
    def edit(text: str) -> str:
        text = "alerts = []\n" + text.split("[[alerts]]")[0]  # no rules at all (without the key: the defaults)
        return text.replace("latency_ms = 120", "latency_ms = 20")

    _rep, summary = _summary(_copy(day, tmp_path, edit), tmp_path)
    assert summary["status"] == "slo_breached"
    assert any(str(r).startswith("latency p99") and "> SLO 20 ms" in str(r)
               for r in summary["reasons"])  # type: ignore[union-attr]
    sections = {s["title"]: s for s in summary["figures"]["sections"]}  # type: ignore[index]
    assert sections["Alerts"]["status"] == "skipped" and sections["Alerts"]["reason"] == "no alert rules"


def test_a_model_that_matches_nothing_is_no_data(day: Path, tmp_path: Path) -> None:
    _rep, summary = _summary(_copy(day, tmp_path), tmp_path, model="no-such-model")
    assert summary["status"] == "no_data"


def test_drift_report_opens_with_its_verdict_and_writes_drift_figures(day: Path, tmp_path: Path) -> None:
    rep = open_report(str(day / "obskit.toml"), output_dir=str(tmp_path))
    sec = drift.verdict(rep)
    assert sec.status == "warning" and sec.flags == {"drift"}  # the sample injects a brightness shift
    assert sec.notes[0] == "Drifted: brightness (a material shift: act on it)."  # the one verdict comes first
    assert any(n.startswith("Evidently-compatible tests:") for n in sec.notes)
    assert any(n.startswith("Domain classifier: AUC") for n in sec.notes)
    assert not any("DatasetDrift(" in n or "object at 0x" in n for n in sec.notes)  # no Python reprs
    rep.finish()
    figures = json.loads((tmp_path / "summary.json").read_text())["figures"]
    assert figures["features_drifted"] == ["brightness"] and figures["drift_verdict"] == "drift"
    assert figures["features_drifted_evidently"] == ["brightness"]
    lo, hi = figures["domain_classifier_auc_ci"]
    assert lo <= figures["domain_classifier_auc"] <= hi
    assert figures["prediction_drift"]["method"]


def test_cli_exit_4_when_every_row_is_rejected(day: Path, tmp_path: Path) -> None:
    cfg = _copy(day, tmp_path, lambda t: t.replace('timestamp_format = "iso8601"', 'timestamp_format = "ms"'))
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "report", "--config", str(cfg), "--out",
                        str(tmp_path / "r")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "(no data" in r.stdout
    page = next((tmp_path / "r").glob("*/health.html")).read_text()
    assert "no data" in page and "Rejected records: <b>10,000</b>" in page
