"""``obskit watch`` keeping up with a live log: CPU, peak RSS and lag at a given line rate.

A writer appends request lines stamped with the current time at ``--rate`` lines per second
(in batches ten times a second) for ``--seconds``; ``obskit watch --interval`` follows the
file in a subprocess. Reported: the watcher's CPU time per second of wall time (1.0 = one
core), its peak RSS (VmHWM), and the largest lag its ``status.json`` showed (now minus the
newest request read, at each tick) after the first minute.

Run: ``PYTHONPATH=. python -m benchmarks.bench_watch --rate 1000 --seconds 120``; ``python -m
benchmarks --only watch`` gives the same at 1,000 and 10,000 lines/s as table rows (agreement:
every line written was read, and the lag stayed within the interval).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CONFIG = """
[project]
name = "bench-watch"
model = "m"

[sources.requests]
path = "logs/*.jsonl"
status_convention = "http"

[sources.requests.columns]
status_code = "code"

[[alerts]]
name = "errors"
signal = "error_rate"
comparison = ">"
threshold = 0.05
window = "5m"
interval = "1m"
for = "2m"
min_samples = 100

[[alerts]]
name = "slow"
signal = "latency_p99_ms"
comparison = ">"
threshold = 500
window = "5m"
interval = "1m"
for = "2m"
"""


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_watch(rate: int, seconds: float, interval: float, lag_after: float = 60.0) -> dict[str, float]:
    """One measurement (see the module doc)."""
    with tempfile.TemporaryDirectory(prefix="obskit-bench-watch-") as tmp:
        root = Path(tmp)
        (root / "logs").mkdir()
        log = root / "logs" / "requests.jsonl"
        log.touch()
        (root / "obskit.toml").write_text(CONFIG)
        proc = subprocess.Popen([sys.executable, "-m", "obskit.cli", "watch", "--config", str(root / "obskit.toml"),
                                 "--interval", f"{interval}s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rng = random.Random(0)
        start = time.monotonic()
        cpu0 = _cpu_s(proc.pid)
        lags: list[float] = []
        n = 0
        status = root / ".obskit" / "watch" / "status.json"
        with log.open("a") as fh:
            while (elapsed := time.monotonic() - start) < seconds:
                want = int(rate * elapsed) - n
                now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
                fh.write("".join(
                    json.dumps({"timestamp": now, "request_id": f"r{n + i}", "model": "m", "model_version": "v1",
                                "code": 500 if rng.random() < 0.01 else 200,
                                "latency_ms": round(rng.lognormvariate(3.5, 0.3), 3)}) + "\n"
                    for i in range(max(want, 0))))
                fh.flush()
                n += max(want, 0)
                if elapsed > lag_after and status.exists():
                    try:
                        lag = json.loads(status.read_text()).get("lag_s")
                    except ValueError:
                        lag = None
                    if lag is not None:
                        lags.append(float(lag))
                time.sleep(0.1)
        cpu = _cpu_s(proc.pid) - cpu0
        hwm = _hwm_mb(proc.pid)
        deadline = time.monotonic() + 2 * interval + 30  # one more tick reads the last lines
        read = 0
        while time.monotonic() < deadline:
            try:
                read = int(json.loads(status.read_text()).get("lines_total") or 0)
            except (OSError, ValueError):
                read = 0
            if read >= n:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        return {"rate": rate, "lines": n, "read": read, "seconds": seconds, "cores": cpu / seconds,
                "peak_rss_mb": hwm, "max_lag_s": max(lags) if lags else float("nan")}


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for ``python -m benchmarks``: the watcher keeps up (lag within the interval, every line read)."""
    plans = [(200, 12.0, 2.0, 4.0)] if quick else [(1000, 120.0, 15.0, 60.0), (10000, 120.0, 15.0, 60.0)]
    rows = []
    for rate, seconds, interval, lag_after in plans:
        r = measure_watch(rate, seconds, interval, lag_after)
        rows.append({"work": f"obskit watch at {rate:,} lines/s for {seconds:.0f} s ({r['cores']:.2f} cores)",
                     "obskit_s": round(r["max_lag_s"], 3), "obskit_peak_mb": round(r["peak_rss_mb"], 1),
                     "peer": "lag goal: one interval", "peer_s": interval, "peer_peak_mb": None,
                     "ratio": round(interval / max(r["max_lag_s"], 1e-3), 1),
                     "agree": r["read"] == r["lines"] and r["max_lag_s"] <= interval})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=int, action="append", default=None, help="lines per second (repeatable)")
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--interval", type=float, default=15.0)
    args = p.parse_args()
    for rate in args.rate or [1000, 10000]:
        r = measure_watch(rate, args.seconds, args.interval)
        print(f"{r['rate']:>6} lines/s: {r['lines']:,} lines in {r['seconds']:.0f} s; watcher {r['cores']:.2f} cores, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB, max lag {r['max_lag_s']:.1f} s (interval {args.interval:g} s)")


if __name__ == "__main__":
    main()
