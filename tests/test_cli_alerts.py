"""CLI: alert rule check/export, and --notify delivery from a report's alerts.json."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from obskit.cli import _notify, main
from tests.conftest import require_binary

RECORD = {"id": "a1", "rule": "high-error-rate", "severity": "page", "labels": {}, "value": 0.07,
          "summary": "error rate 7.00%", "firing_at": "2026-11-22T08:22:00Z"}


def test_check_and_export_the_sample_rules(samples_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "check", "--config", str(samples_dir / "obskit.toml")]) == 0
    assert "27 alert rule(s) OK" in capsys.readouterr().out
    out = tmp_path / "rules.yml"
    assert main(["alerts", "export", "--config", str(samples_dir / "obskit.toml"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "not exported: feature-drift" in err
    promtool = require_binary("promtool")
    r = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_bad_rule_in_config_names_the_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "obskit.toml"
    cfg.write_text('[[alerts]]\nname = "x"\nsignal = "eror_rate"\ncomparison = ">"\nthreshold = 1\n')
    assert main(["alerts", "check", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert "alert rule 'x': unknown signal 'eror_rate'" in err and len(err.splitlines()) == 1


class _Hook(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []
    auth: ClassVar[list[str]] = []
    status = 200

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(json.loads(self.rfile.read(n)))
        type(self).auth.append(self.headers.get("Authorization", ""))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.bodies, _Hook.auth, _Hook.status = [], [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-path"
    server.shutdown()


def _alerts_file(tmp_path: Path) -> Path:
    path = tmp_path / "alerts.json"
    path.write_text(json.dumps({"counts": {"fired": 1}, "alerts": [dict(RECORD)]}))
    return path


def test_notify_posts_and_records_delivery(tmp_path: Path, hook: str, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OBSKIT_ALERT_WEBHOOK", hook)
    monkeypatch.setenv("OBSKIT_ALERT_WEBHOOK_TOKEN", "s3cr3t-token")
    path = _alerts_file(tmp_path)
    _notify(path, slack=True)
    assert _Hook.auth == ["Bearer s3cr3t-token"]
    assert "high-error-rate" in _Hook.bodies[0]["text"]
    saved = path.read_text()
    assert json.loads(saved)["alerts"][0]["delivery"]["status"] == "delivered"
    out = capsys.readouterr()
    assert "s3cr3t" not in saved + out.out + out.err and "secret-path" not in saved + out.out + out.err


def test_failed_delivery_keeps_the_alert(tmp_path: Path, hook: str, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _Hook.status = 500
    monkeypatch.setenv("OBSKIT_ALERT_WEBHOOK", hook)
    path = _alerts_file(tmp_path)
    _notify(path, slack=False)
    alert = json.loads(path.read_text())["alerts"][0]
    assert alert["rule"] == "high-error-rate" and alert["delivery"]["status"] == "failed"
    assert "not delivered; kept in" in capsys.readouterr().err


def test_notify_without_url_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBSKIT_ALERT_WEBHOOK", raising=False)
    from obskit.errors import ConfigError

    with pytest.raises(ConfigError, match="OBSKIT_ALERT_WEBHOOK"):
        _notify(_alerts_file(tmp_path), slack=False)
    assert shutil.which("python3")


def test_report_fail_on_alert_exits_3_and_notifies(tmp_path: Path, hook: str, samples_dir: Path) -> None:
    import os
    import sys

    env = {**os.environ, "OBSKIT_ALERT_WEBHOOK": hook}
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "report", "--config", str(samples_dir / "obskit.toml"),
                        "--out", str(tmp_path), "--fail-on-alert", "--notify"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 3, r.stderr
    assert "12 alert(s) fired" in r.stderr and "notify: 12 alert(s) delivered" in r.stdout
    assert len(_Hook.bodies) == 1 and len(_Hook.bodies[0]["alerts"]) == 12
    # each alert says what it is about: the burst's message, the canary's version, the GPU
    subjects = [a["subject"] for a in _Hook.bodies[0]["alerts"]]
    assert {"error": "model instance unavailable (restarting)", "status_code": "503"} in subjects
    assert {"model_version": "v1.5.0"} in subjects
    assert any(s.get("gpu") == "0" for s in subjects)
    alerts = json.loads((tmp_path / "2026-11-22" / "alerts.json").read_text())
    assert all(a["delivery"]["status"] == "delivered" for a in alerts["alerts"])
