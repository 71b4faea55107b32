"""End to end: a model service writes its log and serves /metrics, a real Prometheus scrapes it and
``obskit watch``; an error burst and a slowdown are notified once each, firing and resolved, across a
restart; ``obskit report`` over the same log afterwards lists the same alerts at the same times.

The service writes one simulated minute of requests per real half second (timestamps in the
past), so the test runs in about a minute; the watcher's ``--grace`` is long, so a minute is
complete only once a later line was read, as under steady traffic.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.prometheus_server import free_port, running_prometheus

pytestmark = pytest.mark.slow

INTERVAL_S = 1.0
MINUTE_S = 0.5  # real seconds per simulated minute
PER_MINUTE = 300

CONFIG = """
[project]
name = "watch-e2e"
model = "m"

[sources.requests]
path = "logs/*.jsonl"
status_convention = "http"

[sources.requests.columns]
status_code = "code"

[sources.prometheus]
url = "{url}"

[slo]
latency_ms = 250

[[alerts]]
name = "error-burst"
signal = "error_rate"
comparison = ">"
threshold = 0.05
window = "3m"
interval = "1m"
for = "2m"
min_samples = 100
severity = "page"

[[alerts]]
name = "slowdown"
signal = "latency_p99_ms"
comparison = ">"
threshold = 400
window = "3m"
interval = "1m"
for = "2m"
severity = "page"
"""


class _Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[float, dict]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append((time.monotonic(), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _phase(minute: int) -> tuple[float, float]:
    """(error share, latency scale) of a simulated minute: errors at 20-27, slow at 40-47."""
    if 20 <= minute < 27:
        return 0.3, 1.0
    if 40 <= minute < 47:
        return 0.0, 12.0
    return 0.005, 1.0


def _service(log: Path, t0: datetime, minutes: range, written: dict[int, float], errors_total: object,
             requests_total: object) -> None:
    rng = random.Random(minutes.start)
    for m in minutes:
        err, slow = _phase(m)
        lines = []
        for i in range(PER_MINUTE):
            ts = t0 + timedelta(minutes=m, seconds=i * 60 / PER_MINUTE)
            failed = rng.random() < err
            lines.append(json.dumps({"timestamp": ts.isoformat().replace("+00:00", "Z"), "request_id": f"r{m}-{i}",
                                     "model": "m", "model_version": "v1", "code": 500 if failed else 200,
                                     "latency_ms": round(rng.lognormvariate(3.5, 0.3) * slow, 3)}))
            requests_total.inc()  # type: ignore[attr-defined]
            if failed:
                errors_total.inc()  # type: ignore[attr-defined]
        with log.open("a") as fh:
            fh.write("\n".join(lines) + "\n")
        written[m] = time.monotonic()
        time.sleep(MINUTE_S)


def _wait_for(done: Any, timeout: float = 90.0) -> None:
    """Until ``done({(rule, state), ...})`` holds for the notifications received (a loaded machine is slow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done({(a["rule"], a["state"]) for _, body in list(_Receiver.got) for a in body["alerts"]}):
            return
        time.sleep(0.2)


def _watch(config: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "obskit.cli", "watch", "--config", str(config), "--interval", f"{INTERVAL_S}s",
         "--metrics-port", str(port), "--grace", "1000h"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_watch_notifies_once_survives_restart_and_agrees_with_the_report(tmp_path: Path) -> None:
    from prometheus_client import Counter

    from obskit.alerts.notify import alert_records
    from obskit.session import Session

    metrics_port = free_port()
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.got = []
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with running_prometheus(extra_targets=(f"127.0.0.1:{metrics_port}",)) as prom:
        requests_total = Counter("model_requests", "requests served", registry=prom.registry)
        errors_total = Counter("model_errors", "requests failed", registry=prom.registry)
        (tmp_path / "logs").mkdir()
        log = tmp_path / "logs" / "requests.jsonl"
        log.touch()
        config = tmp_path / "obskit.toml"
        config.write_text(CONFIG.format(url=prom.url))
        env = {**os.environ, "OBSKIT_ALERT_WEBHOOK": f"http://127.0.0.1:{receiver.server_port}/hook",
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        t0 = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
        written: dict[int, float] = {}
        watcher = _watch(config, metrics_port, env)
        try:
            _service(log, t0, range(0, 33), written, errors_total, requests_total)
            _wait_for(lambda got: ("error-burst", "firing") in got)
            # the error burst fired: the watcher is stopped (SIGTERM) and started again
            watcher.send_signal(signal.SIGTERM)
            out, _ = watcher.communicate(timeout=30)
            assert watcher.returncode == 0, out.decode()[-2000:]
            before_restart = len(_Receiver.got)
            # Prometheus scraped the watcher's signals while it ran
            body = prom.raw("/api/v1/query", query='max_over_time(obskit_alert_state{rule="error-burst"}[5m])')
            assert body["data"]["result"] and float(body["data"]["result"][0]["value"][1]) == 2.0
            body = prom.raw("/api/v1/query", query="max_over_time(obskit_error_rate[5m])")
            assert body["data"]["result"], "obskit_error_rate was not scraped"
            watcher = _watch(config, metrics_port, env)
            _service(log, t0, range(33, 60), written, errors_total, requests_total)
            _wait_for(lambda got: ("slowdown", "resolved") in got and ("error-burst", "resolved") in got)
            time.sleep(3 * INTERVAL_S)  # a few more ticks: a duplicate would arrive now
        finally:
            watcher.send_signal(signal.SIGTERM)
            out, _ = watcher.communicate(timeout=30)
        assert watcher.returncode == 0, out.decode()[-2000:]
        receiver.shutdown()

    sent = [(at, a) for at, body in _Receiver.got for a in body["alerts"]]
    assert before_restart >= 1
    by = {(a["rule"], a["state"]) for _, a in sent}
    assert by == {("error-burst", "firing"), ("error-burst", "resolved"), ("slowdown", "firing"),
                  ("slowdown", "resolved")}, sent
    assert len(sent) == 4, [(a["rule"], a["state"], a["firing_at"]) for _, a in sent]  # each once: no duplicate
    for at, a in sent:
        if a["state"] != "firing":
            continue
        # notified within one interval + 30 s of the data that made it fire being written
        complete = datetime.fromisoformat(a["complete_at"].replace("Z", "+00:00"))
        minute = int((complete - t0) / timedelta(minutes=1)) - 1
        assert at - written[minute] <= INTERVAL_S + 30, (a["rule"], at - written[minute])
        assert a["subject"] is not None and a["summary"]
    # the report over the same log afterwards: the same alerts at the same times
    report = {(r["rule"], r["firing_at"], r["resolved_at"]) for r in alert_records(Session.open(config).alerts())}
    watched = {(a["rule"], a["firing_at"]) for _, a in sent if a["state"] == "firing"}
    resolved = {(a["rule"], a["firing_at"], a["resolved_at"]) for _, a in sent if a["state"] == "resolved"}
    assert {(r, f) for r, f, _ in report} == watched
    assert {x for x in report if x[2] is not None} == resolved
