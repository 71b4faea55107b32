"""One entry point for every comparison: ``python -m benchmarks [--quick] [--only NAME] [--json F]``.

Each ``benchmarks/bench_*.py`` module exposes ``run(quick: bool) -> list[dict]`` with rows
``{work, obskit_s, obskit_peak_mb, peer, peer_s, peer_peak_mb, ratio, agree}``. The table is
printed and the rows are saved as JSON (with the machine and versions) for comparison over time.
Quick mode uses small sizes and checks agreement only, never speed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'work':<44} {'obskit s':>9} {'MB':>6} {'peer':<26} {'peer s':>9} {'MB':>6} {'ratio':>7} agree"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['work'][:44]:<44} {_fmt(r.get('obskit_s'), '9.3f')} {_fmt(r.get('obskit_peak_mb'), '6.0f')} "
            f"{str(r.get('peer', ''))[:26]:<26} {_fmt(r.get('peer_s'), '9.3f')} {_fmt(r.get('peer_peak_mb'), '6.0f')} "
            f"{_fmt(r.get('ratio'), '6.1f')}x {'yes' if r.get('agree') else 'NO'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--quick", action="store_true", help="small sizes; checks agreement only")
    p.add_argument("--only", action="append", default=[], help="run only bench_NAME (repeatable)")
    p.add_argument("--json", type=Path, default=Path("benchmarks/results/latest.json"))
    args = p.parse_args(argv)
    names = sorted(f.stem for f in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only or n in args.only]
    rows: list[dict[str, Any]] = []
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(mod.run(quick=args.quick))
    print(table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {"when": datetime.now(UTC).isoformat(), "quick": args.quick, "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count()}
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, default=str) + "\n")
    if args.quick and not all(r.get("agree") for r in rows):
        print("disagreement between obskit and a peer", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
