"""The benchmarks' quick mode runs in CI: every comparison must agree with its peer.

Speed is never asserted here (machines are noisy); `make bench` measures it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_quick_benchmarks_agree_with_their_peers(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
                       capture_output=True, text=True, cwd=REPO, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = json.loads(out.read_text())["rows"]
    works = " ".join(row["work"] for row in rows)
    for name in ("column_drift", "JSONL", "Triton-like scrape", "per 5 min by version", "nightly scale pipeline",
                 "explorer", "stream window stats", "obskit watch"):
        assert name in works, name
    assert all(row["agree"] for row in rows), [row for row in rows if not row["agree"]]
