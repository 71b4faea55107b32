"""Benchmark: loading JSONL request logs into the canonical ``requests`` frame.

Writes a day with ``obskit sample`` (1M requests; 100k in quick mode), decompresses its
``requests.jsonl.gz`` to a plain file, and compares, each in a fresh process:

- obskit ``load_requests`` (column mapping, timestamp parsing, status derivation,
  per-row validation with quarantine) — the target is <= 1.3x a bare polars read;
- ``polars.read_ndjson`` of the same file (no conversion; ``error`` typed as String, which
  a bare read needs because the first rows have no error message);
- ``polars.read_ndjson(infer_schema_length=None)``: polars reading every field of every line.
  The bare read infers its schema from the first 100 lines and then silently drops a field
  first seen later; obskit checks every line's keys instead (a count of key tokens per line,
  about 0.4 s of the 1M load), so this is the polars read that loses nothing too;
- ``pandas.read_json(lines=True)`` (median of fewer runs: it is slow).

Agreement: same row count, same latency sum, same number of errors.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._measure import measure

MAPPING = {"timestamp": "ts", "status_code": "http_status", "prediction": "pred_label"}


def obskit_side(path: str) -> list[float]:
    from obskit.load.logs import load_requests

    df = load_requests(path, columns=MAPPING, strict=True)
    return [df.height, round(float(df["latency_ms"].sum()), 3), int((df["status"] == "error").sum())]


def polars_side(path: str) -> list[float]:
    import polars as pl

    df = pl.read_ndjson(path, schema_overrides={"error": pl.String})
    return [df.height, round(float(df["latency_ms"].sum()), 3), int((df["http_status"] >= 400).sum())]


def polars_every_field(path: str) -> list[float]:
    import polars as pl

    df = pl.read_ndjson(path, infer_schema_length=None)
    return [df.height, round(float(df["latency_ms"].sum()), 3), int((df["http_status"] >= 400).sum())]


def pandas_side(path: str) -> list[float]:
    import pandas as pd

    df = pd.read_json(path, lines=True, dtype={"error": "object"})
    return [len(df), round(float(df["latency_ms"].sum()), 3), int((df["http_status"] >= 400).sum())]


def _prepare(n: int, folder: Path) -> Path:
    from obskit.sample import generate

    generate(folder, requests=n, seed=3, reference_rows=100)
    plain = folder / "requests.jsonl"
    with gzip.open(folder / "requests.jsonl.gz", "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return plain


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows comparing obskit's loader with polars and pandas on one file."""
    n = 100_000 if quick else 1_000_000
    runs = 1 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        path = _prepare(n, Path(tmp))
        size_mb = path.stat().st_size / 1e6
        ob = measure("benchmarks.bench_logs:obskit_side", [str(path)], runs)
        pol = measure("benchmarks.bench_logs:polars_side", [str(path)], runs)
        full = measure("benchmarks.bench_logs:polars_every_field", [str(path)], 1 if quick else 3)
        pdr = measure("benchmarks.bench_logs:pandas_side", [str(path)], 1 if quick else 2)
    work = f"load {n:,} JSONL requests ({size_mb:.0f} MB) to canonical frame"
    rows = []
    for peer, res in (("polars.read_ndjson (bare)", pol), ("polars.read_ndjson (every field)", full),
                      ("pandas.read_json(lines)", pdr)):
        rows.append({
            "work": work, "obskit_s": ob["s"], "obskit_peak_mb": ob["peak_mb"], "peer": peer,
            "peer_s": res["s"], "peer_peak_mb": res["peak_mb"], "ratio": res["s"] / ob["s"],
            "agree": ob["digest"] == res["digest"],
        })
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import table

    print(table(run()))
