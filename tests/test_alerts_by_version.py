"""Rules split by model version on window_stats' counts: evaluated in memory and from the counts alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from obskit.alerts import parse_rules
from obskit.alerts.count_state import count_signal_frames, count_state
from obskit.alerts.engine import evaluate
from obskit.alerts.inputs import signal_frames

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _requests() -> pl.DataFrame:
    """Six hours, 20 requests a minute, two versions; v2 fails every other request from 03:00 to 04:00."""
    rng = np.random.default_rng(7)
    n = 6 * 60 * 20
    t = [T0 + timedelta(seconds=3 * i) for i in range(n)]
    version = np.where(np.arange(n) % 4 == 0, "v2", "v1")
    hour = np.array([x.hour for x in t])
    fail = (version == "v2") & (hour == 3) & (rng.random(n) < 0.5)
    return pl.DataFrame({"timestamp": t, "model_version": version, "latency_ms": rng.gamma(4, 5, n),
                         "status": np.where(fail, "error", "ok")}).with_columns(
        pl.col("timestamp").cast(pl.Datetime("us", "UTC")))


RULES = [{"name": "errors-by-version", "signal": "error_rate", "comparison": ">", "threshold": 0.05,
          "window": "5m", "for": "2m", "by": ["model_version"]},
         {"name": "traffic-by-version", "signal": "request_rate", "comparison": "<", "threshold": 0.01,
          "window": "5m", "by": ["model_version"]},
         {"name": "p99-by-version", "signal": "latency_p99_ms", "comparison": ">", "threshold": 1e6,
          "window": "5m", "by": ["model_version"]}]


@pytest.mark.parametrize("source", ["rows", "counts"])
def test_error_rate_by_version_fires_for_the_failing_version_only(source: str) -> None:
    req = _requests()
    frames = (signal_frames(req) if source == "rows"
              else count_signal_frames(count_state(req.lazy())))
    run = evaluate(parse_rules(RULES), frames)
    fired = run.fired.filter(pl.col("rule") == "errors-by-version")
    assert fired["labels"].to_list() == ['{"model_version": "v2"}']
    assert fired["pending_at"][0] - T0 <= timedelta(hours=3, minutes=5)
    assert timedelta(hours=4) <= fired["resolved_at"][0] - T0 <= timedelta(hours=4, minutes=10)
    assert run.fired.filter(pl.col("rule") == "traffic-by-version").height == 0  # both serve throughout
    # a latency quantile has no per-version frame: skipped, saying which column it lacks
    (skip,) = [s for s in run.skipped if s["rule"] == "p99-by-version"]
    assert "model_version" in skip["reason"]


def test_the_two_sources_give_the_same_episodes() -> None:
    req = _requests()
    rules = parse_rules(RULES[:2])
    cols = ["rule", "labels", "pending_at", "firing_at", "resolved_at"]
    a = evaluate(rules, signal_frames(req)).fired.select(cols)
    b = evaluate(rules, count_signal_frames(count_state(req.lazy()))).fired.select(cols)
    assert a.height and a.equals(b)


P99_BY_VERSION = ('\n[[alerts]]\nname = "p99-by-version"\nsignal = "latency_p99_ms"\ncomparison = ">"\n'
                  'threshold = 1e6\nwindow = "5m"\nby = ["model_version"]\n')


def test_a_rule_the_logs_cannot_split_is_named_by_check_and_never_ok_on_the_page(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from obskit.cli import main
    from obskit.report import health
    from obskit.report.section import open_report
    from obskit.sample import generate

    generate(tmp_path, requests=8_000, seed=3, reference_rows=1_000, clean=True)
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(cfg.read_text() + P99_BY_VERSION)
    assert main(["alerts", "check", "--config", str(cfg)]) == 0  # it still exports: Prometheus can split it
    err = capsys.readouterr().err
    assert "p99-by-version: by 'model_version' is not backtested" in err
    sec = health.alerts(open_report(str(cfg), output_dir=str(tmp_path / "out")))
    assert sec.status == "warning" and "p99-by-version" in sec.reason
