"""Run one benchmark side in a fresh subprocess: median wall time and peak RSS growth.

``measure("benchmarks.bench_logs:obskit_side", [path], runs=3)`` imports the function in a new
interpreter, calls it ``runs`` times, and reports the median seconds and the growth of the
peak resident set (VmHWM, reset before the first call; Linux) during the calls, plus the
JSON-able digest the function returned on its last call (used to check agreement).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_WORKER = r"""
import importlib, json, statistics, sys, time
target, args, runs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
mod, fn = target.split(":")
func = getattr(importlib.import_module(mod), fn)
def kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
before = kb("VmRSS:")
times, digest = [], None
for _ in range(runs):
    t0 = time.perf_counter()
    digest = func(*args)
    times.append(time.perf_counter() - t0)
print(json.dumps({"s": statistics.median(times), "peak_mb": (kb("VmHWM:") - before) / 1024, "digest": digest}))
"""


def measure(target: str, args: list[Any], runs: int = 3, timeout: float | None = None) -> dict[str, Any]:
    """Median seconds, peak MB and the last digest of ``target(*args)`` in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _WORKER, target, json.dumps(args), str(runs)],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=timeout,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
