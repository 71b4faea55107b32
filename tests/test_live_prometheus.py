"""A real Prometheus on loopback, metric names that are not Triton's: panels, reports, dashboards, rules.

The server holds exact synthetic history (``obskit_requests_total`` counters, the
``obskit_latency_seconds`` histogram) and scrapes a live ``prometheus_client`` exporter; see
:mod:`tests.prometheus_server`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from obskit.config import load_config
from obskit.dashboards import dashboard_json, load_dashboard
from obskit.panels import choose_step
from obskit.report import health, run_report
from obskit.report.section import open_report
from tests.conftest import require_binary
from tests.prometheus_server import PrometheusServer, free_port, running_prometheus

pytestmark = pytest.mark.prometheus

RATE = "sum by (model) (rate(obskit_requests_total[5m]))"
P99 = 'histogram_quantile(0.99, sum by (le, model) (rate(obskit_latency_seconds_bucket{route="/infer"}[5m])))'
TOKEN = "tok-S3cret-value-123"


@pytest.fixture(scope="module")
def prom() -> Iterator[PrometheusServer]:
    with running_prometheus() as server:
        yield server


def _config(tmp: Path, url: str) -> Path:
    cfg = tmp / "obskit.toml"
    cfg.write_text(f'''[project]
name = "non-triton service"

[sources.prometheus]
url = "{url}"
token_env = "OBSKIT_TEST_PROM_TOKEN"

[[panels]]
title = "Requests per second by model"
query = "{RATE}"
unit = "req/s"

[[panels]]
title = "p99 latency of /infer"
query = {json.dumps(P99)}
unit = "s"
threshold = 1.0
legend = "{{{{model}}}}"

[promql]
preset = "none"
[promql.signals.request_rate]
query = "sum by ({{by}}) (rate(obskit_requests_total[{{window}}]))"
labels = {{ model = "model" }}

[[alerts]]
name = "traffic-high"
signal = "request_rate"
comparison = ">"
threshold = 100
window = "5m"
by = ["model"]
summary = "{{model}} at {{value:.0f}} req/s"
''')
    return cfg


def _period(prom: PrometheusServer) -> tuple[str, str]:
    start = datetime.fromtimestamp(prom.base_s + 600, UTC)
    end = datetime.fromtimestamp(prom.base_s + 1800, UTC)
    return start.isoformat(), end.isoformat()


def test_metrics_section_equals_the_servers_own_query_range(prom: PrometheusServer, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSKIT_TEST_PROM_TOKEN", TOKEN)
    start, end = _period(prom)
    rep = open_report(str(_config(tmp_path, prom.url)), start=start, end=end)
    sec = health.metrics(rep)
    assert sec.status == "ok", sec.reason
    assert len(sec.charts) == 2
    step = choose_step(datetime.fromisoformat(end) - datetime.fromisoformat(start))
    for title, query in (("Requests per second by model", RATE), ("p99 latency of /infer", P99)):
        ours = sec.frames[title]
        theirs = prom.raw("/api/v1/query_range", query=query, start=str(prom.base_s + 600),
                          end=str(prom.base_s + 1800), step=step)["data"]["result"]
        expected = {(r["metric"].get("model"), int(float(t))): float(v) for r in theirs for t, v in r["values"]}
        got = {(s.split("=")[-1], int(ts.timestamp())): v
               for s, ts, v in ours.select("series", "window_start", "value").iter_rows()}
        assert len(expected) > 100 and got.keys() == expected.keys()
        assert all(got[k] == expected[k] or (got[k] != got[k] and expected[k] != expected[k]) for k in expected)
    listed = rep.figures["panels"]
    assert [p["title"] for p in listed] == ["Requests per second by model", "p99 latency of /infer"]
    assert TOKEN not in json.dumps(listed, default=str)


def test_the_report_has_a_metrics_section_and_says_why_when_the_server_is_down(
        prom: PrometheusServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start, end = _period(prom)
    env = {"OBSKIT_TEST_PROM_TOKEN": TOKEN, "OBSKIT_PROGRESS": "0"}
    import os

    monkeypatch.setenv("OBSKIT_TEST_PROM_TOKEN", TOKEN)
    live = run_report(_config(tmp_path, prom.url), out=tmp_path / "r", start=start, end=end)
    assert live.status == "ok"
    page = live.html.read_text()
    assert page.count('class="obskit-chart-spec"') >= 2
    assert "Requests per second by model" in page and "p99 latency of /infer" in page
    summary = json.loads(live.summary.read_text())
    assert [p["title"] for p in summary["figures"]["panels"]] == ["Requests per second by model",
                                                                  "p99 latency of /infer"]
    assert TOKEN not in page and TOKEN not in live.summary.read_text()

    dead = tmp_path / "dead"
    dead.mkdir()
    cfg = _config(dead, f"http://127.0.0.1:{free_port()}")
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "report", "--config", str(cfg), "--out",
                        str(dead / "r"), "--start", start, "--end", end], capture_output=True, text=True,
                       timeout=600, env={**os.environ, **env})
    assert r.returncode == 4, r.stdout + r.stderr
    page = next((dead / "r").glob("*/health.html")).read_text()
    assert "Degraded run" in page and "refused" in page.lower()
    assert TOKEN not in page + r.stdout + r.stderr


def test_dashboard_export_round_trips_with_one_panel_per_entry(prom: PrometheusServer, tmp_path: Path) -> None:
    out = tmp_path / "dashboard.json"
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "dashboards", "export", "--config",
                        str(_config(tmp_path, prom.url)), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    model = load_dashboard(data)
    rows = [p for p in data["panels"] if p["type"] == "row"]
    panels = [p for p in data["panels"] if p["type"] == "timeseries"]
    assert [p["title"] for p in rows] == ["Serving signals", "Panels"]
    assert [p["targets"][0]["expr"] for p in panels][-2:] == [RATE, P99]
    assert panels[0]["targets"][0]["expr"] == "sum (rate(obskit_requests_total[$__rate_interval]))"
    assert len(model.panels) == len(data["panels"])
    again = json.loads(json.dumps(dashboard_json(load_config(_config(tmp_path, prom.url)))))
    assert again == data
    watched = dashboard_json(load_config(_config(tmp_path, prom.url)), watch=True)
    assert [p["title"] for p in watched["panels"] if p["type"] == "row"] == ["Serving signals", "obskit watch",
                                                                             "Panels"]
    panels += [p for p in watched["panels"] if p["type"] == "timeseries" and p["title"].startswith("obskit")]
    # every query is valid PromQL on the real server
    for p in panels:
        expr = p["targets"][0]["expr"].replace("$__rate_interval", "5m")
        body = prom.raw("/api/v1/query", query=expr, time=str(prom.base_s + 1200))
        assert body["status"] == "success"


def test_rules_export_uses_the_configured_mapping(prom: PrometheusServer, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    out = tmp_path / "rules.yml"
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "alerts", "export", "--config",
                        str(_config(tmp_path, prom.url)), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "nv_inference" not in text and "sum by (model) (rate(obskit_requests_total[5m]))" in text
    check = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    body = prom.raw("/api/v1/query", query="sum by (model) (rate(obskit_requests_total[5m]))",
                    time=str(prom.base_s + 1200))
    assert {r["metric"]["model"] for r in body["data"]["result"]} == {"a", "b", "c"}


def test_a_bad_panel_query_does_not_blank_the_others(prom: PrometheusServer, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSKIT_TEST_PROM_TOKEN", TOKEN)
    cfg = _config(tmp_path, prom.url)
    broken = '[[panels]]\ntitle = "broken"\nquery = "rate(foo[5m]"\n\n[[panels]]'
    text = cfg.read_text().replace("[[panels]]", broken, 1)
    cfg.write_text(text)
    start, end = _period(prom)
    rep = open_report(str(cfg), start=start, end=end)
    sec = health.metrics(rep)
    assert sec.status == "warning"
    assert {p.source for p in rep.session.problems} == {"panel broken"}
    assert sec.frames["Requests per second by model"].height > 0 and sec.frames["p99 latency of /infer"].height > 0


def test_alert_rules_on_panel_queries(prom: PrometheusServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any [[panels]] query is an alert signal: ``signal = "panel"`` with ``match`` picking the panel."""
    from obskit.session import Session

    monkeypatch.setenv("OBSKIT_TEST_PROM_TOKEN", TOKEN)
    start, end = _period(prom)
    cfg = _config(tmp_path, prom.url)
    cfg.write_text(cfg.read_text() + """
[[alerts]]
name = "p99-panel"
signal = "panel"
match = { panel = "p99 latency of /infer" }
comparison = ">"
threshold = 0
window = "1m"
summary = "{panel} {series}: {value:.3f} s"

[[alerts]]
name = "panel-anomaly"
signal = "panel"
match = { panel = "Requests per second by model" }
anomaly = "ensemble"
comparison = ">="
threshold = 0.99999
window = "1m"

[[alerts]]
name = "no-such-panel"
signal = "panel"
match = { panel = "missing" }
comparison = ">"
threshold = 0
""")
    session = Session.open(str(cfg), start=start, end=end)
    run = session.alerts()
    assert run is not None
    fired = run.fired.filter(pl.col("rule") == "p99-panel")
    assert fired.height >= 1
    labels = json.loads(fired["labels"][0])
    assert labels["panel"] == "p99 latency of /infer" and labels["series"]
    assert "p99 latency of /infer" in fired["summary"][0]
    assert {"rule": "no-such-panel", "reason": "no data in the frame for this signal"} in run.skipped
    assert "panel-anomaly" not in {s["rule"] for s in run.skipped}
