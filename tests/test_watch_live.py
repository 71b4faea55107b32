"""The explorer following the present, host signals on the timeline, and the watcher's status and CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

CONFIG = """
[project]
name = "live"
model = "m"

[sources.requests]
path = "logs/*.jsonl"
status_convention = "http"

[sources.requests.columns]
status_code = "code"

[[alerts]]
name = "error-burst"
signal = "error_rate"
comparison = ">"
threshold = 0.05
window = "3m"
interval = "1m"
for = "1m"
min_samples = 100
"""

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _write(log: Path, minutes: range, *, errors: range = range(0), t0: datetime = T0) -> None:
    """200 requests a minute from ``t0``; in the ``errors`` minutes every fourth fails."""
    lines = []
    for m in minutes:
        for i in range(200):
            ts = t0 + timedelta(minutes=m, seconds=i * 0.3)
            lines.append(json.dumps({"timestamp": ts.isoformat(), "request_id": f"r{m}-{i}", "model": "m",
                                     "model_version": "v1", "latency_ms": 20.0 + i % 7,
                                     "code": 500 if m in errors and i % 4 == 0 else 200}))
    with log.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "requests.jsonl").touch()
    (tmp_path / "obskit.toml").write_text(CONFIG)
    return tmp_path


def test_the_live_explorer_refreshes_from_the_logs_and_lists_alerts_as_they_fire(project: Path) -> None:
    from obskit.explorer.live import LiveExplorer

    log = project / "logs" / "requests.jsonl"
    _write(log, range(0, 10))
    now = [T0 + timedelta(minutes=10, seconds=5)]
    live = LiveExplorer(project / "obskit.toml", last=timedelta(minutes=20), clock=lambda: now[0],
                        chart_backend="output")
    assert live.explorer is not None
    first = live.explorer.data.totals()[0]
    assert first == 2000  # every line read so far, the last minute too
    assert "error-burst" not in live.alerts.value
    _write(log, range(10, 20), errors=range(10, 20))
    now[0] = T0 + timedelta(minutes=20, seconds=5)
    live.refresh(now[0])
    assert live.explorer.data.totals()[0] > first
    assert "error-burst" in live.alerts.value and "data-state='firing'" in live.alerts.value
    assert "data-status='alerting'" in live.status.value
    tl = live.explorer.data.timeline()
    assert "host_cpu_pct" in tl.columns  # the local host sampled at each refresh, beside the requests
    live.stop()


def test_host_samples_become_timeline_columns() -> None:
    from obskit.analyze.timeline import one_timeline
    from obskit.load.host import host_frame

    req = pl.DataFrame({"timestamp": [T0, T0 + timedelta(minutes=5)], "latency_ms": [10.0, 12.0],
                        "status": ["ok", "ok"]})
    host = host_frame([{"timestamp": T0 + timedelta(minutes=1), "host": "a", "cpu_utilization_pct": 40.0,
                        "memory_used_share": 0.5},
                       {"timestamp": T0 + timedelta(minutes=2), "host": "b", "cpu_utilization_pct": 60.0,
                        "memory_used_share": 0.7}])
    tl = one_timeline(req, every="5m", host=host)
    assert tl.select("host_cpu_pct", "host_memory_share").row(0) == (50.0, pytest.approx(0.6))


def test_local_host_sampler_reads_proc(tmp_path: Path) -> None:
    from obskit.load.host import HostSampler

    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal: 1000 kB\nMemAvailable: 250 kB\n")
    (proc / "stat").write_text("cpu 100 0 100 800 0 0 0 0 0 0\n")
    s = HostSampler("h", proc=proc)
    assert s.sample() is None  # primes the counters
    (proc / "stat").write_text("cpu 175 0 175 850 0 0 0 0 0 0\n")  # 150 busy of 200
    row = s.sample(T0)
    assert row is not None
    assert (row["cpu_utilization_pct"], row["memory_used_share"]) == (75.0, 0.75)


def test_a_missing_log_makes_the_watcher_degraded_and_it_recovers(project: Path) -> None:
    from obskit.config import load_config
    from obskit.watch import Watcher, WatchOptions

    log = project / "logs" / "requests.jsonl"
    log.unlink()
    w = Watcher(load_config(project / "obskit.toml"), WatchOptions(host=False, nvml=False))
    tick = w.tick(T0)
    assert tick.status == "degraded" and "no log file matches" in tick.problems[0]
    status = json.loads((project / ".obskit" / "watch" / "status.json").read_text())
    assert status["status"] == "degraded"
    _write(log, range(0, 5))
    assert w.tick(T0 + timedelta(minutes=5, seconds=5)).status == "ok"
    assert w.collector.health["degraded"] == 0.0 and w.lines_total == 1000


def test_rejected_lines_are_counted_with_their_file_line(project: Path) -> None:
    from obskit.config import load_config
    from obskit.watch import Watcher, WatchOptions

    log = project / "logs" / "requests.jsonl"
    _write(log, range(0, 2))
    with log.open("a") as fh:
        fh.write('{"timestamp": "not a time", "request_id": "x", "model": "m", "model_version": "v1", '
                 '"latency_ms": 1, "code": 200}\n')
    w = Watcher(load_config(project / "obskit.toml"), WatchOptions(host=False, nvml=False))
    tick = w.tick(T0 + timedelta(minutes=3))
    assert (tick.lines, tick.rejected) == (401, 1)
    bad = w.tails[0][2].quarantine.frame()
    assert bad["line"].to_list() == [401] and bad["source"][0].endswith("requests.jsonl")


def test_cli_watch_once_and_a_config_it_cannot_follow(project: Path) -> None:
    _write(project / "logs" / "requests.jsonl", range(0, 3))
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "watch", "--config", str(project / "obskit.toml"),
                        "--once"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads((project / ".obskit" / "watch" / "status.json").read_text())["lines_total"] == 600
    parquet = project / "other.toml"
    parquet.write_text(CONFIG.replace('path = "logs/*.jsonl"', 'path = "day.parquet"'))
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "watch", "--config", str(parquet), "--once"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "JSONL or CSV" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_live_explorer_refreshes_in_a_kernel_that_stays_responsive(project: Path) -> None:
    """A real kernel: refreshes run on its event loop between cells, and cells still run."""
    jupyter_client = pytest.importorskip("jupyter_client")
    _write(project / "logs" / "requests.jsonl", range(0, 5))
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        def run(code: str) -> str:
            out: list[str] = []
            reply = kc.execute_interactive(textwrap.dedent(code), timeout=120,
                                           output_hook=lambda m: out.append(m["content"].get("text", "")))
            assert reply["content"]["status"] == "ok", reply["content"]
            return "".join(out)

        run(f"""
            import obskit
            live = obskit.explore({str(project / 'obskit.toml')!r}, live=True, last="10m", interval=0.3,
                                  chart_backend="output")
        """)
        counts = []
        for _ in range(6):
            counts.append(int(run("import time; time.sleep(0.4); print(live.refreshes)").strip()))
        assert counts[-1] > counts[0] >= 1  # refreshed by itself between cells
        run("live.stop()")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_local_gpus_are_sampled_through_nvml_and_served(project: Path) -> None:
    """NVML cannot exist here: the sampler's real code path runs on a fake of the pynvml module."""
    from obskit.config import load_config
    from obskit.watch import Watcher, WatchOptions
    from tests.fake_nvml import FakeGpu, FakeNvml

    _write(project / "logs" / "requests.jsonl", range(0, 3))
    w = Watcher(load_config(project / "obskit.toml"), WatchOptions(host=False, nvml=FakeNvml([FakeGpu()])))
    try:
        w.tick(T0 + timedelta(minutes=3))
        values = {m.name: m.value for m in w.collector.metrics}
        assert values["obskit_gpu_utilization_pct"] == 38.0
        assert values["obskit_gpu_memory_used_share"] == pytest.approx(575 / 81559)
        assert values["obskit_error_rate"] == 0.0
    finally:
        w.close()


def test_a_service_without_request_logs_is_watched_from_its_mapped_prometheus_signals(tmp_path: Path) -> None:
    """A real Prometheus: the serving signals mapped in [promql] become the rules' window stats."""
    from obskit.config import load_config
    from obskit.watch import Watcher, WatchOptions
    from tests.prometheus_server import running_prometheus

    rate = "sum by ({by}) (rate(obskit_requests_total[{window}]))"
    with running_prometheus() as prom:
        (tmp_path / "obskit.toml").write_text(f"""
[project]
name = "prometheus only"

[sources.prometheus]
url = "{prom.url}"

[promql]
preset = "none"
[promql.signals.request_rate]
query = "{rate}"

[[alerts]]
name = "traffic"
signal = "request_rate"
comparison = ">"
threshold = 0.5
window = "5m"
interval = "1m"
""")
        end = datetime.fromtimestamp(prom.base_s + 1800, UTC)
        w = Watcher(load_config(tmp_path / "obskit.toml"), WatchOptions(host=False, nvml=False),
                    clock=lambda: end)
        tick = w.tick()
        assert tick.status == "alerting" and tick.firing == ["traffic"], tick.problems
        assert tick.sent and tick.sent[0]["rule"] == "traffic"
        # the watcher's requests per second are Prometheus's own answer, minute by minute
        t = int((end - timedelta(minutes=10)).timestamp())
        body = prom.raw("/api/v1/query", query="sum(rate(obskit_requests_total[1m]))", time=str(t))
        theirs = float(body["data"]["result"][0]["value"][1])
        assert "obskit_request_rate" in {m.name for m in w.collector.metrics} and theirs > 0
        from obskit.panels import client_for
        from obskit.watch.mapped import mapped_window_stats

        ws = mapped_window_stats(client_for(w.config.sources_for("metrics")[0]), w.config.promql,
                                 end - timedelta(minutes=30), end)
        assert ws is not None
        row = ws.filter(pl.col("window_start") == datetime.fromtimestamp(t, UTC) - timedelta(minutes=1))
        assert row["rps"].item() == pytest.approx(theirs)


def test_a_growing_csv_log_keeps_its_header_for_later_lines(tmp_path: Path) -> None:
    from obskit.config import load_config
    from obskit.watch import Watcher, WatchOptions

    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "requests.csv"
    (tmp_path / "obskit.toml").write_text(CONFIG.replace("logs/*.jsonl", "logs/*.csv"))
    head = "timestamp,request_id,model,model_version,latency_ms,code\n"

    def rows(first: int, n: int) -> str:
        return "".join(f"{(T0 + timedelta(seconds=i)).isoformat()},r{i},m,v1,{10 + i % 5},200\n"
                       for i in range(first, first + n))

    log.write_text(head + rows(0, 50))
    w = Watcher(load_config(tmp_path / "obskit.toml"), WatchOptions(host=False, nvml=False))
    assert (w.tick(T0 + timedelta(minutes=2)).lines, w.lines_total) == (51, 51)  # the header is a line too
    with log.open("a") as fh:
        fh.write(rows(50, 20) + f"{T0.isoformat()},bad,m,v1,fast,200\n")
    tick = w.tick(T0 + timedelta(minutes=3))
    assert (tick.lines, tick.rejected) == (21, 1)
    bad = w.tails[0][2].quarantine.frame()
    assert bad["line"].to_list() == [72]  # its line in the file: header, 70 rows, then it
    assert sum(r.height for r in w.rows) == 70


def test_ok_means_the_rules_were_checked(project: Path) -> None:
    """Before any complete minute, or for a day older than the horizon, the status says no_data."""
    from obskit.config import load_config
    from obskit.watch import Watcher, WatchOptions

    _write(project / "logs" / "requests.jsonl", range(0, 5))
    cfg = load_config(project / "obskit.toml")
    late = Watcher(cfg, WatchOptions(host=False, nvml=False, state_dir=project / "a"))
    assert late.tick(T0 + timedelta(days=3)).status == "no_data"  # the log is older than the 26 h kept
    on_time = Watcher(cfg, WatchOptions(host=False, nvml=False, state_dir=project / "b"))
    assert on_time.tick(T0 + timedelta(minutes=5, seconds=1)).status == "ok"
    (project / "bare.toml").write_text("alerts = []\n" + CONFIG.split("[[alerts]]")[0])  # (no key: the defaults)
    bare = Watcher(load_config(project / "bare.toml"), WatchOptions(host=False, nvml=False, state_dir=project / "c"))
    assert bare.tick(T0 + timedelta(minutes=5, seconds=1)).status == "no_rules"
