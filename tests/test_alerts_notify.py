"""Webhook delivery against a local HTTP server: retries, failures kept, Slack format, no secrets leak."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import polars as pl
import pytest

from obskit.alerts import AlertRun, WebhookNotifier, alerts_json, evaluate, parse_rules, redact_url

T0 = datetime(2026, 11, 22, 8, tzinfo=UTC)
SECRET_PATH = "T0AAA/B0BBB/pathsecret123"
SECRET_QUERY = "querysecret456"
SECRET_HEADER = "headersecret789"


@dataclass
class Hook:
    """A loopback webhook answering with a scripted list of statuses (last one repeats)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    def url(self, secret: bool = True) -> str:
        if secret:
            return f"http://127.0.0.1:{self.port}/services/{SECRET_PATH}?token={SECRET_QUERY}"
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
            status = state.statuses[min(len(state.requests) - 1, len(state.statuses) - 1)]
            if state.delay:
                time.sleep(state.delay)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def run() -> AlertRun:
    ws = pl.DataFrame({
        "window_start": [T0 + timedelta(minutes=i) for i in range(8)] * 2,
        "model_version": ["v1"] * 8 + ["v2"] * 8,
        "requests": [100] * 16,
        "errors": [*[0, 5, 6, 7, 0, 0, 0, 0], *[0, 0, 0, 0, 0, 3, 4, 5]],
    })
    rules = parse_rules([
        {"name": "high-errors", "signal": "error_rate", "comparison": ">", "threshold": 0.01, "for": "1m",
         "by": ["model_version"], "severity": "page",
         "summary": "error rate {value:.1%} on {model_version} for {duration}"},
        {"name": "drift", "signal": "kl_divergence", "comparison": ">", "threshold": 0.3},
    ])
    return evaluate(rules, {"window_stats": ws})


def _notifier(hook: Hook, **kw: Any) -> WebhookNotifier:
    kw.setdefault("backoff", 0.01)
    return WebhookNotifier(hook.url(), headers={"Authorization": f"Bearer {SECRET_HEADER}"}, **kw)


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (SECRET_PATH, "pathsecret123", SECRET_QUERY, SECRET_HEADER):
            assert secret not in text, text


def test_delivers_json(hook: Hook, run: AlertRun) -> None:
    report = _notifier(hook).deliver(run)
    assert report.ok and len(report.deliveries) == 2
    assert all(d.attempts == 1 and d.status == 200 for d in report.deliveries)
    [req] = hook.requests
    assert req["headers"]["Authorization"] == f"Bearer {SECRET_HEADER}"
    assert req["headers"]["Content-Type"] == "application/json"
    body = req["body"]
    assert body["source"] == "obskit"
    alerts = {a["labels"]["model_version"]: a for a in body["alerts"]}
    assert set(alerts) == {"v1", "v2"}
    v1 = alerts["v1"]
    assert v1["rule"] == "high-errors" and v1["severity"] == "page" and v1["state"] == "resolved"
    assert v1["start"] == "2026-11-22T08:02:00Z" and v1["resolved_at"] == "2026-11-22T08:04:00Z"
    assert v1["value"] == pytest.approx(0.07) and v1["threshold"] == 0.01
    assert v1["summary"] == "error rate 7.0% on v1 for 2m"
    assert alerts["v2"]["state"] == "firing" and alerts["v2"]["resolved_at"] is None


def test_retries_after_500_then_succeeds(hook: Hook, run: AlertRun) -> None:
    hook.statuses = [500, 503, 200]
    report = _notifier(hook, retries=3).deliver(run)
    assert report.ok
    assert [d.attempts for d in report.deliveries] == [3, 3]
    assert len(hook.requests) == 3


def test_always_500_is_reported_and_the_alert_kept(hook: Hook, run: AlertRun, caplog: pytest.LogCaptureFixture) -> None:
    hook.statuses = [500]
    caplog.set_level(logging.DEBUG, logger="obskit.alerts")
    notifier = _notifier(hook, retries=2)
    report = notifier.deliver(run)
    assert not report.ok and len(report.failed) == 2
    assert len(hook.requests) == 3
    assert report.deliveries[0].reason.startswith("HTTP 500") and report.deliveries[0].status == 500
    doc = alerts_json(run, report)
    assert doc["counts"]["fired"] == 2 and len(doc["alerts"]) == 2
    assert {a["delivery"]["status"] for a in doc["alerts"]} == {"failed"}
    assert doc["delivery"] == {"target": f"http://127.0.0.1:{hook.port}/…", "ok": False, "delivered": 0,
                               "failed": 2}
    assert {s["rule"] for s in doc["skipped"]} == {"drift"}
    text = json.dumps(doc)
    _assert_no_secret(caplog.text, text, repr(notifier), repr(report), str(report.deliveries))
    assert "attempt 3 of 3 failed: HTTP 500" in caplog.text


def test_4xx_is_not_retried(hook: Hook, run: AlertRun) -> None:
    hook.statuses = [403]
    report = _notifier(hook, retries=3).deliver(run)
    assert not report.ok and len(hook.requests) == 1
    assert report.deliveries[0].attempts == 1 and report.deliveries[0].status == 403


def test_timeout(hook: Hook, run: AlertRun, caplog: pytest.LogCaptureFixture) -> None:
    hook.delay = 1.0
    caplog.set_level(logging.INFO, logger="obskit.alerts")
    report = _notifier(hook, timeout=0.2, retries=1).deliver(run)
    assert not report.ok
    assert report.deliveries[0].reason == "timeout after 0.2s" and report.deliveries[0].attempts == 2
    _assert_no_secret(caplog.text, repr(report))


def test_connection_refused_keeps_alerts(run: AlertRun, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there any more
    notifier = WebhookNotifier(f"http://127.0.0.1:{port}/x/{SECRET_PATH}?token={SECRET_QUERY}",
                               headers={"X-Token": SECRET_HEADER}, retries=1, backoff=0.01)
    report = notifier.deliver(run)
    assert not report.ok and report.deliveries[0].reason.startswith("connection failed")
    doc = alerts_json(run, report)
    assert len(doc["alerts"]) == 2
    _assert_no_secret(caplog.text, json.dumps(doc), repr(notifier), repr(report))


def test_slack_text(hook: Hook, run: AlertRun) -> None:
    report = _notifier(hook, slack=True).deliver(run)
    assert report.ok
    body = hook.requests[0]["body"]
    assert set(body) == {"text"}
    lines = body["text"].splitlines()
    assert lines[0] == "obskit: 2 alerts"
    assert "*[PAGE]* high-errors (resolved at 2026-11-22T08:04:00Z, started 2026-11-22T08:02:00Z): " \
           "error rate 7.0% on v1 for 2m" in lines
    assert any(line.startswith("*[PAGE]* high-errors (firing since 2026-11-22T08:06:00Z)") for line in lines)


def test_nothing_to_send(hook: Hook) -> None:
    empty = evaluate([], {})
    report = _notifier(hook).deliver(empty)
    assert report.ok and report.deliveries == [] and hook.requests == []
    doc = alerts_json(empty)
    assert doc["alerts"] == [] and doc["delivery"] is None


def test_alerts_json_without_delivery(run: AlertRun) -> None:
    doc = alerts_json(run)
    assert doc["period"] == {"start": "2026-11-22T08:00:00Z", "end": "2026-11-22T08:07:00Z"}
    assert doc["counts"]["by_severity"] == {"page": 2} and doc["counts"]["firing_now"] == 1
    assert {a["delivery"]["status"] for a in doc["alerts"]} == {"not_sent"}
    ids = [a["id"] for a in doc["alerts"]]
    assert len(set(ids)) == 2 and ids == [a["id"] for a in alerts_json(run)["alerts"]]
    json.dumps(doc, allow_nan=False)


def test_bad_url_never_echoes_secrets() -> None:
    with pytest.raises(ValueError) as info:
        WebhookNotifier(f"ftp://host/{SECRET_PATH}")
    _assert_no_secret(str(info.value))
    assert redact_url("https://u:p@hooks.slack.com:8443/services/x?y=z") == "https://hooks.slack.com:8443/…"
