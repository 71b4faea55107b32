"""The sample day and the clean day, loaded once per test session for the analysis tests.

Loaders are cached (``functools.cache``) so that every ``tests/test_analyze_*.py`` module
shares one parse of each day; the clean day is generated into a temporary folder that is
removed when the interpreter exits.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from functools import cache
from pathlib import Path

import polars as pl

from obskit.config import load_config
from obskit.load.gpu import load_nvidia_smi
from obskit.load.logs import attach_feedback, load_feedback, load_requests
from obskit.load.prometheus_api import load_prometheus_json
from obskit.load.prometheus_text import load_prometheus_text
from obskit.sample import generate

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
_CLEAN = tempfile.TemporaryDirectory(prefix="obskit-clean-day-")


def t(text: object) -> datetime:
    """An ISO 8601 time of incidents.json as an aware datetime."""
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


@cache
def clean_dir() -> Path:
    """The clean day (seed 42, no incidents), generated once."""
    out = Path(_CLEAN.name)
    generate(out, clean=True, seed=42, reference_rows=2000)
    return out


def _requests(folder: Path) -> pl.DataFrame:
    cfg = load_config(folder / "obskit.toml")
    assert cfg.requests is not None and cfg.feedback is not None
    df = load_requests(cfg.requests.path, columns=cfg.requests.columns)
    return attach_feedback(df, load_feedback(cfg.feedback.path, columns=cfg.feedback.columns))


@cache
def requests(clean: bool = False) -> pl.DataFrame:
    """The requests frame of a day, with feedback attached."""
    return _requests(clean_dir() if clean else SAMPLES)


@cache
def gpu(clean: bool = False) -> pl.DataFrame:
    """The nvidia-smi log of a day."""
    return load_nvidia_smi((clean_dir() if clean else SAMPLES) / "gpu" / "nvidia-smi.csv")


@cache
def metrics(clean: bool = False) -> pl.DataFrame:
    """The saved query_range response of a day (Triton counters and gauges)."""
    return load_prometheus_json((clean_dir() if clean else SAMPLES) / "prometheus" / "query_range.json")


@cache
def scrapes() -> pl.DataFrame:
    """The hourly Triton scrapes of the sample day."""
    return load_prometheus_text(SAMPLES / "prometheus" / "scrapes")


@cache
def reference() -> pl.DataFrame:
    """The sample reference set."""
    return pl.read_parquet(SAMPLES / "reference.parquet")


@cache
def incidents() -> dict[str, dict[str, object]]:
    """The sample day's incidents by kind."""
    body = json.loads((SAMPLES / "incidents.json").read_text())
    return {i["kind"]: i for i in body["incidents"]}


def window(kind: str) -> tuple[datetime, datetime]:
    """Start and end of an incident of the sample day."""
    inc = incidents()[kind]
    return t(inc["start"]), t(inc["end"])
