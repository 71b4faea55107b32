"""Run one benchmark side in a fresh subprocess: median wall time and peak RSS growth.

``measure("benchmarks.bench_logs:obskit_side", [path], runs=3)`` imports the function in a new
interpreter, calls it ``runs`` times, and reports the median seconds, the growth of the peak
resident set (VmHWM, reset before the first call; Linux) during the calls, and a JSON-able
digest of the last result (used to check that obskit and its peer agree).

With ``setup="module:func"``, ``setup(*args)`` runs once, untimed, and the timed call is
``target(state)``; with ``digest="module:func"`` the digest is ``digest(result)``, computed
after timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_WORKER = r"""
import importlib, json, statistics, sys, time
spec = json.loads(sys.argv[1])
def load(target):
    mod, fn = target.split(":")
    return getattr(importlib.import_module(mod), fn)
func = load(spec["target"])
args = spec["args"]
if spec.get("setup"):
    state = load(spec["setup"])(*args)
    call = lambda: func(state)
else:
    call = lambda: func(*args)
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
times, result = [], None
for _ in range(spec["runs"]):
    t0 = time.perf_counter()
    result = call()
    times.append(time.perf_counter() - t0)
peak = (kb("VmHWM:") - before) / 1024
digest = load(spec["digest"])(result) if spec.get("digest") else result
print(json.dumps({"s": statistics.median(times), "peak_mb": peak, "digest": digest}))
"""


def measure(
    target: str,
    args: list[Any],
    runs: int = 3,
    *,
    setup: str | None = None,
    digest: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Median seconds, peak MB growth and the last digest of ``target`` in a fresh process."""
    spec = {"target": target, "args": args, "runs": runs, "setup": setup, "digest": digest}
    out = subprocess.run(
        [sys.executable, "-c", _WORKER, json.dumps(spec)],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
