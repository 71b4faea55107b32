"""Charts embed aggregated frames only, and their specs are safe inside HTML."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from obskit import charts
from obskit.analyze.distributions import distributions

T0 = datetime(2026, 11, 22, tzinfo=UTC)


def _frame(n: int = 12) -> pl.DataFrame:
    return pl.DataFrame({
        "window_start": [T0 + timedelta(minutes=5 * i) for i in range(n)],
        "p50_ms": np.linspace(10, 12, n), "p99_ms": [30.0] * (n - 1) + [float("nan")],
        "error_rate": [0.0] * n, "rps": [1.0] * n,
    })


def test_lines_chart_embeds_one_row_per_window() -> None:
    spec = charts.latency_chart(_frame(), columns=("p50_ms", "p99_ms"), slo_ms=120).to_dict()
    values = spec["layer"][0]["data"]["values"]
    assert len(values) == 12  # wide rows, folded in the browser
    assert set(values[0]) == {"window_start", "_seg", "p50_ms", "p99_ms"}  # _seg: a path per run between gaps
    assert values[0]["window_start"] == int(T0.timestamp() * 1000)  # epoch ms
    assert values[-1]["p99_ms"] is None  # NaN becomes null, valid JSON
    assert spec["layer"][0]["transform"][0]["fold"] == ["p50_ms", "p99_ms"]


def test_hostile_strings_cannot_close_the_script_element() -> None:
    f = pl.DataFrame({"window_start": [T0], "model_version": ["</script><script>alert(1)</script>"],
                      "p99_ms": [1.0]})
    html = charts.spec_html(charts.lines_chart(f, ["p99_ms"], color_by="model_version"))
    assert "</script><script>" not in html
    spec = json.loads(html.split('data-target="')[1].split('">', 1)[1].rsplit("</script>", 1)[0])
    assert spec["data"]["values"][0]["model_version"] == "</script><script>alert(1)</script>"


def test_distributions_share_bins_and_sum_to_one() -> None:
    rng = np.random.default_rng(0)
    ref = pl.DataFrame({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b", "c"], 5000)})
    cur = pl.DataFrame({"x": rng.normal(1, 1, 3000), "c": rng.choice(["a", "b", "d"], 3000)})
    d = distributions(ref, cur, "x", bins=10)
    assert d.height == 10 and abs(d["reference"].sum() - 1) < 1e-9 and abs(d["current"].sum() - 1) < 1e-9
    assert d["current"][-1] > d["reference"][-1]  # shifted right
    c = distributions(ref, cur, "c")
    assert set(c["bin"]) == {"a", "b", "c", "d"}
    spec = charts.distribution_chart(d).to_dict()
    assert len(spec["data"]["values"]) == 20  # long: reference and current per bin


def test_timeline_and_heatmap_build() -> None:
    f = _frame()
    assert "vconcat" in charts.timeline_chart(f, {"rps": "req/s", "p99_ms": "p99"}).to_dict()
    h = pl.DataFrame({"window_start": [T0, T0], "column": ["a", "b"], "statistic": [0.1, 0.5],
                      "obskit_drifted": [False, True]})
    assert "layer" in charts.heatmap_chart(h).to_dict()
