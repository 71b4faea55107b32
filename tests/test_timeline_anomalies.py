"""Timeline rings: the detector's flag stays only where the window's requests carry the value."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from obskit.analyze.detect import flag_anomalies
from obskit.analyze.timeline import timeline_anomalies

T0 = datetime(2026, 11, 22, tzinfo=UTC)


def _frame(n: list[int], **cols: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"window_start": [T0 + timedelta(minutes=5 * i) for i in range(len(n))], "requests": n,
                         **cols})


def _rows(out: pl.DataFrame, col: str) -> list[int]:
    return out.with_row_index().filter(f"{col}_anomaly")["index"].to_list()


def test_one_error_after_zeros_is_no_anomaly_but_a_burst_is() -> None:
    err = [0.0] * 288
    err[240] = 1 / 66  # one error in 66 requests after a run of zeros
    tl = _frame([66] * 288, error_rate=err)
    assert _rows(flag_anomalies(tl, ["error_rate"]), "error_rate") == [240]  # the detector alone flags it
    assert _rows(timeline_anomalies(tl, ["error_rate"]), "error_rate") == []
    err[260] = 9 / 66  # nine errors: improbable at the pooled rate before it
    assert _rows(timeline_anomalies(_frame([66] * 288, error_rate=err), ["error_rate"]), "error_rate") == [260]


def test_one_slow_request_is_no_p99_anomaly_in_a_small_window() -> None:
    p99 = [30.0 + (i % 12) * 0.3 for i in range(288)]
    p95 = [v - 6 for v in p99]
    p99[200] = 390.0  # one slow request among 66: the p99 of 66 is nearly the slowest
    small = _frame([66] * 288, p99_ms=p99)
    stats = small.select("window_start", pl.Series("p95_ms", p95))
    assert _rows(flag_anomalies(small, ["p99_ms"]), "p99_ms") == [200]
    assert _rows(timeline_anomalies(small, ["p99_ms"], stats=stats), "p99_ms") == []
    p95[200] = 250.0  # many slow requests: its p95 is past the usual p99
    stats = small.select("window_start", pl.Series("p95_ms", p95))
    assert _rows(timeline_anomalies(small, ["p99_ms"], stats=stats), "p99_ms") == [200]
    big = _frame([600] * 288, p99_ms=p99)  # 600 requests carry a p99 on their own
    assert _rows(timeline_anomalies(big, ["p99_ms"]), "p99_ms") == [200]


def test_a_dropped_flag_does_not_hide_the_anomaly_after_it() -> None:
    err = [0.0] * 288
    err[200] = 1 / 66
    err[230] = 12 / 66  # within the refractory period of the dropped flag
    out = timeline_anomalies(_frame([66] * 288, error_rate=err), ["error_rate"])
    assert _rows(out, "error_rate") == [230]


@pytest.mark.parametrize("seed", [2, 4])
def test_a_clean_small_day_has_no_ring_and_an_incident_day_keeps_its_own(seed: int) -> None:
    from obskit.report import health
    from obskit.report.section import open_report
    from obskit.sample import generate

    found = {}
    for clean in (True, False):
        d = Path(tempfile.mkdtemp()) / "day"
        generate(d, requests=20_000, seed=seed, clean=clean, reference_rows=2000)
        rep = open_report(str(d / "obskit.toml"), output_dir=str(d / "out"))
        health.timeline(rep)
        found[clean] = rep.figures["timeline_anomalies"]
    assert found[True] == {}  # (seeds 2 and 4 each had a ring before the windows' evidence was asked)
    assert any(t.startswith("19:") for t in found[False].get("p99_ms", []))  # the GPU-memory incident's p99
