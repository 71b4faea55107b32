"""Exported rules and dashboards use only the config's [promql] mapping: never another stack's metric names."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from obskit.cli import main
from obskit.config import load_config
from obskit.dashboards import dashboard_json, skipped_panels
from obskit.promql_map import PromqlMapping, parse_promql
from tests.conftest import require_binary

ERRORS = ("sum by ({by}) (rate(http_requests_errors_total[{window}]))"
          " / sum by ({by}) (rate(http_requests_total[{window}]))")

RULES = """
[[alerts]]
name = "errors"
signal = "error_rate"
comparison = ">"
threshold = 0.02
window = "10m"
for = "2m"
by = ["model"]
summary = "error rate {value:.1%} on {model}"

[[alerts]]
name = "slow"
signal = "latency_p99_ms"
comparison = ">"
threshold = 250

[[alerts]]
name = "gpu-busy"
signal = "gpu_utilization_pct"
comparison = ">"
threshold = 95

[[alerts]]
name = "drift"
signal = "feature_shift"
comparison = ">"
threshold = 0.2
"""


def _config(tmp_path: Path, promql: str) -> Path:
    path = tmp_path / "obskit.toml"
    path.write_text('[project]\nname = "own-metrics"\n' + promql + RULES, encoding="utf-8")
    return path


OWN = f"[promql.signals.error_rate]\nquery = '{ERRORS}'\nlabels = {{ model = \"service\" }}\n"


def test_only_error_rate_mapped_exports_only_error_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rules.yml"
    assert main(["alerts", "export", "--config", str(_config(tmp_path, OWN)), "-o", str(out)]) == 0
    text = out.read_text()
    err = capsys.readouterr().err.splitlines()
    assert "nv_" not in text and "inference_request_duration" not in text
    assert 'record: "obskit:error_rate:by_service:10m"' in text
    assert ('expr: "sum by (service) (rate(http_requests_errors_total[10m]))'
            ' / sum by (service) (rate(http_requests_total[10m]))"') in text
    assert 'expr: "obskit:error_rate:by_service:10m > 0.02"' in text
    assert text.count("- alert:") == 1 and text.count("- record:") == 1
    # one stderr line per skipped rule, saying why and what to add
    assert len(err) == 3, err
    by_rule = {line.split(": ")[2]: line for line in err}
    assert set(by_rule) == {"slow", "gpu-busy", "drift"}
    assert "signal 'latency_p99_ms' is not mapped" in by_rule["slow"]
    assert '[promql.signals.latency_p99_ms]' in by_rule["slow"] and 'preset = "triton"' in by_rule["slow"]
    assert '[promql] preset = "triton" or [promql] preset = "dcgm"' in by_rule["gpu-busy"]
    assert "signal 'feature_shift' has no PromQL equivalent" in by_rule["drift"]
    assert "#   slow: signal 'latency_p99_ms' is not mapped" in text
    promtool = require_binary("promtool")
    check = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 2 rules found" in check.stdout


def test_only_error_rate_mapped_dashboard_has_only_its_panel(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, OWN)
    out = tmp_path / "dashboard.json"
    assert main(["dashboards", "export", "--config", str(cfg), "-o", str(out)]) == 0
    text = out.read_text()
    assert "nv_" not in text and "inference_request_duration" not in text
    panels = [p for p in json.loads(text)["panels"] if p["type"] != "row"]
    assert [(p["title"], p["targets"][0]["expr"]) for p in panels] == [
        ("Error rate", "sum (rate(http_requests_errors_total[$__rate_interval]))"
                       " / sum (rate(http_requests_total[$__rate_interval]))")]
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[2] for line in err] == [
        "Requests per second", "Latency p50", "Latency p99", "GPU utilization", "GPU memory used"]
    assert all(line.startswith("obskit: no panel: ") and "is not mapped" in line for line in err)
    assert [s["signal"] for s in skipped_panels(load_config(cfg))] == [
        "request_rate", "latency_p50_ms", "latency_p99_ms", "gpu_utilization_pct", "gpu_memory_used_share"]


def test_a_config_without_promql_exports_no_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, "")
    out = tmp_path / "rules.yml"
    assert main(["alerts", "export", "--config", str(cfg), "-o", str(out)]) == 0
    text = out.read_text()
    assert "nv_" not in text and "inference_request" not in text and "rules: []" in text
    err = capsys.readouterr().err
    assert err.count("obskit: not exported: ") == 4 and "presets: none" in err
    board = dashboard_json(load_config(cfg))
    assert "nv_" not in json.dumps(board)
    assert board.get("panels", []) == []
    promtool = require_binary("promtool")
    check = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_named_presets_still_apply(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, '[promql]\npreset = "triton"\n' + OWN))
    assert cfg.promql.presets == ("triton",)
    assert cfg.promql.query("error_rate").query == ERRORS  # type: ignore[union-attr]
    assert "nv_inference_request_success" in cfg.promql.render("request_rate", by=(), window="5m")
    dcgm = parse_promql({"preset": ["dcgm"]})
    assert sorted(dcgm.signals) == ["gpu_memory_used_share", "gpu_utilization_pct"]


@pytest.mark.parametrize("table", [None, {}, {"labels": {"model_version": "version"}}, {"preset": "none"}])
def test_no_preset_is_implied(table: object) -> None:
    m = parse_promql(table)
    assert m.signals == {} and m.presets == ()
    assert PromqlMapping().signals == {}


def test_the_sample_config_names_the_triton_preset(samples_dir: Path) -> None:
    cfg = load_config(samples_dir / "obskit.toml")
    assert cfg.promql.presets == ("triton",)
    assert skipped_panels(cfg) == []


@pytest.mark.parametrize("args", [
    ["check"], ["alerts", "check"], ["alerts", "export"], ["dashboards", "export"],
    ["report", "--notebook", "drift_report"], ["schedule"],
])
def test_every_command_needing_a_config_looks_it_up_the_same_way(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """No silent fallback to the sample day (even in a source checkout), one line naming where it looked."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OBSKIT_CONFIG", raising=False)
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"obskit: error: no config: no obskit.toml in {tmp_path} and $OBSKIT_CONFIG is not set "
                            "(pass --config FILE; `obskit sample --out day` writes a sample one)\n")
    monkeypatch.setenv("OBSKIT_CONFIG", str(tmp_path / "gone.toml"))
    assert main(args) == 2
    assert capsys.readouterr().err == (f"obskit: error: no config: $OBSKIT_CONFIG names {tmp_path / 'gone.toml'}, "
                                       "which is not a file (pass --config FILE, or fix the variable)\n")


def test_the_lookup_order(tmp_path: Path, samples_dir: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    from obskit.report.notebooks import default_config, find_config

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OBSKIT_CONFIG", str(samples_dir / "obskit.toml"))
    assert find_config() == samples_dir / "obskit.toml"
    assert main(["alerts", "check"]) == 0
    assert str(samples_dir / "obskit.toml") in capsys.readouterr().out
    _config(tmp_path, OWN)  # ./obskit.toml wins over the variable
    assert find_config() == Path("obskit.toml")
    assert find_config(tmp_path / "x.toml") == tmp_path / "x.toml"  # given: as is
    monkeypatch.delenv("OBSKIT_CONFIG")
    (tmp_path / "obskit.toml").unlink()
    # notebooks opened in a source checkout still fall back to the sample day
    assert default_config() == (samples_dir / "obskit.toml").resolve()


@pytest.mark.parametrize(("alerts", "expected"), [("", "defaults"), ("alerts = []\n", "none"), (RULES, "own")],
                         ids=["no-key", "empty-list", "own-rules"])
def test_a_config_without_alert_rules_is_watched_by_the_defaults(alerts: str, expected: str, tmp_path: Path) -> None:
    """No `alerts` key: the default rules (a hand-written config is watched like a generated one);
    `alerts = []`: none; rules of its own: exactly those."""
    from obskit.alerts.defaults import default_rules

    path = tmp_path / "obskit.toml"
    head = alerts if expected == "none" else ""
    tail = alerts if expected == "own" else ""
    path.write_text(head + '[project]\nname = "hand-written"\n' + tail, encoding="utf-8")
    names = [r.name for r in load_config(path).alerts]
    want = {"defaults": [r.name for r in default_rules()], "none": [], "own": ["errors", "slow", "gpu-busy", "drift"]}
    assert names == want[expected]
