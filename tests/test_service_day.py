"""A service with its own log format, read with config only, tells the truth on every page.

A scikit-learn-like service logs nested JSONL: epoch-second ``ts``, ``latency_s``, a ``probs``
list, its own field names; its training set (124 rows) has its own column names too. For 4
minutes two inputs shift, for 4 minutes the server is 60 ms slower. From the raw files and a
config (units, probabilities, column maps) only, the pages must give exact counts and
percentiles, name the drifted features, when they started and the slowdown, and list no false
problem.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from obskit.alerts.defaults import DEFAULT_RULES_TOML
from obskit.report import drift, health
from obskit.report.section import open_report

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z
FEATURES = {"alcohol": (13.0, 0.8), "malic_acid": (2.3, 1.1), "ash": (2.4, 0.27), "color_intensity": (5.0, 2.3),
            "hue": (0.96, 0.23), "proline": (750.0, 315.0)}
CONFIG = """
[project]
name = "wine service"
model = "wine"

[sources.requests]
path = "requests.jsonl"
timestamp_format = "s"
latency_unit = "s"
status_convention = "http"
class_names = ["class_0", "class_1", "class_2"]
columns = { timestamp = "ts", latency_ms = "latency_s", request_id = "req.id", model = "req.model", \
model_version = "req.version", status_code = "code", confidence = "probs", %s }

[sources.reference]
path = "reference.parquet"
columns = { %s }

[features]
numeric = [%s]

[slo]
latency_ms = 50
latency_quantile = 0.99
availability = 0.98
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    out = tmp_path_factory.mktemp("service")
    rng = np.random.default_rng(1)
    rows: list[dict[str, object]] = []
    for i in range(9000):  # 10 requests a second for 15 minutes
        minute = i * 0.1 / 60
        x = {f: float(rng.normal(mu, sd)) for f, (mu, sd) in FEATURES.items()}
        if 5 <= minute < 9:
            x["alcohol"] += 2.5
            x["color_intensity"] += 5.0
        error = bool(rng.random() < 0.01)
        probs = rng.dirichlet([8, 2, 1])
        rows.append({"ts": T0 + i * 0.1, "req": {"id": f"r{i}", "model": "wine", "version": "v3"},
                     "latency_s": float(rng.gamma(4, 0.004)) + (0.06 if 10 <= minute < 14 else 0.0),
                     "code": 500 if error else 200, "input": x,
                     "probs": None if error else [float(p) for p in probs]})
    (out / "requests.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pl.DataFrame({f"feat_{f}": rng.normal(mu, sd, 124) for f, (mu, sd) in FEATURES.items()}).write_parquet(
        out / "reference.parquet")
    mapped = ", ".join(f'{f} = "input.{f}"' for f in FEATURES)
    ref_map = ", ".join(f'{f} = "feat_{f}"' for f in FEATURES)
    names = ", ".join(f'"{f}"' for f in FEATURES)
    (out / "obskit.toml").write_text(CONFIG % (mapped, ref_map, names) + "\n" + DEFAULT_RULES_TOML)
    return out, rows


def test_counts_percentiles_drift_and_slowdown_are_all_named(service: tuple[Path, list[dict[str, object]]],
                                                             tmp_path: Path) -> None:
    folder, rows = service
    rep = open_report(str(folder / "obskit.toml"), output_dir=str(tmp_path))
    assert rep.window == "1m"  # a 15-minute capture gets minute windows
    for fn in (health.alerts, health.summary, health.traffic, health.latency, health.errors, health.drift,
               health.business):
        fn(rep)
    started = drift.over_time(rep)
    rep.finish()
    summary = json.loads((tmp_path / "summary.json").read_text())
    figures = summary["figures"]
    # exact counts and percentiles against an independent computation on the raw rows
    latency_ms = np.array([float(r["latency_s"]) * 1000 for r in rows])  # type: ignore[arg-type]
    assert figures["requests"] == 9000 and summary["rejected_records"] == 0
    assert figures["errors"] == sum(r["code"] == 500 for r in rows)
    assert figures["p50_ms"] == pytest.approx(float(np.quantile(latency_ms, 0.5)), rel=1e-9)
    assert figures["p99_ms"] == pytest.approx(float(np.quantile(latency_ms, 0.99)), rel=1e-9)
    # the confidence is each answer's largest probability, the prediction its class name
    answered = [r for r in rows if r["probs"] is not None]
    confident = sum(max(r["probs"]) >= 0.8 for r in answered)  # type: ignore[arg-type]
    assert figures["confident_rate"] == pytest.approx(confident / len(answered))
    # the inputs that moved, and when
    assert figures["drifted_features"] == ["alcohol", "color_intensity"]
    assert figures["drift_started"] == {"alcohol": "2025-11-24T16:05:00+00:00",
                                        "color_intensity": "2025-11-24T16:05:00+00:00"}
    assert any("drifting since 2025-11-24 16:05" in n for n in started.notes)
    # the slowdown: the SLO breach and the p99 rule, firing while it lasts
    assert "slo_breached" in summary["flags"] and "alerting" in summary["flags"]
    fired = json.loads((tmp_path / "alerts.json").read_text())["alerts"]
    p99 = [a for a in fired if a["rule"] == "p99-latency-slo"]
    assert p99 and datetime(2025, 11, 24, 16, 10, tzinfo=UTC).isoformat() <= p99[0]["firing_at"].replace(
        "Z", "+00:00") <= datetime(2025, 11, 24, 16, 14, tzinfo=UTC).isoformat()
    # a 124-row reference is too small for the default PSI rule: said, with both sizes
    assert any("the reference has 124 values of alcohol" in n for n in figures["rule_noise"])
    assert summary["problems"] == []  # nothing configured failed, nothing is missing
