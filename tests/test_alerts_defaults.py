"""The default rules: the sample day fires for exactly its incidents, library days are detected, clean days stay silent.

The full library is scored by ``python -m benchmarks.detection``; here a representative few
days run in-process (one per family of signals) so the suite stays fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.detection import backtest, score_day
from obskit.alerts import default_rules
from obskit.alerts.export import prometheus_export
from obskit.sample import generate
from obskit.sample.library import CLEAN_DAYS, INCIDENT_DAYS
from obskit.sample.scenario import DAY


def test_sample_day_fires_for_exactly_its_incidents(samples_dir: Path) -> None:
    run = backtest(samples_dir)
    truth = json.loads((samples_dir / "incidents.json").read_text())
    scores = score_day("sample", run, truth)
    assert all(s.detected for s in scores), [(s.kind, s.detected) for s in scores]
    assert [f for s in scores for f in s.false_alerts] == []
    # every fired alert carries the time its data was complete, never before the window it reads
    fired = run.fired
    assert fired["complete_at"].null_count() == 0
    assert (fired["complete_at"] >= fired["firing_at"]).all()
    by_kind = {s.kind: s for s in scores}
    assert by_kind["error_burst"].delay_min is not None and by_kind["error_burst"].delay_min <= 5
    assert "feature-drift" in by_kind["feature_shift"].rules


@pytest.fixture(scope="module")
def clean_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean-day")
    generate(out, seed=42, clean=True, reference_rows=20_000)
    return out


def test_clean_day_never_fires(clean_folder: Path) -> None:
    run = backtest(clean_folder)
    assert run.fired.height == 0, run.fired
    skipped = {s["rule"] for s in run.skipped}
    assert skipped <= {"slow-canary", "slow-canary-tail", "version-errors"}  # one version all day: nothing to compare


# one day per family: absence, silent model failure, hardware, a blip that must not page,
# labels, and a quiet clean day
LIBRARY_SAMPLE = ["outage", "prediction-collapse", "gpu-throttle", "error-blip", "late-labels", "clean-low-volume"]


@pytest.mark.parametrize("name", LIBRARY_SAMPLE)
def test_library_days(name: str, tmp_path: Path) -> None:
    generate(tmp_path, scenario=name, requests=100_000, reference_rows=20_000)
    truth = json.loads((tmp_path / "incidents.json").read_text())
    scores = score_day(name, backtest(tmp_path), truth)
    assert [f for s in scores for f in s.false_alerts] == []
    for s in scores:
        if s.expect == "alert":
            assert s.detected, name
            assert s.delay_min is not None
            assert s.delay_min <= (10 if s.category == "operational" else 120), (name, s.delay_min)


def test_library_catalogue_and_cli(tmp_path: Path) -> None:
    kinds = {i.kind for d in INCIDENT_DAYS.values() for i in d.build(DAY).incidents}
    assert len(kinds) >= 15 and len(CLEAN_DAYS) >= 10
    out = subprocess.run([sys.executable, "-m", "obskit.cli", "sample", "--list"], capture_output=True, text=True,
                         check=True).stdout
    assert "outage" in out and "clean-weekend" in out and "must not page" in out
    bad = subprocess.run([sys.executable, "-m", "obskit.cli", "sample", "--out", str(tmp_path), "--scenario", "nope"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown scenario 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_default_rules_are_documented_and_exportable() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rules = default_rules()
    for r in rules:
        assert f"`{r.name}`" in readme, f"README does not explain the default rule {r.name}"
    export = prometheus_export(rules)
    # rules on obskit-only signals (baselines, model output) are listed as skipped, never silently dropped
    assert len(export.exported) + len(export.skipped) == len(rules)


TRAFFIC_ANOMALY = {"name": "traffic-anomaly", "signal": "request_rate", "anomaly": "ensemble", "comparison": ">=",
                   "threshold": 0.99999, "window": "5m", "interval": "1m", "severity": "ticket"}


def test_an_anomaly_rule_adds_no_false_alert(samples_dir: Path, clean_folder: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """The README's opt-in anomaly rule on request rate: silent on the clean day and beside the sample's incidents."""
    import benchmarks.detection as det
    from obskit.alerts import defaults
    from obskit.alerts.rules import parse_rules

    extra = parse_rules([TRAFFIC_ANOMALY])
    monkeypatch.setattr("obskit.alerts.default_rules", lambda: [*defaults.default_rules(), *extra])
    clean = det.backtest(clean_folder)
    assert clean.fired.height == 0
    sample = det.backtest(samples_dir)
    truth = json.loads((samples_dir / "incidents.json").read_text())
    assert [f for s in score_day("sample", sample, truth) for f in s.false_alerts] == []
