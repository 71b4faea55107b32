"""Tests of obskit.evidently_report: Evidently's own drift page from polars frames."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from obskit.errors import AnalysisError, MissingDependencyError
from obskit.evidently_report import evidently_drift_report


def _frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(0)
    ref = pl.DataFrame(
        {
            "x": rng.normal(0, 1, 400),
            "width": rng.choice([224, 640], 400),
            "client": rng.choice(["ios", "web"], 400),
            "request_id": [f"r{i}" for i in range(400)],  # text: not part of the report
        }
    )
    cur = pl.DataFrame(
        {
            "x": rng.normal(1, 1, 300),
            "width": rng.choice([224, 640], 300),
            "client": rng.choice(["ios", "web"], 300),
            "request_id": [f"c{i}" for i in range(300)],
        }
    )
    return ref, cur


def test_writes_evidently_html_with_sampling_stated(tmp_path: Path) -> None:
    ref, cur = _frames()
    out = tmp_path / "sub" / "drift.html"
    info = evidently_drift_report(ref, cur, out, max_rows=250, seed=3)
    assert info.path == out and out.is_file()
    assert out.stat().st_size > 100_000 and info.bytes == out.stat().st_size
    page = out.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html")
    # Evidently's own markup: its dashboard renderer and its drift widgets.
    assert "window.drawDashboard" in page
    assert "Dataset Drift" in page
    assert info.columns == ("x", "width", "client")
    assert info.numerical_columns == ("x",) and info.categorical_columns == ("width", "client")
    assert (info.n_reference, info.n_current, info.n_reference_total, info.n_current_total) == (250, 250, 400, 300)
    assert info.sampled
    assert 'id="obskit-sampling-note"' in page
    assert "250 of 400 reference rows and 250 of 300 current rows" in page
    assert not list(out.parent.glob(".*.tmp"))  # no temporary file left behind


def test_no_sampling_is_stated_too(tmp_path: Path) -> None:
    ref, cur = _frames()
    info = evidently_drift_report(ref, cur, tmp_path / "d.html", columns=["x"])
    assert not info.sampled and (info.n_reference, info.n_current) == (400, 300)
    assert "no sampling" in (tmp_path / "d.html").read_text(encoding="utf-8")


def test_missing_evidently_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "evidently" or name.startswith("evidently."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    ref, cur = _frames()
    with pytest.raises(MissingDependencyError, match="evidently"):
        evidently_drift_report(ref, cur, tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_bad_input(tmp_path: Path) -> None:
    ref, cur = _frames()
    with pytest.raises(AnalysisError, match="empty"):
        evidently_drift_report(ref, cur.head(0), tmp_path / "x.html")
    with pytest.raises(AnalysisError, match="missing"):
        evidently_drift_report(ref, cur.drop("x"), tmp_path / "x.html", columns=["x"])
    with pytest.raises(AnalysisError, match="kind"):
        evidently_drift_report(ref, cur, tmp_path / "x.html", columns=["request_id"])
