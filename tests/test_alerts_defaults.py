"""The default rules catch every incident of the sample day and stay silent on the clean day."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from obskit.alerts import AlertRun, default_rules, evaluate
from obskit.alerts.inputs import signal_frames
from obskit.config import load_config
from obskit.load.gpu import load_nvidia_smi
from obskit.load.logs import attach_feedback, load_feedback, load_reference, load_requests
from obskit.sample import generate


def _backtest(folder: Path) -> AlertRun:
    cfg = load_config(folder / "obskit.toml")
    assert cfg.requests and cfg.feedback and cfg.reference
    df = load_requests(cfg.requests.path, columns=cfg.requests.columns)
    df = attach_feedback(df, load_feedback(cfg.feedback.path, columns=cfg.feedback.columns))
    gpu_src = cfg.source("gpu")
    assert gpu_src is not None and gpu_src.path is not None
    frames = signal_frames(df, reference=load_reference(cfg.reference.path), gpu=load_nvidia_smi(gpu_src.path),
                           features=cfg.features.all, confidence_threshold=cfg.business.confidence_threshold,
                           slo_ms=cfg.slo.latency_ms)
    return evaluate(default_rules(), frames)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_sample_day_incidents_fire(samples_dir: Path) -> None:
    run = _backtest(samples_dir)
    assert run.skipped == []
    incidents = {i["id"]: i for i in json.loads((samples_dir / "incidents.json").read_text())["incidents"]}
    fired = run.fired
    assert sorted(fired["rule"].to_list()) == sorted(r.name for r in default_rules())

    def window(rule: str) -> tuple[datetime, datetime | None]:
        [row] = fired.filter(pl.col("rule") == rule).iter_rows(named=True)
        return row["firing_at"], row["resolved_at"]

    def within(rule: str, incident: str, slack_min: int = 15, early_min: int = 0) -> None:
        """Fires no earlier than ``early_min`` before the incident and at most 5 minutes after its start."""
        start, end = _t(incidents[incident]["start"]), _t(incidents[incident]["end"])
        fire, resolved = window(rule)
        assert (start - fire).total_seconds() <= early_min * 60, (rule, fire)
        assert (fire - start).total_seconds() <= 5 * 60, (rule, fire)
        if resolved is not None:
            assert (resolved - end).total_seconds() <= slack_min * 60, (rule, resolved)

    within("high-error-rate", "error-burst")
    within("error-budget-fast-burn", "error-burst")
    within("p99-latency-slo", "gpu-memory-pressure")
    within("slow-canary", "canary-slow")
    within("gpu-memory-pressure", "gpu-memory-pressure", slack_min=5, early_min=5)  # memory ramps up first
    for rule in ("feature-drift", "high-correction-rate", "low-confident-rate"):
        fire, resolved = window(rule)
        assert fire == _t(incidents["brightness-shift"]["start"]) and resolved is None
    drift = fired.filter(pl.col("rule") == "feature-drift")
    assert json.loads(drift["labels"][0]) == {"feature": "brightness"}


@pytest.fixture(scope="module")
def clean_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean-day")
    generate(out, seed=42, clean=True, reference_rows=20_000)
    return out


def test_clean_day_never_fires(clean_folder: Path) -> None:
    run = _backtest(clean_folder)
    # one version all day: there is no canary to compare, so that rule has nothing to evaluate
    assert run.skipped == [{"rule": "slow-canary", "reason": "no data in the frame for this signal"}]
    assert run.fired.height == 0, run.fired
    assert run.episodes.height == 0, run.episodes  # not even pending
