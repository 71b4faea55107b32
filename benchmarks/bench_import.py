"""Benchmark: the cost of ``import obskit``, lazy namespace vs the eager one it replaced.

Before the curated namespace, ``obskit/__init__.py`` imported :class:`obskit.Session` eagerly,
which pulled in polars, the config, the alert rules and the loaders' quarantine (29 modules).
Now every public name is imported on first use. Both sides run in fresh interpreters
(median of N runs, wall time of the whole ``python -c``, so the interpreter's own start is in
both): "lazy" is ``import obskit``; "eager" is ``import obskit; obskit.Session`` — exactly
the old import set. The empty-interpreter start is printed too, as the floor.

Run: ``python -m benchmarks --only import``
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

_PROBE = ("import sys, time, json; t = time.perf_counter(); {stmt}; "
          "print(json.dumps([time.perf_counter() - t, len([m for m in sys.modules if m.startswith('obskit')]), "
          "len(sys.modules)]))")


def _time(stmt: str, runs: int) -> dict[str, float]:
    walls, inner, n_obskit, n_all = [], [], 0, 0
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _PROBE.format(stmt=stmt)], capture_output=True, text=True,
                             check=True)
        walls.append(time.perf_counter() - t0)
        s, n_obskit, n_all = json.loads(out.stdout)
        inner.append(s)
    return {"wall_s": statistics.median(walls), "import_s": statistics.median(inner), "obskit_modules": n_obskit,
            "modules": n_all}


def run(quick: bool = False) -> list[dict[str, Any]]:
    """One row: lazy ``import obskit`` against the eager import set it replaced."""
    runs = 3 if quick else 9
    floor = _time("pass", runs)
    lazy = _time("import obskit", runs)
    eager = _time("import obskit; obskit.Session", runs)
    print(f"interpreter start {floor['wall_s']:.3f} s; import obskit: lazy {lazy['import_s']:.3f} s "
          f"({lazy['obskit_modules']} obskit modules, {lazy['modules']} in all), eager {eager['import_s']:.3f} s "
          f"({eager['obskit_modules']} obskit modules, {eager['modules']} in all)", file=sys.stderr)
    return [{
        "work": f"import obskit ({lazy['obskit_modules']} vs {eager['obskit_modules']} obskit modules)",
        "obskit_s": round(lazy["import_s"], 4),
        "obskit_peak_mb": None,
        "peer": "eager import (before)",
        "peer_s": round(eager["import_s"], 4),
        "peer_peak_mb": None,
        "ratio": round(eager["import_s"] / max(lazy["import_s"], 1e-6), 1),
        "agree": lazy["obskit_modules"] < eager["obskit_modules"],
    }]


if __name__ == "__main__":
    from benchmarks.__main__ import table

    print(table(run(quick="--quick" in sys.argv)))
